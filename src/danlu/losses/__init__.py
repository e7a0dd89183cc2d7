"""Keras 3 losses on PyTorch: classes (``nn.Module``s with reduction and ``sample_weight``)
and snake_case functions returning per-sample values.

>>> import danlu
>>> danlu.losses.BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
tensor(0.8149)
"""

from __future__ import annotations

import inspect

from danlu._identifiers import unknown_identifier_error
from danlu.losses.base import Loss, LossFunctionWrapper, Reduction, reduce_weighted_values
from danlu.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
)
from danlu.losses.focal import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
)
from danlu.losses.hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from danlu.losses.probabilistic import (
    CategoricalGeneralizedCrossEntropy,
    KLDivergence,
    Poisson,
    categorical_generalized_cross_entropy,
    kl_divergence,
    poisson,
)
from danlu.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from danlu.losses.segmentation import Dice, Tversky, dice, tversky
from danlu.losses.sequence import CTC, ctc
from danlu.losses.similarity import Circle, circle
from danlu.losses.sparse import SparseCategoricalCrossentropy, sparse_categorical_crossentropy

LOSS_CLASSES = (
    Loss, LossFunctionWrapper,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    CosineSimilarity, Huber, LogCosh,
    BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
    KLDivergence, Poisson, CategoricalGeneralizedCrossEntropy,
    Hinge, SquaredHinge, CategoricalHinge, Dice, Tversky, CTC, Circle,
)
LOSS_FUNCTIONS = (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh,
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, sparse_categorical_crossentropy,
    kl_divergence, poisson, categorical_generalized_cross_entropy,
    hinge, squared_hinge, categorical_hinge, dice, tversky, ctc, circle,
)
ALIASES = {
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "kld": kl_divergence, "KLD": kl_divergence,
    # tf.keras 2.x spellings
    "logcosh": log_cosh, "huber_loss": huber, "kullback_leibler_divergence": kl_divergence,
}
#: Every string ``get`` resolves: class names (-> an instance), function names and aliases.
IDENTIFIERS = {
    **{cls.__name__: cls for cls in LOSS_CLASSES if cls not in (Loss, LossFunctionWrapper)},
    **{fn.__name__: fn for fn in LOSS_FUNCTIONS},
    **ALIASES,
}


def serialize(loss):
    """A JSON-able description of a loss: ``{"class_name": ..., "config": ...}`` for a `Loss`
    instance, the function's name for a built-in loss function."""
    if isinstance(loss, Loss):
        return {"module": "danlu.losses", "class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss) and getattr(loss, "__name__", None) in IDENTIFIERS:
        return loss.__name__
    raise ValueError(
        f"Cannot serialize loss={loss!r}: expected a danlu.losses.Loss instance or a built-in "
        "loss function. Give custom losses a get_config() by subclassing Loss."
    )


def deserialize(config, custom_objects=None):
    """Inverse of `serialize`; also reads Keras 3's ``{"class_name", "config", "module",
    "registered_name"}`` dictionaries. ``custom_objects`` maps extra names to classes or
    functions."""
    known = {**IDENTIFIERS, "Loss": Loss, "LossFunctionWrapper": LossFunctionWrapper, **(custom_objects or {})}
    if isinstance(config, str):
        if config not in known:
            raise unknown_identifier_error("loss", config, IDENTIFIERS)
        obj = known[config]
        return obj() if inspect.isclass(obj) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A loss config is a name or a dict with 'class_name' and 'config'; received {config!r}.")
    class_name = config["class_name"]
    if class_name == "function":  # Keras' form for a plain function
        return deserialize(config["config"], custom_objects)
    if class_name not in known or not inspect.isclass(known[class_name]):
        raise unknown_identifier_error("loss class", class_name, [c.__name__ for c in LOSS_CLASSES])
    cls = known[class_name]
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """Resolve a loss identifier, as Keras' ``keras.losses.get``.

    ``None`` -> ``None``; a class name (``"BinaryCrossentropy"``) -> a default instance; a
    function name or alias (``"mse"``, ``"binary_crossentropy"``) -> the function; a config
    dict -> an instance; a `Loss` class -> an instance; any other callable -> itself.
    Unknown names raise ``ValueError`` naming the closest valid one.
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret loss identifier {identifier!r} of type {type(identifier).__name__}: "
        "expected a name, a config dict, a Loss instance or a callable."
    )


__all__ = [
    "ALIASES", "IDENTIFIERS", "Reduction", "deserialize", "get", "reduce_weighted_values", "serialize",
    *(cls.__name__ for cls in LOSS_CLASSES),
    *(fn.__name__ for fn in LOSS_FUNCTIONS),
]
