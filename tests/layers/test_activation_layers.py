"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax against Keras 3.15."""

import numpy as np
import pytest
import torch

from danlu.layers.activation import ELU, PReLU, LeakyReLU, ReLU, Softmax
from danlu.layers.core import Embedding
from tests.oracle import keras


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(scale=2.0, size=shape).astype("float32")


@pytest.mark.oracle
@pytest.mark.parametrize("cls, kwargs", [
    ("ReLU", {}), ("ReLU", {"max_value": 1.0}), ("ReLU", {"negative_slope": 0.1, "threshold": 0.5}),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.2}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.01}),
    ("ELU", {}), ("ELU", {"alpha": 0.4}), ("Softmax", {}), ("Softmax", {"axis": 1}), ("Softmax", {"axis": [1, 2]}),
])
def test_parameter_free_activation_layers_match_keras(cls, kwargs):
    k = keras()
    x = _x(2, 3, 5)
    ours = {"ReLU": ReLU, "LeakyReLU": LeakyReLU, "ELU": ELU, "Softmax": Softmax}[cls](**kwargs)
    theirs = getattr(k.layers, cls)(**kwargs)
    np.testing.assert_allclose(ours(torch.as_tensor(x)).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-7)
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    assert ours.compute_output_shape((None, 3, 5)) == (None, 3, 5)


@pytest.mark.oracle
def test_leaky_relu_layer_default_slope_is_keras_0_3():
    k = keras()
    assert LeakyReLU().negative_slope == 0.3 == k.layers.LeakyReLU().negative_slope
    with pytest.warns(DeprecationWarning, match="negative_slope"):
        legacy = LeakyReLU(alpha=0.1)
    assert legacy.negative_slope == 0.1 and "alpha" not in legacy.get_config()
    torch.testing.assert_close(legacy(torch.tensor([-1.0, 2.0])), torch.tensor([-0.1, 2.0]))


@pytest.mark.oracle
@pytest.mark.parametrize("shape, shared_axes", [((4, 6), None), ((2, 3, 5), None), ((2, 3, 5), [1]), ((2, 3, 4, 5), [1, 2])])
def test_prelu_matches_keras_values_gradients_and_weights(shape, shared_axes):
    k = keras()
    x = _x(*shape)
    theirs = k.layers.PReLU(shared_axes=shared_axes)
    theirs(x)
    theirs.set_weights([np.random.default_rng(1).uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours = PReLU(shared_axes=shared_axes)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    xo, xt = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_o, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(out_o.detach().numpy(), out_t.detach().numpy(), rtol=1e-6)
    r = torch.as_tensor(_x(*shape, seed=2))
    grads_o = torch.autograd.grad((out_o * r).sum(), [xo, ours.alpha])
    grads_t = torch.autograd.grad((out_t * r).sum(), [xt, theirs.alpha.value])
    for a, b in zip(grads_o, grads_t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_prelu_arguments_config_and_errors():
    layer = PReLU(alpha_initializer="ones", shared_axes=2, alpha_constraint="non_neg", alpha_regularizer="l2")
    layer(torch.zeros(2, 3, 4))
    assert layer.alpha.shape == (3, 1) and torch.equal(layer.alpha, torch.ones(3, 1))
    assert len(layer.losses) == 1 and layer.alpha.constraint is not None
    clone = PReLU.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="shared_axes must be axes >= 1"):
        PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="names axis 3; the inputs have rank 3"):
        PReLU(shared_axes=[3])(torch.zeros(2, 3, 4))


@pytest.mark.oracle
def test_softmax_mask_given_or_carried_matches_keras():
    k = keras()
    x = _x(2, 4, 4)
    mask = np.random.default_rng(3).random((2, 4, 4)) > 0.4
    mask[0, 0] = False  # a fully masked row
    expected = k.layers.Softmax()(x, mask=mask).numpy()
    np.testing.assert_allclose(Softmax()(torch.as_tensor(x), mask=torch.as_tensor(mask)).numpy(), expected, rtol=1e-5, atol=1e-7)
    float_mask = torch.as_tensor(mask.astype("float32"))
    np.testing.assert_allclose(Softmax()(torch.as_tensor(x), mask=float_mask).numpy(), expected, rtol=1e-5, atol=1e-7)
    row_mask = np.array([[True, True, False, False], [True, False, True, True]])  # (batch, time) broadcast over rows
    np.testing.assert_allclose(Softmax()(torch.as_tensor(x), mask=torch.as_tensor(row_mask[:, None, :])).numpy(),
                               k.layers.Softmax()(x, mask=row_mask[:, None, :]).numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"mask must be broadcastable to the inputs.*\(2, 4, 4\).*\(2, 3\)"):
        Softmax()(torch.as_tensor(x), mask=torch.ones(2, 3, dtype=torch.bool))


def test_activation_layers_pass_masks_on_and_validate_arguments():
    tokens = torch.tensor([[3, 1, 0, 0]])
    embedded = Embedding(5, 4, mask_zero=True)(tokens)
    for layer in (ReLU(), LeakyReLU(), ELU(), PReLU()):
        assert torch.equal(layer(embedded)._keras_mask, tokens != 0)
    with pytest.raises(ValueError, match="max_value must be in \\[0, inf\\]; received max_value=-1"):
        ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope must be in"):
        ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="threshold must be a finite number; received threshold=None"):
        ReLU(threshold=None)
    with pytest.raises(ValueError, match="negative_slope must be in"):
        LeakyReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="axis must be an int or a list of ints; received axis='last'"):
        Softmax(axis="last")
