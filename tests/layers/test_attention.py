"""Attention layers against Keras 3.15: MultiHeadAttention (weights, masks, causal masks,
returned scores, attention axes, gate, gradients), Attention and AdditiveAttention."""

from unittest import mock

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.attention import AdditiveAttention, Attention
from danlu.layers.core import Embedding
from danlu.layers.multi_head_attention import MultiHeadAttention
from tests.oracle import keras


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _np(t):
    return t.detach().numpy()


def _pair(k, kwargs, query, value, key=None):
    """A Keras MultiHeadAttention with random weights and ours with the same weights."""
    theirs = k.layers.MultiHeadAttention(**kwargs)
    theirs(query, value) if key is None else theirs(query, value, key)
    theirs.set_weights([_x(*w.shape, seed=10 + i) * 0.5 for i, w in enumerate(theirs.get_weights())])
    ours = MultiHeadAttention(**kwargs)
    ours(torch.as_tensor(query), torch.as_tensor(value), None if key is None else torch.as_tensor(key))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _outputs(layer, tensors, **kwargs):
    out = layer(*tensors, **kwargs)
    return out if isinstance(out, tuple) else (out,)


def _compare(ours, theirs, arrays, grads=True, **kwargs):
    ours_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_kw = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out_o, out_t = _outputs(ours, ours_in, **ours_kw), _outputs(theirs, theirs_in, **ours_kw)
    assert len(out_o) == len(out_t)
    for a, b in zip(out_o, out_t):
        assert a.shape == b.shape
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
    if grads:
        r = torch.as_tensor(_x(*out_o[0].shape, seed=99))
        weights_o = [w for w in ours.weights if w.requires_grad]
        weights_t = [w.value for w in theirs.trainable_weights]
        g_o = torch.autograd.grad((out_o[0] * r).sum(), ours_in + weights_o)
        g_t = torch.autograd.grad((out_t[0] * r).sum(), theirs_in + weights_t)
        for a, b in zip(g_o, g_t):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    return out_o


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [
    {"num_heads": 2, "key_dim": 4},
    {"num_heads": 3, "key_dim": 2, "value_dim": 5, "output_shape": 7},
    {"num_heads": 2, "key_dim": 3, "output_shape": (2, 3), "use_bias": False},
    {"num_heads": 2, "key_dim": 4, "use_gate": True},
])
def test_multi_head_attention_weights_values_and_gradients_match_keras(kwargs):
    k = keras()
    query, value, key = _x(3, 5, 6), _x(3, 7, 8, seed=1), _x(3, 7, 4, seed=2)
    ours, theirs = _pair(k, kwargs, query, value, key)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert [w.path.split("/", 1)[1] for w in theirs.weights] == [
        f"{layer.name}/{name}" for layer in ours._sublayers() for name, _ in layer._own_named_weights()]
    _compare(ours, theirs, [query, value, key])
    _compare(ours, theirs, [query, value, key], return_attention_scores=True)


@pytest.mark.oracle
@pytest.mark.parametrize("return_scores", [False, True])
def test_multi_head_attention_masks_match_keras(return_scores):
    k = keras()
    query, value = _x(3, 5, 6), _x(3, 7, 6, seed=1)
    ours, theirs = _pair(k, {"num_heads": 2, "key_dim": 4}, query, value)
    rng = np.random.default_rng(5)
    attention_mask = rng.random((3, 5, 7)) > 0.4
    attention_mask[0, 2] = False  # a query row that sees no key
    unmasked = _compare(ours, theirs, [query, value], grads=False)[0]
    masked = _compare(ours, theirs, [query, value], attention_mask=attention_mask, return_attention_scores=return_scores)[0]
    assert not torch.allclose(masked, unmasked)
    _compare(ours, theirs, [query, value], use_causal_mask=True, return_attention_scores=return_scores)
    _compare(ours, theirs, [query, value], attention_mask=attention_mask, use_causal_mask=True, return_attention_scores=return_scores)
    query_mask, value_mask = rng.random((3, 5)) > 0.3, rng.random((3, 7)) > 0.3
    value_mask[1] = False
    # Keras 3.15 reads the query mask only from the query tensor (its query_mask= argument is
    # overwritten); danlu honours the argument too: the same as Keras' combined attention_mask.
    combined = query_mask[:, :, None] & value_mask[:, None, :]
    ours_out = _outputs(ours, [torch.as_tensor(query), torch.as_tensor(value)], query_mask=torch.as_tensor(query_mask),
                        value_mask=torch.as_tensor(value_mask), return_attention_scores=return_scores)
    theirs_out = _outputs(theirs, [torch.as_tensor(query), torch.as_tensor(value)], attention_mask=torch.as_tensor(combined),
                          return_attention_scores=return_scores)
    for a, b in zip(ours_out, theirs_out):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
    _compare(ours, theirs, [query, value], value_mask=value_mask, return_attention_scores=return_scores)


