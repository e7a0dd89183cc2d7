"""``get_config`` and ``dtype`` against Keras 3.15.1: the same config keys and values for every
metric class, round trips that add nothing, and ``dtype=`` in Keras' spellings."""

import numpy as np
import pytest
import torch

from danlu import metrics
from tests.metrics.keras_cases import binary, keras_metric, normal, one_hot, probabilities, sparse
from tests.oracle import to_numpy

REQUIRED = {
    "PrecisionAtRecall": {"recall": 0.5}, "RecallAtPrecision": {"precision": 0.5},
    "SensitivityAtSpecificity": {"specificity": 0.5}, "SpecificityAtSensitivity": {"sensitivity": 0.5},
    "IoU": {"num_classes": 3, "target_class_ids": [1]}, "MeanIoU": {"num_classes": 3},
    "OneHotIoU": {"num_classes": 3, "target_class_ids": [1]}, "OneHotMeanIoU": {"num_classes": 3},
}
#: Non-default settings, so that each config entry is checked with a value of its own.
SETTINGS = {
    "AUC": {"num_thresholds": 11, "curve": "PR", "summation_method": "minoring", "multi_label": True, "num_labels": 3,
            "label_weights": [0.5, 1.0, 2.0], "from_logits": True},
    "Precision": {"thresholds": [0.2, 0.6], "top_k": 2, "class_id": 1}, "Recall": {"thresholds": 0.7, "class_id": 0},
    "TruePositives": {"thresholds": [0.1, 0.9]}, "FBetaScore": {"average": "macro", "beta": 2.0, "threshold": 0.4},
    "F1Score": {"average": "weighted"}, "R2Score": {"class_aggregation": None, "num_regressors": 2},
    "BinaryAccuracy": {"threshold": 0.3}, "TopKCategoricalAccuracy": {"k": 3},
    "SparseTopKCategoricalAccuracy": {"k": 2, "from_sorted_ids": True},
    "BinaryCrossentropy": {"from_logits": True, "label_smoothing": 0.1},
    "CategoricalCrossentropy": {"label_smoothing": 0.2, "axis": 1},
    "SparseCategoricalCrossentropy": {"ignore_class": 0, "from_logits": True},
    "PearsonCorrelation": {"axis": 0}, "BinaryIoU": {"target_class_ids": [1], "threshold": 0.3},
    "IoU": {"num_classes": 3, "target_class_ids": [1, 2], "ignore_class": 0, "sparse_y_pred": False},
    "PrecisionAtRecall": {"recall": 0.4, "num_thresholds": 9, "class_id": 2},
}
CLASSES = [cls.__name__ for cls in metrics.METRIC_CLASSES]


def build(name, extra=None):
    kwargs = {**REQUIRED.get(name, {}), **(extra or {}), "name": "m"}
    return getattr(metrics, name)(**kwargs), kwargs


def plain(value):
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@pytest.mark.oracle
@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("settings", ["defaults", "custom"])
def test_config_has_keras_keys_and_values(name, settings):
    ours, kwargs = build(name, SETTINGS.get(name) if settings == "custom" else None)
    theirs = keras_metric(name, kwargs).get_config()
    config = ours.get_config()
    if name == "CosineSimilarity":  # Keras drops `axis` (documented in CosineSimilarity)
        assert config.pop("axis") == -1
    assert set(config) == set(theirs)
    assert {k: plain(v) for k, v in config.items()} == {k: plain(v) for k, v in theirs.items()}


@pytest.mark.parametrize("name", CLASSES)
def test_config_round_trip_adds_nothing(name):
    ours, _ = build(name, SETTINGS.get(name))
    config = ours.get_config()
    again = type(ours).from_config(config)
    assert type(again) is type(ours) and again.get_config() == config
    restored = metrics.deserialize(metrics.serialize(ours))
    assert type(restored) is type(ours) and restored.get_config() == config
    assert metrics.get(metrics.serialize(ours)).get_config() == config


@pytest.mark.oracle
@pytest.mark.parametrize("name", CLASSES)
def test_a_keras_config_builds_the_same_metric(name):
    _, kwargs = build(name, SETTINGS.get(name))
    keras_config = {k: plain(v) for k, v in keras_metric(name, kwargs).get_config().items()}
    assert getattr(metrics, name).from_config(keras_config).get_config().items() >= keras_config.items()


def test_wrapped_functions_keep_their_name_in_the_config():
    wrapper = metrics.MeanMetricWrapper(metrics.binary_accuracy, name="acc", threshold=0.3)
    config = wrapper.get_config()
    assert config == {"name": "acc", "dtype": "float32", "fn": "binary_accuracy", "threshold": 0.3}
    again = metrics.MeanMetricWrapper.from_config(config)
    assert again.fn is metrics.binary_accuracy and again([[1.0], [0.0]], [[0.4], [0.2]]).item() == 1.0


