"""IoU, correlation, F-score, R2 and the mean-of-a-function metrics against Keras 3.15.1
(torch backend): three batches (the last two weighted), result and state compared."""

import zlib

import numpy as np
import pytest

from danlu import metrics
from tests.metrics.keras_cases import (
    assert_same_state_and_result,
    binary,
    feed,
    keras_metric,
    normal,
    one_hot,
    probabilities,
    random_batches,
    sparse,
    tied,
    weights,
    zero_weights,
)

pytestmark = pytest.mark.oracle


def integer_weights(rng, shape):
    return rng.integers(0, 3, size=shape[:1]).astype(np.float32)


def integer_map_weights(rng, shape):
    """Integer-valued weights of the labels' full shape (IoU flattens both)."""
    return rng.integers(0, 3, size=shape).astype(np.float32)


def map_weights(rng, shape):
    return rng.uniform(0, 2, size=shape).astype(np.float32)


def column_weights(rng, shape):
    """One weight per value of the reduced axis 0 (metrics with ``axis=0``)."""
    return rng.uniform(0, 2, size=shape[-1:]).astype(np.float32)


def positive(rng, shape):
    return rng.uniform(0.1, 3.0, size=shape).astype(np.float32)


def distributions(rng, shape):
    p = rng.uniform(0.01, 1.0, size=shape).astype(np.float32)
    return p / p.sum(-1, keepdims=True)


def labels_with_outliers(rng, shape):
    """Class ids of shape (N, 4) out of 4 classes plus -1 and 4 (out of range: left out)."""
    return rng.integers(-1, 5, size=shape).astype(np.int64)


def class_ids(rng, shape):
    return rng.integers(0, shape[-1], size=shape).astype(np.int64)


# (name, kwargs, y_true maker, y_pred maker, weight maker)
CASES = [
    ("MeanIoU", {"num_classes": 4}, class_ids, class_ids, integer_map_weights),
    ("MeanIoU", {"num_classes": 4, "dtype": "float32"}, class_ids, class_ids, map_weights),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 0}, labels_with_outliers, labels_with_outliers, integer_map_weights),
    ("MeanIoU", {"num_classes": 4, "sparse_y_pred": False}, sparse, probabilities, integer_weights),
    ("MeanIoU", {"num_classes": 6, "dtype": "float32"}, class_ids, class_ids, map_weights),  # classes never seen
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, class_ids, class_ids, integer_map_weights),
    ("IoU", {"num_classes": 4, "target_class_ids": [3], "ignore_class": 3, "dtype": "float32"}, class_ids, class_ids,
     map_weights),
    ("IoU", {"num_classes": 4, "target_class_ids": [1], "sparse_y_true": False, "sparse_y_pred": False}, one_hot,
     probabilities, integer_weights),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [1, 3]}, one_hot, probabilities, integer_weights),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [0], "sparse_y_pred": True, "dtype": "float32"}, one_hot,
     sparse, None),
    ("OneHotMeanIoU", {"num_classes": 4}, one_hot, probabilities, integer_weights),
    ("OneHotMeanIoU", {"num_classes": 4, "ignore_class": 2, "dtype": "float32"}, one_hot, probabilities, None),
    ("BinaryIoU", {}, binary, probabilities, integer_map_weights),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, binary, tied, integer_map_weights),
    ("BinaryIoU", {"target_class_ids": [0], "dtype": "float32"}, binary, probabilities, map_weights),
    ("PearsonCorrelation", {}, normal, normal, None),
    ("PearsonCorrelation", {"axis": 0}, normal, normal, column_weights),
    ("ConcordanceCorrelation", {}, normal, normal, None),
    ("ConcordanceCorrelation", {"axis": 0}, normal, normal, column_weights),
    ("F1Score", {}, one_hot, probabilities, None),
    ("F1Score", {"average": "micro"}, one_hot, tied, None),
    ("F1Score", {"average": "macro", "threshold": 0.5}, one_hot, probabilities, None),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, one_hot, probabilities, None),
    ("FBetaScore", {"beta": 0.5, "threshold": 1.0}, one_hot, tied, None),
    ("FBetaScore", {"average": "micro", "beta": 3.0, "threshold": 0.3}, binary, probabilities, zero_weights),
    ("R2Score", {}, normal, normal, None),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, normal, normal, None),
    ("R2Score", {"class_aggregation": None, "num_regressors": 3}, normal, normal, None),
    ("RootMeanSquaredError", {}, normal, normal, None),
    ("MeanSquaredError", {}, normal, normal, None),
    ("MeanAbsoluteError", {}, normal, normal, None),
    ("MeanAbsolutePercentageError", {}, normal, normal, None),
    ("MeanSquaredLogarithmicError", {}, positive, positive, None),
    ("LogCoshError", {}, normal, normal, None),
    ("CosineSimilarity", {}, normal, normal, None),
    ("CosineSimilarity", {"axis": 0}, normal, normal, column_weights),
    ("KLDivergence", {}, distributions, distributions, None),
    ("Poisson", {}, positive, positive, None),
    ("Hinge", {}, binary, normal, None),
    ("SquaredHinge", {}, binary, normal, None),
    ("CategoricalHinge", {}, one_hot, normal, None),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, binary, probabilities, None),
    ("BinaryCrossentropy", {"from_logits": True}, binary, normal, None),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, one_hot, normal, None),
    ("SparseCategoricalCrossentropy", {}, sparse, distributions, None),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse, normal, None),
    ("Accuracy", {}, tied, tied, None),
    ("BinaryAccuracy", {"threshold": 0.5}, binary, tied, None),
    ("CategoricalAccuracy", {}, one_hot, tied, None),
    ("SparseCategoricalAccuracy", {}, sparse, tied, None),
    ("TopKCategoricalAccuracy", {"k": 2}, one_hot, tied, None),
    ("SparseTopKCategoricalAccuracy", {"k": 1}, sparse, tied, None),
]


