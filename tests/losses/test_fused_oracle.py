"""The fused fast path (torch tensors in, PyTorch's loss kernels) against Keras 3.15.1.

The other oracle tests pass numpy arrays, which take the per-sample path; these pass torch
tensors, which take the fused one, and compare values and gradients, 2-D and 3-D, every
reduction, with and without ``sample_weight``, probabilities at exactly 0 and 1, label
smoothing, ``ignore_class``, class axes other than the last, a batch of one.
"""

import zlib

import numpy as np
import pytest
import torch

import danlu
from tests.losses.test_keras_oracle import (
    ATOL,
    REDUCTIONS,
    RTOL,
    binary,
    distributions,
    keras_loss,
    normal,
    one_hot,
    probabilities,
    sparse,
)
from tests.oracle import keras, to_numpy

pytestmark = pytest.mark.oracle

# (class name, kwargs, y_true maker, y_pred maker): every loss with a fused form, and the
# configurations its form covers or hands back (delta=0, categorical probabilities).
FUSED_CASES = [
    ("MeanSquaredError", {}, normal, normal),
    ("MeanAbsoluteError", {}, normal, normal),
    ("Huber", {}, normal, lambda r, s: normal(r, s, 2.0)),
    ("Huber", {"delta": 0.3}, normal, lambda r, s: normal(r, s, 2.0)),
    ("Huber", {"delta": 0.0}, normal, normal),
    ("Poisson", {}, lambda r, s: r.poisson(2.0, s).astype(np.float32), lambda r, s: np.abs(normal(r, s)) + 0.1),
    ("KLDivergence", {}, distributions, probabilities),
    ("KLDivergence", {}, probabilities, probabilities),
    ("BinaryCrossentropy", {}, binary, probabilities),
    ("BinaryCrossentropy", {}, probabilities, probabilities),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, binary, probabilities),
    ("BinaryCrossentropy", {"from_logits": True}, binary, lambda r, s: normal(r, s, 4.0)),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary, normal),
    ("CategoricalCrossentropy", {"from_logits": True}, one_hot, lambda r, s: normal(r, s, 3.0)),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, one_hot, normal),
    ("CategoricalCrossentropy", {"from_logits": True}, distributions, normal),
    ("CategoricalCrossentropy", {}, one_hot, probabilities),
    ("SparseCategoricalCrossentropy", {}, sparse, probabilities),
    ("SparseCategoricalCrossentropy", {}, sparse, distributions),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse, lambda r, s: normal(r, s, 3.0)),
]
SHAPES = [(5, 4), (1, 4), (2, 3, 4)]


def case_id(case):
    name, kwargs, *_ = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def tensors(case, shape):
    name, kwargs, make_true, make_pred = case
    rng = np.random.default_rng(zlib.crc32(f"{case_id(case)}{shape}".encode()))
    return torch.as_tensor(make_true(rng, shape)), torch.as_tensor(make_pred(rng, shape)), rng


def assert_close(actual, expected):
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=RTOL, atol=ATOL)


def values_and_gradient(loss, y_true, y_pred, sample_weight=None):
    y_pred = y_pred.clone().requires_grad_(True)
    value = loss(y_true, y_pred, sample_weight=sample_weight)
    value.sum().backward()
    return value.detach(), y_pred.grad


def assert_matches_keras(name, kwargs, y_true, y_pred, reduction, sample_weight=None):
    ours = getattr(danlu.losses, name)(**kwargs, reduction=reduction)
    theirs = keras_loss(name, kwargs, reduction=reduction)
    our_value, our_grad = values_and_gradient(ours, y_true, y_pred, sample_weight)
    their_value, their_grad = values_and_gradient(theirs, y_true, y_pred, sample_weight)
    assert_close(our_value, their_value)
    assert_close(our_grad, their_grad)


@pytest.mark.parametrize("case", FUSED_CASES, ids=[case_id(c) for c in FUSED_CASES])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_tensor_inputs_match_keras_values_and_gradients(case, shape, reduction):
    name, kwargs, *_ = case
    y_true, y_pred, rng = tensors(case, shape)
    assert_matches_keras(name, kwargs, y_true, y_pred, reduction)
    values_shape = shape[:-1]
    weights = torch.as_tensor(rng.uniform(0, 2, size=values_shape).astype(np.float32))
    weights.reshape(-1)[0] = 0.0
    assert_matches_keras(name, kwargs, y_true, y_pred, reduction, sample_weight=weights)


