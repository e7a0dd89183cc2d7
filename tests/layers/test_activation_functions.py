"""danlu.activations: every Keras 3.15 activation by name, same values and gradients."""

import numpy as np
import pytest
import torch

import danlu
from danlu import activations, layers
from tests.oracle import keras

# name -> keyword arguments to try besides the defaults (Keras' own argument names)
CASES = {
    "relu": [{}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 1.5}, {"threshold": 0.5},
             {"negative_slope": 0.2, "max_value": 2.0, "threshold": 0.3}, {"negative_slope": 0.3, "threshold": 0.4}],
    "leaky_relu": [{}, {"negative_slope": 0.05}], "relu6": [{}], "softmax": [{}, {"axis": 1}, {"axis": 0}],
    "celu": [{}, {"alpha": 0.5}], "elu": [{}, {"alpha": 0.7}], "selu": [{}], "softplus": [{}], "softsign": [{}],
    "squareplus": [{}, {"b": 1.5}], "soft_shrink": [{}, {"threshold": 0.2}], "sparse_plus": [{}], "silu": [{}],
    "swish": [{}], "gelu": [{}, {"approximate": True}], "glu": [{}, {"axis": 1}], "tanh": [{}], "tanh_shrink": [{}],
    "threshold": [{"threshold": 0.2, "default_value": -3.0}], "sigmoid": [{}], "sparse_sigmoid": [{}],
    "exponential": [{}], "hard_sigmoid": [{}], "hard_silu": [{}], "hard_swish": [{}], "hard_tanh": [{}],
    "hard_shrink": [{}, {"threshold": 0.3}], "linear": [{}], "mish": [{}], "log_softmax": [{}, {"axis": 1}],
    "log_sigmoid": [{}],
}


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(3, 4, 6)).astype("float32")
    x[0, 0, :4] = [-1.0, 1.0, 0.5, -0.5]  # the kinks of sparse_plus / sparse_sigmoid / shrinks
    return x


@pytest.mark.oracle
def test_every_keras_activation_has_a_danlu_name():
    k = keras()
    theirs = {n for n in dir(k.activations) if not n.startswith("_") and n not in ("get", "serialize", "deserialize")}
    assert theirs <= set(activations.ACTIVATIONS), sorted(theirs - set(activations.ACTIVATIONS))
    assert set(CASES) | {"sparsemax"} == theirs  # sparsemax: tests of its own below


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_values_and_gradients_match_keras(name):
    k = keras()
    x = _inputs()
    rng = np.random.default_rng(1)
    for kwargs in CASES[name]:
        ours_x = torch.tensor(x, requires_grad=True)
        theirs_x = torch.tensor(x, requires_grad=True)
        ours = activations.get(name)(ours_x, **kwargs)
        theirs = getattr(k.activations, name)(theirs_x, **kwargs)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} {kwargs}")
        out_weights = torch.as_tensor(rng.normal(size=ours.shape).astype("float32"))  # a loss with a non-trivial gradient
        (g_ours,) = torch.autograd.grad((ours * out_weights).sum(), ours_x)
        (g_theirs,) = torch.autograd.grad((theirs * out_weights).sum(), theirs_x)
        np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} {kwargs} gradient")


@pytest.mark.oracle
def test_softmax_over_several_axes_and_none_match_keras():
    k = keras()
    x = torch.as_tensor(_inputs())
    for axis in [None, -2]:
        np.testing.assert_allclose(activations.softmax(x, axis).numpy(), k.activations.softmax(x, axis=axis).numpy(), rtol=1e-5, atol=1e-7)
    for axis in [(1, 2), [0, 2], [2]]:  # Keras' Softmax layer takes several axes (its function does not)
        expected = k.layers.Softmax(axis=list(axis))(x).numpy()
        np.testing.assert_allclose(activations.softmax(x, axis).numpy(), expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(activations.log_softmax(x, axis).exp().numpy(), expected, rtol=1e-5, atol=1e-7)


def test_sparsemax_is_the_simplex_projection():
    """Keras 3.15's sparsemax sums partial sums (its outputs do not sum to 1); danlu computes
    the projection: outputs on the simplex, and nearest to x among such points (checked
    against the closed form tau = (sum of the k largest - 1) / k found by brute force)."""
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.normal(size=(50, 7)), dtype=torch.float64)
    p = activations.sparsemax(x)
    torch.testing.assert_close(p.sum(-1), torch.ones(50, dtype=torch.float64))
    assert (p >= 0).all()
    for row, out in zip(x.numpy(), p.numpy()):
        z = np.sort(row)[::-1]
        k = max(j for j in range(1, 8) if 1 + j * z[j - 1] > z[:j].sum())
        np.testing.assert_allclose(out, np.maximum(row - (z[:k].sum() - 1) / k, 0), atol=1e-12)
    torch.testing.assert_close(activations.sparsemax(x.T, axis=0), p.T)


@pytest.mark.oracle
def test_sparsemax_agrees_with_keras_where_one_entry_dominates():
    k = keras()
    x = torch.as_tensor(np.random.default_rng(4).normal(size=(6, 5)).astype("float32"))
    x[:, 2] += 5.0  # support of size 1, where Keras' partial-sum slip does not matter
    np.testing.assert_allclose(activations.sparsemax(x).numpy(), k.activations.sparsemax(x).numpy(), rtol=1e-6)


def test_activation_names_resolve_serialize_and_reject_typos():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu and activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.silu) == "silu" and activations.serialize(torch.relu) == "relu"
    for name, fn in activations.TORCH_ALIASES.items():  # the torch forms compute the same function
        x = torch.randn(10)
        torch.testing.assert_close(fn(x), activations.get(name)(x))
    assert activations.get({"class_name": "function", "config": "gelu"}) is activations.gelu
    assert activations.deserialize("relu") is activations.relu
    assert activations.get(torch.tanh) is torch.tanh
    with pytest.raises(ValueError, match='Unknown activation identifier \'sofmax\'. Did you mean "softmax"'):
        activations.get("sofmax")
    with pytest.raises(TypeError, match="Could not interpret activation identifier 3"):
        activations.get(3)
    with pytest.raises(ValueError, match="has no registered name"):
        activations.serialize(lambda t: t)


def test_keras_defaults_differ_from_torch_where_keras_says_so():
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0])
    torch.testing.assert_close(activations.leaky_relu(x), torch.where(x > 0, x, 0.2 * x))
    torch.testing.assert_close(activations.gelu(x), torch.nn.functional.gelu(x))  # exact, not tanh
    torch.testing.assert_close(activations.relu(x, max_value=1.0), x.clamp(0, 1))
    torch.testing.assert_close(activations.relu(x, threshold=1.0), torch.where(x > 1, x, 0.0))


def test_every_activation_works_by_name_in_activation_and_dense_layers():
    x = torch.randn(2, 4)
    for name in activations.ACTIVATIONS:
        if name == "threshold":  # needs its two arguments, as in Keras
            continue
        out = layers.Activation(name)(x)
        assert out.shape == ((2, 2) if name == "glu" else (2, 4))
        assert layers.Dense(4, activation=name)(x).shape[0] == 2
    model = danlu.Sequential([danlu.Input((4,)), layers.Dense(3, activation="sparsemax")])
    torch.testing.assert_close(model(x).sum(-1), torch.ones(2))