def case_id(case):
    return f"{case[0]}-{case[1]}-{case[3].__name__}"


@pytest.mark.filterwarnings("ignore:You are passing weight as `float`")  # integer-valued float weights, int state
@pytest.mark.parametrize("name,kwargs,true_kind,pred_kind,weight_kind", CASES, ids=[case_id(c) for c in CASES])
def test_matches_keras_over_weighted_batches(name, kwargs, true_kind, pred_kind, weight_kind):
    rng = np.random.default_rng(zlib.crc32(case_id((name, kwargs, true_kind, pred_kind)).encode()))
    ours, theirs = getattr(metrics, name)(**kwargs), keras_metric(name, kwargs)
    feed(ours, theirs, random_batches(rng, true_kind, pred_kind, weight_kind=weight_kind or weights))
    assert_same_state_and_result(ours, theirs)


def test_iou_with_fractional_weights_truncates_them_as_keras():
    # Keras' int32 state converts weights 0.7 and 1.9 to 0 and 1, with a warning; so does danlu.
    y_true, y_pred, weight = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), np.array([0.7, 1.9, 1.0, 2.5], np.float32)
    ours, theirs = metrics.MeanIoU(3), keras_metric("MeanIoU", {"num_classes": 3})
    with pytest.warns(UserWarning, match="float"):
        feed(ours, theirs, [(y_true, y_pred, weight)])
    assert_same_state_and_result(ours, theirs)
    assert ours.total_cm.tolist() == [[0, 0, 0], [0, 1, 1], [0, 0, 2]]


def test_iou_takes_one_weight_per_sample_of_segmentation_maps():
    # Keras fails on (batch,) weights for (batch, H, W) maps; danlu spreads each over its map.
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, (2, 4, 4)), rng.integers(0, 3, (2, 4, 4))
    per_sample = metrics.MeanIoU(3, dtype="float32")
    per_sample.update_state(y_true, y_pred, sample_weight=np.array([2.0, 0.5], np.float32))
    per_pixel = metrics.MeanIoU(3, dtype="float32")
    per_pixel.update_state(y_true, y_pred, sample_weight=np.repeat([2.0, 0.5], 16).reshape(2, 4, 4).astype(np.float32))
    np.testing.assert_array_equal(per_sample.total_cm.numpy(), per_pixel.total_cm.numpy())


def test_sparse_crossentropy_leaves_ignored_samples_out_of_the_mean():
    rng = np.random.default_rng(1)
    y_true, y_pred = sparse(rng, (12, 4)), distributions(rng, (12, 4))
    y_true[:5] = 1
    weight = rng.uniform(0.5, 2, 12).astype(np.float32)
    ours = metrics.SparseCategoricalCrossentropy(ignore_class=1)
    theirs = keras_metric("SparseCategoricalCrossentropy", {"ignore_class": 1})
    feed(ours, theirs, [(y_true, y_pred, weight), (y_true[::-1].copy(), y_pred, weight[::-1].copy()),
                        (y_true[:, None], y_pred, weight[:, None])])  # labels and weights (N, 1)
    assert_same_state_and_result(ours, theirs)  # with weights Keras leaves them out too
    # Without weights Keras divides by every sample; danlu by the unignored ones (its loss does).
    unweighted = metrics.SparseCategoricalCrossentropy(ignore_class=1)
    unweighted.update_state(y_true, y_pred)
    reference = keras_metric("SparseCategoricalCrossentropy", {"ignore_class": 1})
    reference.update_state(y_true, y_pred, sample_weight=np.ones(12, np.float32))
    np.testing.assert_allclose(unweighted.result().numpy(), reference.result().cpu().numpy(), rtol=1e-6)
    assert float(unweighted.count) == float((y_true != 1).sum())


def test_f_score_validation_matches_keras():
    for kwargs, match in [({"average": "mean"}, "average"), ({"beta": 0.0}, "beta"), ({"beta": "2"}, "beta"),
                          ({"threshold": 1.5}, "threshold"), ({"threshold": 0.0}, "threshold")]:
        with pytest.raises(ValueError, match=match):
            metrics.FBetaScore(**kwargs)
    with pytest.raises(ValueError, match="2D"):
        metrics.F1Score().update_state(np.zeros(4), np.zeros(4))
    assert metrics.FBetaScore(beta=2).beta == 2.0  # Keras insists on a float; danlu takes the int


def test_iou_validation():
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(num_classes=3, target_class_ids=[0, 3])
    with pytest.raises(ValueError, match="2D"):
        metrics.R2Score().update_state(np.zeros(4), np.zeros(4))