@pytest.mark.parametrize("name, kwargs", [("MeanSquaredError", {}), ("BinaryCrossentropy", {"from_logits": True}),
                                          ("SparseCategoricalCrossentropy", {"from_logits": True})])
def test_scalar_and_column_weights_match_keras(name, kwargs):
    case = next(c for c in FUSED_CASES if c[:2] == (name, kwargs))
    y_true, y_pred, rng = tensors(case, (6, 3))
    for weights in (torch.tensor(0.5), torch.as_tensor(rng.uniform(0, 1, size=(6, 1)).astype(np.float32))):
        for reduction in ("sum_over_batch_size", "sum", "none"):
            assert_matches_keras(name, kwargs, y_true, y_pred, reduction, sample_weight=weights)


@pytest.mark.parametrize("name, kwargs", [("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("Huber", {}),
                                          ("Poisson", {}), ("BinaryCrossentropy", {}),
                                          ("BinaryCrossentropy", {"from_logits": True})])
def test_rank_one_and_label_column_inputs_match_keras(name, kwargs):
    case = next(c for c in FUSED_CASES if c[:2] == (name, kwargs))
    y_true, y_pred, _ = tensors(case, (6, 1))
    for reduction in ("sum_over_batch_size", "sum", "none"):
        assert_matches_keras(name, kwargs, y_true[:, 0], y_pred, reduction)  # labels (B,), predictions (B, 1)
        assert_matches_keras(name, kwargs, y_true[:, 0], y_pred[:, 0], reduction)  # both rank 1: one value


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (2, 5, 4)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_ignore_class_with_tensors_matches_keras(from_logits, shape, reduction):
    rng = np.random.default_rng(11)
    y_pred = torch.as_tensor(normal(rng, shape) if from_logits else probabilities(rng, shape))
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    labels.reshape(-1)[[0, 3, 4]] = -1
    kwargs = {"from_logits": from_logits, "ignore_class": -1}
    assert_matches_keras("SparseCategoricalCrossentropy", kwargs, torch.as_tensor(labels), y_pred, reduction)
    weights = torch.as_tensor(rng.uniform(0, 1, size=shape[:-1]).astype(np.float32))
    assert_matches_keras("SparseCategoricalCrossentropy", kwargs, torch.as_tensor(labels), y_pred, reduction, weights)
    everything_ignored = torch.full(shape[:-1], -1)
    ours = danlu.losses.SparseCategoricalCrossentropy(**kwargs, reduction=reduction)
    theirs = keras().losses.SparseCategoricalCrossentropy(**kwargs, reduction=reduction)
    assert_close(ours(everything_ignored, y_pred), theirs(everything_ignored, y_pred))


def test_sparse_labels_as_float_columns_and_int32_match_keras():
    rng = np.random.default_rng(12)
    y_pred = torch.as_tensor(normal(rng, (6, 3)))
    labels = rng.integers(0, 3, size=(6, 1))
    for y_true in (torch.as_tensor(labels, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.int32)):
        for reduction in ("sum_over_batch_size", "none"):
            assert_matches_keras("SparseCategoricalCrossentropy", {"from_logits": True}, y_true, y_pred, reduction)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_class_axis_other_than_last_matches_keras(from_logits):
    rng = np.random.default_rng(13)
    y_pred = normal(rng, (2, 4, 3)) if from_logits else distributions(rng, (2, 3, 4)).transpose(0, 2, 1)
    labels = torch.as_tensor(rng.integers(0, 4, size=(2, 3)))
    kwargs = {"from_logits": from_logits, "axis": 1}
    for reduction in ("sum_over_batch_size", "sum", "none"):
        assert_matches_keras("SparseCategoricalCrossentropy", kwargs, labels, torch.as_tensor(np.ascontiguousarray(y_pred)), reduction)
    labels_2d = torch.as_tensor(rng.integers(0, 4, size=(3,)))
    first_axis = torch.as_tensor(normal(rng, (4, 3)))  # classes on axis 0
    assert_matches_keras("SparseCategoricalCrossentropy", {"from_logits": True, "axis": 0}, labels_2d, first_axis, "sum_over_batch_size")


@pytest.mark.parametrize("kwargs", [{"from_logits": True, "axis": 1}, {"from_logits": True, "axis": 1, "label_smoothing": 0.2},
                                    {"from_logits": True, "axis": 0}])
def test_categorical_class_axis_other_than_last_matches_keras(kwargs):
    rng = np.random.default_rng(14)
    shape = (2, 4, 3) if kwargs["axis"] == 1 else (4, 3)
    labels = rng.integers(0, 4, size=tuple(d for i, d in enumerate(shape) if i != kwargs["axis"]))
    y_true = np.moveaxis(np.eye(4, dtype=np.float32)[labels], -1, kwargs["axis"])
    y_pred = torch.as_tensor(normal(rng, shape))
    for reduction in ("sum_over_batch_size", "sum", "none"):
        assert_matches_keras("CategoricalCrossentropy", kwargs, torch.as_tensor(np.ascontiguousarray(y_true)), y_pred, reduction)


@pytest.mark.parametrize("axis", [0, 1, -2])
@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_axis_matches_keras(axis, from_logits):
    rng = np.random.default_rng(15)
    shape = (3, 4, 5)
    y_true = torch.as_tensor(binary(rng, shape))
    y_pred = torch.as_tensor(normal(rng, shape) if from_logits else probabilities(rng, shape))
    for reduction in ("sum_over_batch_size", "sum", "none"):
        assert_matches_keras("BinaryCrossentropy", {"from_logits": from_logits, "axis": axis}, y_true, y_pred, reduction)


@pytest.mark.parametrize("case", FUSED_CASES[:14], ids=[case_id(c) for c in FUSED_CASES[:14]])
def test_float64_float16_and_integer_tensors_follow_keras_dtype_rule(case):
    """Keras computes every loss in its dtype (float32 by default), whatever the inputs' dtype."""
    name, kwargs, *_ = case
    y_true, y_pred, _ = tensors(case, (4, 3))
    theirs = keras_loss(name, kwargs)
    for cast in (torch.float64, torch.float16):
        ours = getattr(danlu.losses, name)(**kwargs)(y_true.to(cast), y_pred.to(cast))
        expected = theirs(y_true.to(cast), y_pred.to(cast))
        assert ours.dtype == expected.dtype == torch.float32
        assert_close(ours, expected)
    integer_true = y_true.round().to(torch.int64)
    ours = getattr(danlu.losses, name)(**kwargs)(integer_true, y_pred.double())
    assert ours.dtype == torch.float32
    assert_close(ours, theirs(integer_true, y_pred.double()))


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "float16"])
@pytest.mark.parametrize("name, kwargs", [("MeanSquaredError", {}), ("BinaryCrossentropy", {}),
                                          ("SparseCategoricalCrossentropy", {"from_logits": True})])
