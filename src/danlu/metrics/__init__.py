"""Keras-named stateful metrics whose state stays on the device (no host sync per update).

``update_state(y_true, y_pred, sample_weight=None)``, ``result()``, ``reset_state()``;
``state_dict()`` / ``load_state_dict()`` / ``merge_state()`` for exact resume and replicas.
Custom metrics subclass `Metric` and create their state with ``add_variable`` (see `Metric`).
"""

from __future__ import annotations

import inspect

from danlu._identifiers import snake_case, unknown_identifier_error
from danlu.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from danlu.metrics.at_threshold import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from danlu.metrics.auc import AUC
from danlu.metrics.confusion import FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives, TruePositives
from danlu.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from danlu.metrics.f_score import F1Score, FBetaScore
from danlu.metrics.hinge import CategoricalHinge, Hinge, SquaredHinge
from danlu.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from danlu.metrics.metric import Metric
from danlu.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from danlu.metrics.reduction import Mean, MeanMetricWrapper, Sum
from danlu.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)
from danlu.metrics.torchmetrics import TorchMetric, is_torchmetric

METRIC_CLASSES = (
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, AUC, Precision, Recall, PrecisionAtRecall, RecallAtPrecision,
    SensitivityAtSpecificity, SpecificityAtSensitivity, F1Score, FBetaScore, TruePositives, FalsePositives,
    TrueNegatives, FalseNegatives, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, RootMeanSquaredError, R2Score, CosineSimilarity, LogCoshError,
    PearsonCorrelation, ConcordanceCorrelation, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
    IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)
_FUNCTIONS = {
    fn.__name__: fn for fn in (
        accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
        top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, pearson_correlation, concordance_correlation,
    )
}
IDENTIFIERS = {
    **{cls.__name__: cls for cls in METRIC_CLASSES},
    **{snake_case(_cls.__name__): _cls for _cls in METRIC_CLASSES},
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "rmse": RootMeanSquaredError, "auc": AUC,
}
#: Names resolved from the shapes of the first batch, as Keras does.
SHAPE_DEPENDENT = {"accuracy", "acc", "crossentropy", "ce"}


def serialize(metric) -> dict:
    """``{"class_name": ..., "config": metric.get_config()}`` (Keras' layout)."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    """The metric a `serialize` dict describes; ``class_name`` is looked up among the
    metric classes (then ``custom_objects``), never among the losses of the same name."""
    known = {**{cls.__name__: cls for cls in (*METRIC_CLASSES, MeanMetricWrapper)}, **(custom_objects or {})}
    name = config.get("class_name")
    if name not in known:
        raise unknown_identifier_error("metric class", str(name), known)
    return known[name].from_config(dict(config.get("config") or {}))


def get(identifier):
    """A metric from a Keras name (``"mse"``, ``"AUC"``, ``"precision"``, ...), a `serialize`
    dict, a class, an instance, a function ``(y_true, y_pred) -> values`` (wrapped in a
    mean) or a ``torchmetrics.Metric`` instance (wrapped in `TorchMetric`). ``"accuracy"`` /
    ``"acc"`` / ``"crossentropy"`` depend on the data: see `resolve`."""
    if isinstance(identifier, Metric):
        return identifier
    if is_torchmetric(identifier):  # a torchmetrics.Metric instance (the `torchmetrics` extra)
        return TorchMetric(identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return MeanMetricWrapper(_FUNCTIONS[identifier], name=identifier)
        if identifier not in IDENTIFIERS:
            raise unknown_identifier_error("metric", identifier, [*IDENTIFIERS, *_FUNCTIONS, *SHAPE_DEPENDENT])
        return IDENTIFIERS[identifier]()
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(f"Could not interpret metric identifier {identifier!r} of type {type(identifier).__name__}.")


def resolve(identifier, y_true, y_pred):
    """Keras' ``get_metric``: "accuracy"/"acc" (and "crossentropy"/"ce") become the binary,
    sparse or categorical variant by the shapes of ``y_true`` and ``y_pred``: one output
    column -> binary; labels of lower rank (or one label column against several) -> sparse;
    otherwise categorical. The metric keeps the name it was given."""
    if isinstance(identifier, str) and identifier.lower() in SHAPE_DEPENDENT:
        binary = y_pred.shape[-1] == 1 if y_pred.ndim else True
        sparse = y_true.ndim < y_pred.ndim or (y_true.ndim and y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
        if identifier.lower() in ("accuracy", "acc"):
            cls = BinaryAccuracy if binary else SparseCategoricalAccuracy if sparse else CategoricalAccuracy
        else:
            cls = BinaryCrossentropy if binary else SparseCategoricalCrossentropy if sparse else CategoricalCrossentropy
        return cls(name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


__all__ = [
    "IDENTIFIERS", "SHAPE_DEPENDENT", "deserialize", "get", "resolve", "serialize",
    *(cls.__name__ for cls in METRIC_CLASSES), "Metric", "MeanMetricWrapper", "TorchMetric", *_FUNCTIONS,
]
