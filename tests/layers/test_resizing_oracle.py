"""UpSampling, ZeroPadding and Cropping against Keras 3.15 (torch backend): outputs and input
gradients, every argument form, channels-last too."""

import pytest

from danlu.layers import resizing
from tests.layers.spatial_oracle import compare_with_keras
from tests.oracle import keras

pytestmark = pytest.mark.oracle

CASES = [
    ("UpSampling1D", dict(), (2, 5, 3)),
    ("UpSampling1D", dict(size=3), (1, 4, 2)),
    ("UpSampling2D", dict(), (2, 3, 4, 2)),
    ("UpSampling2D", dict(size=(2, 3)), (1, 3, 5, 2)),
    ("UpSampling2D", dict(size=(3, 2), interpolation="bilinear"), (2, 4, 5, 3)),
    ("UpSampling2D", dict(size=(1, 4), interpolation="bilinear"), (1, 3, 3, 1)),
    ("UpSampling2D", dict(size=2, interpolation="bicubic"), (2, 5, 4, 2)),
    ("UpSampling3D", dict(), (1, 2, 3, 2, 2)),
    ("UpSampling3D", dict(size=(2, 1, 3)), (2, 2, 3, 2, 1)),
    ("ZeroPadding1D", dict(), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=(1, 3)), (1, 4, 2)),
    ("ZeroPadding2D", dict(), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=(2, 1)), (1, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 3))), (1, 3, 4, 2)),
    ("ZeroPadding3D", dict(), (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", dict(padding=(1, 2, 0)), (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", dict(padding=((1, 0), (0, 2), (2, 1))), (2, 2, 3, 2, 1)),
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 2)), (1, 4, 2)),
    ("Cropping2D", dict(), (2, 3, 4, 2)),
    ("Cropping2D", dict(cropping=1), (1, 3, 4, 2)),
    ("Cropping2D", dict(cropping=(2, 1)), (1, 5, 4, 2)),
    ("Cropping2D", dict(cropping=((1, 0), (0, 2))), (1, 3, 4, 2)),
    ("Cropping3D", dict(), (1, 3, 4, 5, 2)),
    ("Cropping3D", dict(cropping=(0, 1, 2)), (2, 2, 3, 5, 1)),
    ("Cropping3D", dict(cropping=((1, 0), (0, 2), (2, 1))), (1, 3, 4, 5, 2)),
]


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_matches_keras_outputs_and_gradients(name, kwargs, shape):
    k = keras()
    compare_with_keras(getattr(resizing, name)(**kwargs), getattr(k.layers, name)(**kwargs), shape)


@pytest.mark.parametrize("name, kwargs, shape", [c for c in CASES if c[0][-2:] != "1D" or c[0] == "ZeroPadding1D"])
def test_channels_last_takes_keras_layout_as_is(name, kwargs, shape):
    k = keras()
    ours = getattr(resizing, name)(data_format="channels_last", **kwargs)
    compare_with_keras(ours, getattr(k.layers, name)(**kwargs), shape, data_format="channels_last")


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_output_shapes_with_unknown_sizes_match_keras(name, kwargs, shape):
    k = keras()
    theirs, ours = getattr(k.layers, name)(**kwargs), getattr(resizing, name)(**kwargs)
    rank = len(shape) - 2
    for keras_shape in (shape, (None, *shape[1:]), (None, *(None,) * rank, shape[-1])):
        expected = tuple(theirs.compute_output_shape(keras_shape))
        got = ours.compute_output_shape((keras_shape[0], keras_shape[-1], *keras_shape[1:-1]))
        assert got == (expected[0], expected[-1], *expected[1:-1])
