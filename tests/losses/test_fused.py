"""The fused fast path: taken where it applies, equal to the per-sample path (values and
gradients, float64, every reduction and weighting), handed back where it does not apply."""

import numpy as np
import pytest
import torch

from danlu import losses


def regression(shape, generator):
    return torch.randn(shape, generator=generator, dtype=torch.float64), torch.randn(shape, generator=generator, dtype=torch.float64)


def counts(shape, generator):
    return torch.poisson(2 * torch.rand(shape, generator=generator, dtype=torch.float64)), 0.1 + torch.rand(shape, generator=generator, dtype=torch.float64)


def with_edges(p):
    flat = p.reshape(-1)
    flat[0], flat[-1], flat[flat.numel() // 2] = 0.0, 1.0, 1.0
    return p


def binary_probabilities(shape, generator):
    return (torch.rand(shape, generator=generator) > 0.5).double(), with_edges(torch.rand(shape, generator=generator, dtype=torch.float64))


def binary_logits(shape, generator):
    return (torch.rand(shape, generator=generator) > 0.5).double(), 3 * torch.randn(shape, generator=generator, dtype=torch.float64)


def sparse_labels(shape, generator):
    return torch.randint(0, shape[-1], shape[:-1], generator=generator)


def sparse_logits(shape, generator):
    return sparse_labels(shape, generator), torch.randn(shape, generator=generator, dtype=torch.float64)


def sparse_probabilities(shape, generator):
    return sparse_labels(shape, generator), with_edges(torch.rand(shape, generator=generator, dtype=torch.float64))


def sparse_logits_on_axis_1(shape, generator):
    labels = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=generator)
    return labels, torch.randn(shape, generator=generator, dtype=torch.float64)


def one_hot_logits(shape, generator):
    labels = sparse_labels(shape, generator)
    return torch.nn.functional.one_hot(labels, shape[-1]).double(), torch.randn(shape, generator=generator, dtype=torch.float64)


def distributions(shape, generator):
    p = torch.softmax(torch.randn(shape, generator=generator, dtype=torch.float64), -1)
    return with_edges(p), with_edges(torch.rand(shape, generator=generator, dtype=torch.float64))


FUSED = [
    (losses.MeanSquaredError, {}, regression),
    (losses.MeanAbsoluteError, {}, regression),
    (losses.Huber, {}, regression),
    (losses.Huber, {"delta": 0.25}, regression),
    (losses.Poisson, {}, counts),
    (losses.KLDivergence, {}, distributions),
    (losses.BinaryCrossentropy, {}, binary_probabilities),
    (losses.BinaryCrossentropy, {"label_smoothing": 0.2}, binary_probabilities),
    (losses.BinaryCrossentropy, {"from_logits": True}, binary_logits),
    (losses.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.1, "axis": 0}, binary_logits),
    (losses.CategoricalCrossentropy, {"from_logits": True}, one_hot_logits),
    (losses.CategoricalCrossentropy, {"from_logits": True, "label_smoothing": 0.3}, one_hot_logits),
    (losses.SparseCategoricalCrossentropy, {}, sparse_probabilities),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True}, sparse_logits),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True, "axis": 1}, sparse_logits_on_axis_1),
    (losses.SparseCategoricalCrossentropy, {"ignore_class": 0}, sparse_probabilities),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True, "ignore_class": 1}, sparse_logits),
]
SHAPES = [(6, 5), (1, 5), (2, 3, 5), (3, 2, 2, 4)]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "none", "mean_with_sample_weight"]


def case_id(case):
    cls, kwargs, _ = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in kwargs.items())


def make(case, shape, seed=0):
    cls, kwargs, make_inputs = case
    generator = torch.Generator().manual_seed(seed)
    return make_inputs(shape, generator)


def run(loss, y_true, y_pred, sample_weight=None, fused=True):
    """Value and gradients (y_pred, and y_true when floating) with or without the fused path."""
    y_pred = y_pred.clone().requires_grad_(True)
    y_true = y_true.clone().requires_grad_(True) if y_true.is_floating_point() else y_true
    loss._fused_enabled = fused and type(loss)._fused_enabled
    try:
        value = loss(y_true, y_pred, sample_weight=sample_weight)
    finally:
        del loss._fused_enabled
    value.sum().backward()
    return value.detach(), y_pred.grad, y_true.grad if y_true.is_floating_point() else None


def assert_same(a, b):
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def weights_for(case, shape):
    cls, kwargs, _ = case
    generator = torch.Generator().manual_seed(1)
    values_shape = list(shape)
    del values_shape[kwargs.get("axis", -1)]
    per_sample = torch.rand(shape[:1], generator=generator, dtype=torch.float64)
    per_value = torch.rand(values_shape, generator=generator, dtype=torch.float64)
    per_sample[0] = per_value.reshape(-1)[0] = 0.0
    return [per_sample, per_value, torch.tensor(0.5, dtype=torch.float64)]


@pytest.mark.parametrize("case", FUSED, ids=[case_id(c) for c in FUSED])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_path_equals_the_per_sample_path(case, shape, reduction):
    cls, kwargs, _ = case
    loss = cls(**kwargs, reduction=reduction, dtype="float64")
    y_true, y_pred = make(case, shape)
    assert_same(run(loss, y_true, y_pred), run(loss, y_true, y_pred, fused=False))
    for weights in weights_for(case, y_pred.shape):
        if kwargs.get("axis") == 0 and weights.ndim == 1:
            continue  # per-sample weights mean nothing when the batch axis is reduced
        assert_same(run(loss, y_true, y_pred, weights), run(loss, y_true, y_pred, weights, fused=False))