@pytest.mark.oracle
def test_multi_head_attention_masks_carried_by_tensors_match_keras():
    k = keras()
    tokens = np.array([[3, 1, 0, 0, 0], [2, 2, 2, 1, 0]])
    theirs_embedding = k.layers.Embedding(4, 6, mask_zero=True)
    theirs_embedding.build()
    ours_embedding = Embedding(4, 6, mask_zero=True)
    ours_embedding.set_weights(theirs_embedding.get_weights())
    x_o = ours_embedding(torch.as_tensor(tokens))
    ours, theirs = _pair(k, {"num_heads": 2, "key_dim": 3}, _np(x_o), _np(x_o))
    for scores in (False, True):
        x_t = theirs_embedding(tokens)  # Keras' MultiHeadAttention strips the masks off its inputs; danlu leaves them
        out_t, out_o = _outputs(theirs, [x_t, x_t], return_attention_scores=scores), _outputs(ours, [x_o, x_o], return_attention_scores=scores)
        for a, b in zip(out_o, out_t):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
        assert torch.equal(out_o[0]._keras_mask, torch.as_tensor(tokens) != 0)


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [{"num_heads": 2, "key_dim": 3}, {"num_heads": 2, "key_dim": 3, "attention_axes": (2,)},
                                    {"num_heads": 1, "key_dim": 3, "attention_axes": (1, 2)}])
def test_multi_head_attention_over_several_axes_matches_keras(kwargs):
    k = keras()
    query, value = _x(2, 3, 4, 5), _x(2, 3, 4, 5, seed=1)
    ours, theirs = _pair(k, kwargs, query, value)
    _compare(ours, theirs, [query, value])
    _compare(ours, theirs, [query, value], return_attention_scores=True)
    mask = np.random.default_rng(2).random((2, 3, 4, 3, 4) if "attention_axes" not in kwargs or len(kwargs["attention_axes"]) == 2 else (2, 3, 4, 4)) > 0.3
    _compare(ours, theirs, [query, value], attention_mask=mask, return_attention_scores=True)


@pytest.mark.oracle
def test_multi_head_attention_dropout_inference_path_and_sliding_window_match_keras():
    k = keras()
    query = _x(2, 6, 4)
    ours, theirs = _pair(k, {"num_heads": 2, "key_dim": 2, "dropout": 0.3}, query, query)
    mask = np.ones((2, 6, 6), bool)
    mask[1, 3] = False  # Keras' unfused path (dropout > 0): such a row gets zero weights
    _compare(ours, theirs, [query, query], attention_mask=mask)
    ours, theirs = _pair(k, {"num_heads": 2, "key_dim": 2, "sliding_window": 2}, query, query)
    _compare(ours, theirs, [query, query])
    _compare(ours, theirs, [query, query], use_causal_mask=True, return_attention_scores=True)


def test_multi_head_attention_uses_sdpa_unless_scores_are_asked_for():
    mha = MultiHeadAttention(2, 4)
    x = torch.randn(2, 5, 8)
    with mock.patch("torch.nn.functional.scaled_dot_product_attention", wraps=torch.nn.functional.scaled_dot_product_attention) as sdpa:
        mha(x, x)
        mha(x, x, use_causal_mask=True)
        assert sdpa.call_count == 2 and sdpa.call_args.kwargs["is_causal"] is True
        mha(x, x, return_attention_scores=True)
        assert sdpa.call_count == 2


def test_multi_head_attention_dropout_trains_and_is_off_in_inference():
    torch.manual_seed(0)
    mha = MultiHeadAttention(2, 4, dropout=0.5)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(mha(x, x), mha(x, x))
    assert not torch.allclose(mha(x, x, training=True), mha(x, x))
    out, scores = mha(x, x, return_attention_scores=True, training=True)
    torch.testing.assert_close(scores.sum(-1), torch.ones(2, 2, 5))  # the scores are taken before dropout


