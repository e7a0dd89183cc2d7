"""Every danlu loss against Keras 3.15.1 (torch backend) on random inputs and edge cases.

Each case builds the same loss in both libraries and compares class calls (every reduction,
with and without sample weights) and function forms, to rtol 1e-5 / atol 1e-6 in float32.
"""

import zlib

import numpy as np
import pytest
import torch

import danlu
from tests.oracle import keras, to_numpy

pytestmark = pytest.mark.oracle

RTOL, ATOL = 1e-5, 1e-6


def probabilities(rng, shape, edges=True):
    p = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    if edges and p.size >= 4:  # exact 0 and 1 exercise the 1e-7 clipping
        flat = p.reshape(-1)
        flat[0], flat[-1], flat[p.size // 2] = 0.0, 1.0, 1.0
    return p


def distributions(rng, shape):
    p = rng.uniform(0.01, 1.0, size=shape).astype(np.float32)
    return p / p.sum(-1, keepdims=True)


def one_hot(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1], dtype=np.float32)[labels]


def binary(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float32)


def normal(rng, shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def sparse(rng, shape):
    return rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int64)


# (class name, constructor kwargs, y_true maker, y_pred maker)
CASES = [
    ("MeanSquaredError", {}, normal, normal),
    ("MeanAbsoluteError", {}, normal, normal),
    ("MeanAbsolutePercentageError", {}, normal, normal),
    ("MeanSquaredLogarithmicError", {}, lambda r, s: np.abs(normal(r, s)), normal),
    ("Huber", {}, normal, lambda r, s: normal(r, s, 2.0)),
    ("Huber", {"delta": 0.3}, normal, lambda r, s: normal(r, s, 2.0)),
    ("LogCosh", {}, normal, lambda r, s: normal(r, s, 5.0)),
    ("CosineSimilarity", {}, normal, normal),
    ("CosineSimilarity", {"axis": 0}, normal, normal),
    ("BinaryCrossentropy", {}, binary, probabilities),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, binary, probabilities),
    ("BinaryCrossentropy", {"from_logits": True}, binary, lambda r, s: normal(r, s, 4.0)),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary, normal),
    ("BinaryCrossentropy", {}, probabilities, probabilities),
    ("BinaryFocalCrossentropy", {}, binary, probabilities),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.75, "gamma": 3.0}, binary, probabilities),
    ("BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary, normal),
    ("BinaryFocalCrossentropy", {"gamma": 0.0}, binary, probabilities),
    ("CategoricalCrossentropy", {}, one_hot, distributions),
    ("CategoricalCrossentropy", {}, one_hot, probabilities),
    ("CategoricalCrossentropy", {"label_smoothing": 0.3}, one_hot, distributions),
    ("CategoricalCrossentropy", {"from_logits": True}, one_hot, lambda r, s: normal(r, s, 3.0)),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, one_hot, normal),
    ("CategoricalFocalCrossentropy", {}, one_hot, distributions),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 1.5, "label_smoothing": 0.2}, one_hot, probabilities),
    ("CategoricalFocalCrossentropy", {"from_logits": True}, one_hot, normal),
    ("SparseCategoricalCrossentropy", {}, sparse, distributions),
    ("SparseCategoricalCrossentropy", {}, sparse, probabilities),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse, lambda r, s: normal(r, s, 3.0)),
    ("KLDivergence", {}, distributions, probabilities),
    ("Poisson", {}, lambda r, s: r.poisson(2.0, s).astype(np.float32), lambda r, s: np.abs(normal(r, s)) + 0.1),
    ("Hinge", {}, binary, normal),
    ("Hinge", {}, lambda r, s: 2 * binary(r, s) - 1, normal),
    ("SquaredHinge", {}, binary, normal),
    ("CategoricalHinge", {}, one_hot, normal),
    ("Dice", {}, binary, probabilities),
    ("Tversky", {}, binary, probabilities),
    ("Tversky", {"alpha": 0.7, "beta": 0.3}, binary, probabilities),
]
SHAPES = [(4, 3), (1, 5), (2, 3, 4)]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "none", "mean_with_sample_weight"]


def case_id(case):
    name, kwargs, *_ = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def keras_loss(name, kwargs, **extra):
    return getattr(keras().losses, name)(**kwargs, **extra)


def danlu_loss(name, kwargs, **extra):
    return getattr(danlu.losses, name)(**kwargs, **extra)