@pytest.mark.parametrize("case", FUSED, ids=[case_id(c) for c in FUSED])
def test_fused_path_is_taken_for_tensors(case, monkeypatch):
    cls, kwargs, _ = case
    for shape in ((6, 5), (2, 3, 5)):
        y_true, y_pred = make(case, shape)
        for dtype in (None, "float64"):
            loss = cls(**kwargs, dtype=dtype)
            assert loss._fused_forward(y_true, y_pred, None) is not None
            per_value_weights = weights_for(case, y_pred.shape)[1]
            assert loss._fused_forward(y_true, y_pred, per_value_weights) is not None
    # and `forward` uses it: with the per-sample function broken, the loss still works
    loss = cls(**kwargs)
    monkeypatch.setattr(loss, "call", lambda *args: pytest.fail("took the per-sample path"))
    loss(*make(case, (6, 5)))


def test_wrapped_builtin_functions_take_the_fused_path():
    """compile(loss="...") wraps the function in LossFunctionWrapper: just as fast."""
    generator = torch.Generator().manual_seed(2)
    for fn, make_inputs in ((losses.mean_squared_error, regression), (losses.sparse_categorical_crossentropy, sparse_logits),
                            (losses.binary_crossentropy, binary_probabilities), (losses.kl_divergence, distributions)):
        y_true, y_pred = make_inputs((4, 3), generator)
        wrapper = losses.LossFunctionWrapper(fn)
        assert wrapper._fused_forward(y_true, y_pred, None) is not None
        # numpy inputs take the per-sample path
        torch.testing.assert_close(wrapper(y_true, y_pred), wrapper(y_true.numpy(), y_pred.numpy()), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "loss, y_true, y_pred",
    [
        (losses.MeanSquaredError(), np.zeros((2, 3)), np.ones((2, 3))),  # numpy inputs
        (losses.MeanSquaredError(), torch.zeros(0, 3), torch.zeros(0, 3)),  # empty batch
        (losses.MeanSquaredError(dtype="bfloat16"), torch.zeros(2, 3), torch.ones(2, 3)),  # half-precision loss
        (losses.MeanSquaredError(), torch.zeros(2, 3), torch.ones(2, 1)),  # broadcasting shapes
        (losses.Huber(delta=0.0), torch.zeros(2, 3), torch.ones(2, 3)),  # PyTorch refuses delta 0
        (losses.CategoricalCrossentropy(), torch.eye(3), torch.full((3, 3), 1 / 3)),  # probabilities: no kernel
        (losses.CategoricalCrossentropy(from_logits=True), torch.ones(2, 1), torch.ones(2, 1)),  # one class: warns
        (losses.SparseCategoricalCrossentropy(), torch.tensor(1), torch.tensor([0.2, 0.8])),  # rank-1 scores
        (losses.SparseCategoricalCrossentropy(), torch.tensor([0, 1, 1]), torch.full((2, 2), 0.5)),  # wrong label count
        (losses.MeanSquaredError(), torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.int64)),  # integer predictions
    ],
)
def test_fused_path_hands_back_what_it_does_not_cover(loss, y_true, y_pred):
    assert loss._fused_forward(y_true, y_pred, None) is None


def test_empty_batches_of_tensors_reduce_to_zero():
    for loss in (losses.MeanSquaredError(), losses.BinaryCrossentropy(from_logits=True),
                 losses.SparseCategoricalCrossentropy(from_logits=True)):
        y_true = torch.zeros(0, dtype=torch.int64) if loss.integer_labels else torch.zeros(0, 4)
        value = loss(y_true, torch.zeros(0, 4))
        assert value.shape == () and value.item() == 0.0


def test_a_subclass_that_redefines_call_gets_its_own_math():
    class DoubledMSE(losses.MeanSquaredError):
        def call(self, y_true, y_pred):
            return 2 * super().call(y_true, y_pred)

    class MaskedMAE(losses.MeanAbsoluteError):
        def compute_mask(self, y_true, y_pred, values):
            return values > 1.5

    y_true, y_pred = torch.zeros(3, 2), torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert DoubledMSE()(y_true, y_pred).item() == pytest.approx(2 * 14 / 3)
    assert MaskedMAE()(y_true, y_pred).item() == pytest.approx(2.5)


def test_fused_sparse_crossentropy_still_validates_labels():
    y_pred = torch.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"class index 3, outside \[0, 3\)"):
        losses.SparseCategoricalCrossentropy()(torch.tensor([0, 3]), y_pred)
    with pytest.raises(ValueError, match="non-integer label 0.5"):
        losses.SparseCategoricalCrossentropy()(torch.tensor([0.5, 1.0]), y_pred)
    with pytest.raises(TypeError, match="integer class indices; received dtype torch.bool"):
        losses.SparseCategoricalCrossentropy()(torch.tensor([True, False]), y_pred)


def test_mixed_input_dtypes_and_devices_of_labels():
    y_pred = torch.randn(4, 3)
    labels = torch.randint(0, 2, (4, 3))
    expected = losses.BinaryCrossentropy(from_logits=True)(labels.float(), y_pred)
    for y_true in (labels, labels.double(), labels.bool()):
        torch.testing.assert_close(losses.BinaryCrossentropy(from_logits=True)(y_true, y_pred), expected)
