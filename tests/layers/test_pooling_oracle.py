"""Pooling against Keras 3.15 (torch backend) and, for average pooling with asymmetric "same"
padding, against TensorFlow's rule computed here in float64 (Keras' torch backend averages
repeated edge values there; see danlu.layers.pooling)."""

import itertools

import numpy as np
import pytest
import torch

from danlu.layers import pooling
from danlu.layers.spatial import same_padding
from tests.layers.spatial_oracle import assert_close, compare_with_keras
from tests.oracle import keras

pytestmark = pytest.mark.oracle

POOL_CASES = [
    (1, dict(pool_size=2), (2, 7, 3)),
    (1, dict(pool_size=3, strides=1, padding="same"), (2, 6, 3)),
    (1, dict(pool_size=4, strides=1, padding="same"), (1, 5, 2)),
    (1, dict(pool_size=3, strides=2, padding="same"), (2, 8, 2)),
    (1, dict(pool_size=3, strides=2), (2, 9, 2)),
    (2, dict(pool_size=2), (2, 5, 7, 3)),
    (2, dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 6, 2)),
    (2, dict(pool_size=3, strides=2, padding="same"), (1, 6, 6, 2)),
    (2, dict(pool_size=3, strides=1, padding="same"), (1, 5, 5, 2)),
    (2, dict(pool_size=2, strides=3, padding="same"), (2, 7, 8, 1)),
    (3, dict(pool_size=2, padding="same"), (1, 3, 5, 4, 2)),
    (3, dict(pool_size=(2, 3, 1), strides=(1, 2, 1)), (2, 4, 5, 3, 2)),
    (3, dict(pool_size=3, strides=2, padding="same"), (1, 5, 4, 6, 1)),
]


def _pads(kwargs, spatial):
    rank = len(spatial)
    size = kwargs["pool_size"]
    size = (size,) * rank if isinstance(size, int) else size
    strides = kwargs.get("strides") or size
    strides = (strides,) * rank if isinstance(strides, int) else strides
    if kwargs.get("padding", "valid") == "valid":
        return size, strides, [(0, 0)] * rank
    return size, strides, [same_padding(n, k, s) for n, k, s in zip(spatial, size, strides)]