def assert_close(actual, expected):
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_matches_keras_for_each_reduction(case, shape, reduction):
    name, kwargs, make_true, make_pred = case
    rng = np.random.default_rng(zlib.crc32(f"{case_id(case)}{shape}".encode()))
    y_true, y_pred = make_true(rng, shape), make_pred(rng, shape)
    ours = danlu_loss(name, kwargs, reduction=reduction)
    theirs = keras_loss(name, kwargs, reduction=reduction)
    assert_close(ours(y_true, y_pred), theirs(y_true, y_pred))

    # Sample weights shaped like the per-sample values (for which both libraries agree on
    # every reduction), including zeros.
    values_shape = tuple(np.asarray(to_numpy(theirs.__class__(**kwargs, reduction="none")(y_true, y_pred))).shape)
    weights = rng.uniform(0, 2, size=values_shape).astype(np.float32)
    if weights.size > 1:
        weights.reshape(-1)[0] = 0.0
    assert_close(ours(y_true, y_pred, sample_weight=weights), theirs(y_true, y_pred, sample_weight=weights))
    zeros = np.zeros(values_shape, np.float32)
    assert_close(ours(y_true, y_pred, sample_weight=zeros), theirs(y_true, y_pred, sample_weight=zeros))


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_function_form_matches_keras(case):
    name, kwargs, make_true, make_pred = case
    rng = np.random.default_rng(7)
    shape = (3, 4)
    y_true, y_pred = make_true(rng, shape), make_pred(rng, shape)
    ours_cls, theirs_cls = danlu_loss(name, kwargs), keras_loss(name, kwargs)
    fn_kwargs = dict(ours_cls.fn_kwargs)
    ours = ours_cls.fn(torch.as_tensor(y_true), torch.as_tensor(y_pred), **fn_kwargs)
    theirs = theirs_cls.fn(torch.as_tensor(y_true), torch.as_tensor(y_pred), **theirs_cls._fn_kwargs)
    assert_close(ours, theirs)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_crossentropy_ignore_class_matches_keras(from_logits, reduction):
    rng = np.random.default_rng(3)
    y_pred = normal(rng, (2, 5, 4)) if from_logits else distributions(rng, (2, 5, 4))
    y_true = rng.integers(0, 4, size=(2, 5))
    y_true[0, 1] = y_true[1, 3] = y_true[1, 4] = -1
    kwargs = {"from_logits": from_logits, "ignore_class": -1, "reduction": reduction}
    ours = danlu.losses.SparseCategoricalCrossentropy(**kwargs)
    theirs = keras().losses.SparseCategoricalCrossentropy(**kwargs)
    assert_close(ours(y_true, y_pred), theirs(y_true, y_pred))
    weights = rng.uniform(0, 1, size=(2, 5)).astype(np.float32)
    assert_close(ours(y_true, y_pred, sample_weight=weights), theirs(y_true, y_pred, sample_weight=weights))


def test_sparse_crossentropy_with_label_column_matches_keras():
    rng = np.random.default_rng(4)
    y_true, y_pred = sparse(rng, (6, 3))[:, None], distributions(rng, (6, 3))
    assert_close(
        danlu.losses.SparseCategoricalCrossentropy()(y_true, y_pred),
        keras().losses.SparseCategoricalCrossentropy()(y_true, y_pred),
    )


@pytest.mark.parametrize("name", ["MeanSquaredError", "BinaryCrossentropy", "Huber"])
def test_per_sample_weight_of_batch_shape_matches_keras(name):
    rng = np.random.default_rng(5)
    y_true, y_pred = binary(rng, (5, 3)), probabilities(rng, (5, 3))
    for weights in (rng.uniform(0, 1, size=(5,)), rng.uniform(0, 1, size=(5, 1)), np.array(0.5)):
        for reduction in ("sum_over_batch_size", "sum", "none"):
            assert_close(
                danlu_loss(name, {}, reduction=reduction)(y_true, y_pred, sample_weight=weights),
                keras_loss(name, {}, reduction=reduction)(y_true, y_pred, sample_weight=weights),
            )


def test_ctc_matches_keras():
    rng = np.random.default_rng(6)
    y_pred = normal(rng, (3, 12, 6))
    y_true = np.array([[1, 2, 3, 0], [4, 4, 0, 0], [5, 1, 2, 3]])
    for reduction in ("sum_over_batch_size", "none"):
        assert_close(
            danlu.losses.CTC(reduction=reduction)(y_true, y_pred),
            keras().losses.CTC(reduction=reduction)(torch.as_tensor(y_true), torch.as_tensor(y_pred)),
        )


def test_circle_matches_keras():
    rng = np.random.default_rng(8)
    embeddings = normal(rng, (8, 5))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.array([0, 1, 0, 2, 1, 2, 3, 0])
    for kwargs in ({}, {"gamma": 10.0, "margin": 0.25}, {"remove_diagonal": False}):
        for reduction in ("sum_over_batch_size", "sum", "none"):
            assert_close(
                danlu.losses.Circle(**kwargs, reduction=reduction)(labels, embeddings),
                keras().losses.Circle(**kwargs, reduction=reduction)(labels, embeddings),
            )


def test_generalized_crossentropy_matches_keras():
    rng = np.random.default_rng(9)
    y_true, y_pred = sparse(rng, (6, 4)), distributions(rng, (6, 4))
    for q in (0.3, 0.7):
        assert_close(
            danlu.losses.CategoricalGeneralizedCrossEntropy(q=q)(y_true, y_pred),
            keras().losses.CategoricalGeneralizedCrossEntropy(q=q)(y_true, y_pred),
        )


@pytest.mark.parametrize("name", ["mse", "mae", "mape", "msle", "bce", "kld", "binary_crossentropy", "poisson"])
def test_string_identifiers_resolve_to_the_same_function_as_keras(name):
    rng = np.random.default_rng(10)
    y_true, y_pred = probabilities(rng, (4, 3)), probabilities(rng, (4, 3))
    assert_close(danlu.losses.get(name)(y_true, y_pred), keras().losses.get(name)(y_true, y_pred))