# --- dtype ------------------------------------------------------------------------------------

DTYPE_CASES = [
    ("Mean", None, normal), ("Sum", None, normal), ("BinaryAccuracy", binary, probabilities),
    ("SparseCategoricalAccuracy", sparse, probabilities), ("MeanSquaredError", normal, normal),
    ("RootMeanSquaredError", normal, normal), ("CategoricalCrossentropy", one_hot, probabilities),
    ("PearsonCorrelation", normal, normal), ("R2Score", normal, normal), ("Precision", binary, probabilities),
    ("AUC", binary, probabilities), ("TruePositives", binary, probabilities), ("F1Score", one_hot, probabilities),
    ("FBetaScore", one_hot, probabilities), ("MeanIoU", sparse, sparse), ("BinaryIoU", binary, probabilities),
    ("PrecisionAtRecall", binary, probabilities),
]
#: Keras returns float32 from these for dtype="float64" (its divide_no_nan); danlu keeps float64.
FLOAT64_RESULTS = {"Mean", "BinaryAccuracy", "SparseCategoricalAccuracy", "MeanSquaredError", "RootMeanSquaredError",
                   "CategoricalCrossentropy", "PearsonCorrelation"}


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16", torch.float64, np.float16])
@pytest.mark.parametrize("name,true_kind,pred_kind", DTYPE_CASES, ids=[c[0] for c in DTYPE_CASES])
def test_dtype_as_keras_takes_it(name, true_kind, pred_kind, dtype):
    rng = np.random.default_rng(3)
    kwargs = {**REQUIRED.get(name, {}), **({"num_classes": 4} if "IoU" in name and name != "BinaryIoU" else {})}
    ours = getattr(metrics, name)(dtype=dtype, **kwargs)
    keras_dtype = dtype if isinstance(dtype, str) else {torch.float64: "float64", np.float16: "float16"}[dtype]
    theirs = keras_metric(name, {**kwargs, "dtype": keras_dtype})
    assert ours.dtype == theirs.dtype == keras_dtype
    shape = (8,) if name == "BinaryIoU" else (8, 4)
    for batch in range(2):
        y_pred = pred_kind(rng, shape)
        weight = rng.uniform(0, 2, size=8).astype(np.float32) if batch else None
        args = (y_pred,) if true_kind is None else (true_kind(rng, shape), y_pred)
        ours.update_state(*args, sample_weight=weight)
        theirs.update_state(*args, sample_weight=weight)
    tolerance = {"float32": 1e-5, "float64": 1e-5}.get(keras_dtype, 2e-2)
    np.testing.assert_allclose(to_numpy(ours.result().float()), to_numpy(theirs.result().float()),
                               rtol=tolerance, atol=tolerance)
    expected = str(theirs.result().dtype).removeprefix("torch.")
    if keras_dtype == "float64" and name in FLOAT64_RESULTS:
        expected = "float64"
    assert str(ours.result().dtype).removeprefix("torch.") == expected
    assert [str(v.dtype).removeprefix("torch.") for v in ours.variables] == [v.dtype for v in theirs.variables]


def test_dtype_spellings():
    assert metrics.Mean().dtype == "float32"
    assert metrics.Mean(dtype=torch.bfloat16).dtype == "bfloat16"
    assert metrics.Mean(dtype="mixed_float16").dtype == "float16"
    assert metrics.MeanIoU(2).dtype == "int32"
    assert metrics.Mean(dtype="float64").result().dtype == torch.float64
    with pytest.raises(ValueError, match='Did you mean "float32"'):
        metrics.Mean(dtype="flaot32")
    with pytest.raises(TypeError, match="dtype"):
        metrics.Mean(dtype=object())


@pytest.mark.oracle
@pytest.mark.parametrize("name", CLASSES)
def test_direction_is_keras(name):
    ours, kwargs = build(name)
    theirs = keras_metric(name, kwargs)
    # Keras sets none on Mean, Sum, KLDivergence, Poisson ("down" here) nor on TruePositives /
    # TrueNegatives, where more is better: danlu says "up" for those two.
    expected = "up" if name in ("TruePositives", "TrueNegatives") else getattr(theirs, "_direction", "down")
    assert ours.direction == expected


def test_default_names_are_keras():
    names = {metrics.IoU(2, [0]): "io_u", metrics.MeanIoU(2): "mean_io_u", metrics.BinaryIoU(): "binary_io_u",
             metrics.AUC(): "auc", metrics.TruePositives(): "true_positives", metrics.Precision(): "precision",
             metrics.PrecisionAtRecall(0.5): "precision_at_recall", metrics.LogCoshError(): "logcosh"}
    assert {m.name for m in names} == set(names.values()) and all(m.name == n for m, n in names.items())