def test_multi_head_attention_functional_model_config_and_errors():
    tokens = danlu.Input((6,), dtype="int64")
    x = Embedding(10, 8, mask_zero=True)(tokens)
    attended, scores = MultiHeadAttention(2, 4, name="mha")(x, x, return_attention_scores=True)
    assert attended.shape == (None, 6, 8) and scores.shape == (None, 2, 6, 6)
    model = danlu.Model(tokens, [attended, scores])
    out, weights = model(torch.tensor([[1, 2, 3, 0, 0, 0]]))
    assert out.shape == (1, 6, 8) and weights.shape == (1, 2, 6, 6)
    assert torch.all(weights[0, :, :3, 3:] == 0)  # padding keys get no weight
    mha = MultiHeadAttention(4, 2, value_dim=3, output_shape=5, kernel_regularizer="l2", activity_regularizer="l1")
    assert mha.compute_output_shape((None, 6, 8), (None, 7, 9)) == (None, 6, 5)
    mha(torch.randn(2, 6, 8), torch.randn(2, 7, 9))
    assert len(mha.losses) == 4 + 4  # each projection's kernel penalty and activity penalty
    clone = MultiHeadAttention.from_config(mha.get_config())
    assert clone.get_config() == mha.get_config()
    self_attention = MultiHeadAttention(2, 4, input_shape=(5, 6))
    assert self_attention.built and self_attention.query_dense.kernel.shape == (6, 2, 4)
    with pytest.raises(ValueError, match="num_heads must be a positive int; received num_heads=0"):
        MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="value and key must agree on every axis but the last"):
        MultiHeadAttention(2, 4)(torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 6, 8))
    with pytest.raises(TypeError, match="needs query and value"):
        MultiHeadAttention(2, 4)(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="flash_attention=True does not support dropout"):
        MultiHeadAttention(2, 4, dropout=0.1, flash_attention=True)
    with pytest.raises(ValueError, match="use_causal_mask and sliding_window need attention over axis 1 only"):
        MultiHeadAttention(2, 4)(torch.randn(2, 3, 4, 8), torch.randn(2, 3, 4, 8), use_causal_mask=True)
    with pytest.raises(ValueError, match="attention_axes=\\(3,\\) must name axes between batch and features"):
        MultiHeadAttention(2, 4, attention_axes=3)(torch.randn(2, 3, 4, 8), torch.randn(2, 3, 4, 8))


@pytest.mark.oracle
@pytest.mark.parametrize("cls, kwargs", [
    ("Attention", {}), ("Attention", {"use_scale": True}), ("Attention", {"score_mode": "concat"}),
    ("Attention", {"score_mode": "concat", "use_scale": True}), ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}), ("Attention", {"dropout": 0.2}),
])
def test_attention_and_additive_attention_match_keras(cls, kwargs):
    k = keras()
    query, value, key = _x(2, 4, 3), _x(2, 6, 5, seed=1), _x(2, 6, 3, seed=2)
    theirs = getattr(k.layers, cls)(**kwargs)
    theirs([query, value, key])
    theirs.set_weights([w + 0.25 * (i + 1) for i, w in enumerate(theirs.get_weights())])
    ours = {"Attention": Attention, "AdditiveAttention": AdditiveAttention}[cls](**kwargs)
    ours([torch.as_tensor(query), torch.as_tensor(value), torch.as_tensor(key)])
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    rng = np.random.default_rng(3)
    query_mask, value_mask = rng.random((2, 4)) > 0.3, rng.random((2, 6)) > 0.3
    for call in [{}, {"use_causal_mask": True}, {"return_attention_scores": True},
                 {"mask": [query_mask, value_mask], "return_attention_scores": True, "use_causal_mask": True}]:
        ours_in = [torch.tensor(a, requires_grad=True) for a in (query, value, key)]
        theirs_in = [torch.tensor(a, requires_grad=True) for a in (query, value, key)]
        ours_call = {n: [torch.as_tensor(m) for m in v] if n == "mask" else v for n, v in call.items()}
        out_o, out_t = ours(ours_in, **ours_call), theirs(theirs_in, **ours_call)
        out_o, out_t = (out_o, out_t) if isinstance(out_o, tuple) else ((out_o,), (out_t,))
        for a, b in zip(out_o, out_t):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
        r = torch.as_tensor(_x(*out_o[0].shape, seed=9))
        params_o = [w for w in ours.weights if w.requires_grad]
        g_o = torch.autograd.grad((out_o[0] * r).sum(), ours_in + params_o)
        g_t = torch.autograd.grad((out_t[0] * r).sum(), theirs_in + [w.value for w in theirs.trainable_weights])
        for a, b in zip(g_o, g_t):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_attention_masks_from_tensors_symbolic_shapes_config_and_errors():
    tokens = danlu.Input((5,), dtype="int64")
    embedded = Embedding(7, 4, mask_zero=True)(tokens)
    attended, scores = Attention()([embedded, embedded], return_attention_scores=True)
    assert attended.shape == (None, 5, 4) and scores.shape == (None, 5, 5)
    model = danlu.Model(tokens, attended)
    ids = torch.tensor([[1, 2, 0, 0, 0]])
    out = model(ids)
    assert torch.equal(out._keras_mask, ids != 0) and torch.all(out[0, 2:] == 0)
    assert Attention().compute_output_shape([(None, 5, 4), (None, 7, 3)]) == (None, 5, 3)
    layer = AdditiveAttention(use_scale=False, dropout=0.1)
    assert AdditiveAttention.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.warns(DeprecationWarning, match="use_causal_mask"):
        legacy = Attention(causal=True)
    q = torch.randn(1, 3, 2)
    weights = legacy([q, q], return_attention_scores=True)[1]
    assert torch.all(weights.triu(1) == 0)
    with pytest.raises(ValueError, match="score_mode must be one of 'dot', 'concat'; received score_mode='add'"):
        Attention(score_mode="add")
    with pytest.raises(ValueError, match="must be called on a list \\[query, value\\]"):
        Attention()(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="mask must be a list"):
        Attention()([q, q], mask=torch.ones(1, 3, dtype=torch.bool))