def tensorflow_pool(x, kwargs, reduce):
    """Pooling of channels-first ``x`` (float64) over the real cells of each window."""
    spatial = x.shape[2:]
    size, strides, pads = _pads(kwargs, spatial)
    outputs = [((n + a + b - k) // s + 1) for n, k, s, (a, b) in zip(spatial, size, strides, pads)]
    out = np.empty(x.shape[:2] + tuple(outputs))
    for index in itertools.product(*(range(o) for o in outputs)):
        starts = [i * s - before for i, s, (before, _) in zip(index, strides, pads)]
        window = tuple(slice(max(0, start), min(n, start + k)) for start, k, n in zip(starts, size, spatial))
        out[(slice(None), slice(None), *index)] = reduce(x[(slice(None), slice(None), *window)], axis=tuple(range(2, x.ndim)))
    return out


@pytest.mark.parametrize("rank, kwargs, shape", POOL_CASES)
def test_max_pooling_matches_keras_and_tensorflow_rule(rank, kwargs, shape):
    k = keras()
    name = f"MaxPooling{rank}D"
    out = compare_with_keras(getattr(pooling, name)(**kwargs), getattr(k.layers, name)(**kwargs), shape)
    x = np.moveaxis(np.random.default_rng(0).normal(size=shape), -1, 1).astype("float32").astype("float64")
    assert_close(out.detach().numpy(), tensorflow_pool(x, kwargs, np.max))


@pytest.mark.parametrize("rank, kwargs, shape", POOL_CASES)
def test_average_pooling_excludes_padding_as_tensorflow_does(rank, kwargs, shape):
    name = f"AveragePooling{rank}D"
    ours = getattr(pooling, name)(**kwargs)
    x = torch.tensor(np.moveaxis(np.random.default_rng(1).normal(size=shape), -1, 1).astype("float32"), requires_grad=True)
    out = ours(x)
    expected = tensorflow_pool(x.detach().double().numpy(), kwargs, np.mean)
    assert_close(out.detach().numpy(), expected)
    x64 = x.detach().double().requires_grad_(True)  # gradients against float64 autograd of the same rule
    ours(x64).backward(torch.ones_like(out, dtype=torch.float64))
    out.backward(torch.ones_like(out))
    assert_close(x.grad.numpy(), x64.grad.numpy(), what="input gradient")
    _, _, pads = _pads(kwargs, shape[1:-1])
    if all(a == b for a, b in pads):  # where Keras' torch backend follows the same rule
        k = keras()
        compare_with_keras(getattr(pooling, name)(**kwargs), getattr(k.layers, name)(**kwargs), shape)


def test_keras_torch_backend_averages_repeated_edges_where_danlu_excludes_padding():
    """The documented difference: asymmetric "same" padding (1 before, 2 after)."""
    k = keras()
    x = np.arange(1, 6, dtype="float32")
    theirs = k.layers.AveragePooling1D(4, 1, padding="same")(x.reshape(1, 5, 1)).detach().numpy().ravel()
    ours = pooling.AveragePooling1D(4, 1, padding="same")(torch.as_tensor(x).reshape(1, 1, 5)).numpy().ravel()
    np.testing.assert_allclose(ours, [2.0, 2.5, 3.5, 4.0, 4.5])  # (1+2+3)/3, ..., (4+5)/2
    np.testing.assert_allclose(theirs, [1.75, 2.5, 3.5, 4.25, 4.75])  # [1,1,2,3], ..., [4,5,5,5]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_keras(rank, kind, keepdims):
    k = keras()
    name = f"Global{kind}Pooling{rank}D"
    shape = (2, *(5, 4, 3)[:rank], 3)
    compare_with_keras(getattr(pooling, name)(keepdims=keepdims), getattr(k.layers, name)(keepdims=keepdims), shape)


def test_global_average_pooling1d_averages_unmasked_steps_as_keras():
    k = keras()
    mask = torch.tensor([[True, True, False, True, False, False], [True] * 6])
    compare_with_keras(pooling.GlobalAveragePooling1D(), k.layers.GlobalAveragePooling1D(), (2, 6, 3),
                       keras_kwargs={"mask": mask}, our_kwargs={"mask": mask})
    ours = pooling.GlobalAveragePooling1D(data_format="channels_last", keepdims=True)
    compare_with_keras(ours, k.layers.GlobalAveragePooling1D(keepdims=True), (2, 6, 3), data_format="channels_last",
                       keras_kwargs={"mask": mask}, our_kwargs={"mask": mask})


@pytest.mark.parametrize("name, kwargs, shape", [
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=1, padding="same"), (2, 7, 3)),
    ("AveragePooling3D", dict(pool_size=2), (1, 4, 5, 4, 2)),
    ("GlobalMaxPooling2D", dict(keepdims=True), (2, 4, 5, 3)),
    ("GlobalAveragePooling3D", dict(), (2, 2, 3, 4, 3)),
])
def test_channels_last_takes_keras_layout_as_is(name, kwargs, shape):
    k = keras()
    ours = getattr(pooling, name)(data_format="channels_last", **kwargs)
    compare_with_keras(ours, getattr(k.layers, name)(**kwargs), shape, data_format="channels_last")


def test_output_shapes_with_unknown_sizes_match_keras():
    k = keras()
    for rank, kwargs, shape in POOL_CASES:
        for kind in ("Max", "Average"):
            theirs = getattr(k.layers, f"{kind}Pooling{rank}D")(**kwargs)
            ours = getattr(pooling, f"{kind}Pooling{rank}D")(**kwargs)
            for keras_shape in (shape, (None, *shape[1:]), (None, *(None,) * rank, shape[-1])):
                expected = tuple(theirs.compute_output_shape(keras_shape))
                got = ours.compute_output_shape((keras_shape[0], keras_shape[-1], *keras_shape[1:-1]))
                assert got == (expected[0], expected[-1], *expected[1:-1]), (kind, rank, kwargs, keras_shape)