def test_dtype_argument_matches_keras(dtype, name, kwargs):
    case = next(c for c in FUSED_CASES if c[:2] == (name, kwargs))
    y_true, y_pred, _ = tensors(case, (4, 3))
    # Away from 0 and 1: in float16 Keras' 1 - 1e-7 rounds to 1, which danlu's float32 math avoids.
    y_pred = y_pred.clamp(0.01, 0.99)
    ours = getattr(danlu.losses, name)(**kwargs, dtype=dtype, reduction="none")
    theirs = keras_loss(name, kwargs, dtype=dtype, reduction="none")
    assert ours.dtype == theirs.dtype == dtype
    ours_value, theirs_value = ours(y_true, y_pred), theirs(y_true, y_pred)
    assert ours_value.dtype == theirs_value.dtype
    tolerance = 1e-7 if dtype == "float64" else 1e-2  # half precision: Keras rounds every step
    np.testing.assert_allclose(ours_value.float().numpy(), theirs_value.float().numpy(), rtol=tolerance, atol=tolerance)
    # Keras' sum_over_batch_size comes back in float32 for a float64 loss (a defect); danlu keeps float64.
    mean = getattr(danlu.losses, name)(**kwargs, dtype=dtype)(y_true, y_pred)
    assert mean.dtype == getattr(torch, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_categorical_focal_per_class_alpha_matches_keras(reduction):
    rng = np.random.default_rng(16)
    alpha = [0.1, 0.6, 0.3, 2.0]
    for kwargs, make_pred in (({"alpha": alpha}, distributions), ({"alpha": alpha, "from_logits": True}, normal),
                              ({"alpha": alpha, "gamma": 0.5, "label_smoothing": 0.1}, probabilities)):
        for shape in ((5, 4), (2, 3, 4)):
            y_true, y_pred = one_hot(rng, shape), make_pred(rng, shape)
            ours = danlu.losses.CategoricalFocalCrossentropy(**kwargs, reduction=reduction)
            theirs = keras().losses.CategoricalFocalCrossentropy(**kwargs, reduction=reduction)
            assert_close(ours(y_true, y_pred), theirs(y_true, y_pred))
            assert_close(
                danlu.losses.categorical_focal_crossentropy(y_true, y_pred, **kwargs),
                keras().losses.categorical_focal_crossentropy(y_true, y_pred, **kwargs),
            )
    config = danlu.losses.CategoricalFocalCrossentropy(alpha=alpha).get_config()
    assert config == keras().losses.CategoricalFocalCrossentropy(alpha=alpha).get_config()


def test_wrapped_sparse_function_masks_ignore_class_as_keras():
    """compile(loss="sparse_categorical_crossentropy") wraps the function: its ignore_class
    mask applies, as Keras' function marks its result with the mask."""
    rng = np.random.default_rng(17)
    y_pred = torch.as_tensor(normal(rng, (6, 3)))
    labels = torch.tensor([0, -1, 2, 1, -1, 0])
    ours = danlu.losses.LossFunctionWrapper(danlu.losses.sparse_categorical_crossentropy, from_logits=True, ignore_class=-1)
    from keras.src.losses.losses import LossFunctionWrapper

    theirs = LossFunctionWrapper(keras().losses.sparse_categorical_crossentropy, from_logits=True, ignore_class=-1)
    assert_close(ours(labels, y_pred), theirs(labels, y_pred))
    assert_close(ours(labels.numpy(), y_pred.numpy()), theirs(labels, y_pred))


def test_reduction_constants_are_tf_keras_values():
    from keras.src.legacy.losses import Reduction as LegacyReduction

    reduction = danlu.losses.Reduction
    assert (reduction.SUM, reduction.NONE, reduction.SUM_OVER_BATCH_SIZE, reduction.AUTO) == (
        LegacyReduction.SUM, LegacyReduction.NONE, LegacyReduction.SUM_OVER_BATCH_SIZE, LegacyReduction.AUTO)
    assert reduction.all() == LegacyReduction.all()


#: Config keys danlu keeps where Keras' get_config drops them (documented in each class).
DOCUMENTED_EXTRA_KEYS = {"Huber": {"delta"}, "CosineSimilarity": {"axis"}, "SparseCategoricalCrossentropy": {"axis"}}


@pytest.mark.parametrize("name", sorted(c.__name__ for c in danlu.losses.LOSS_CLASSES
                                        if c not in (danlu.losses.Loss, danlu.losses.LossFunctionWrapper)))
def test_config_keys_are_keras_keys_plus_documented_ones(name):
    ours, theirs = getattr(danlu.losses, name)(), getattr(keras().losses, name)()
    assert set(ours.get_config()) - set(theirs.get_config()) == DOCUMENTED_EXTRA_KEYS.get(name, set())
    assert set(theirs.get_config()) <= set(ours.get_config())
    assert ours.dtype == theirs.dtype == "float32"
    with_dtype = getattr(danlu.losses, name)(dtype="float64").get_config()
    assert set(with_dtype) - set(ours.get_config()) == {"dtype"} and with_dtype["dtype"] == "float64"
    assert getattr(danlu.losses, name).from_config(ours.get_config()).get_config() == ours.get_config()
