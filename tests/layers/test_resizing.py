"""UpSampling / ZeroPadding / Cropping without the oracle: values, shapes, configs, errors."""

import json

import pytest
import torch

import danlu
from danlu.layers import resizing
from danlu.saving import serialization

LAYERS = [
    (lambda: resizing.UpSampling1D(3), (2, 3, 4)),
    (lambda: resizing.UpSampling2D((2, 3), interpolation="bilinear"), (1, 2, 3, 4)),
    (lambda: resizing.UpSampling3D((1, 2, 3)), (1, 2, 2, 3, 2)),
    (lambda: resizing.ZeroPadding1D((2, 0)), (2, 3, 4)),
    (lambda: resizing.ZeroPadding2D(((1, 2), (3, 0))), (1, 2, 3, 4)),
    (lambda: resizing.ZeroPadding3D(2), (1, 1, 2, 2, 2)),
    (lambda: resizing.Cropping1D((0, 2)), (2, 3, 4)),
    (lambda: resizing.Cropping2D((1, (0, 2))), (1, 2, 4, 5)),
    (lambda: resizing.Cropping3D(), (1, 1, 3, 4, 5)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_shapes_configs_and_channels_last(make, shape):
    layer = make()
    x = torch.randn(shape)
    out = layer(x)
    assert layer.compute_output_shape(shape) == tuple(out.shape)
    unknown = (None, shape[1], *(None,) * (len(shape) - 2))
    assert make()(danlu.Input(unknown[1:])).shape == unknown
    config = json.loads(json.dumps(serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(serialization.deserialize(config))
    torch.testing.assert_close(clone(x), out)
    last = type(layer).from_config({**layer.get_config(), "data_format": "channels_last", "name": None})
    torch.testing.assert_close(last(x.movedim(1, -1)), out.movedim(1, -1))


def test_values():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]).unsqueeze(0)  # (1, 1, 2, 2)
    assert resizing.UpSampling2D()(x).squeeze().tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert resizing.UpSampling1D(2)(torch.tensor([[[1.0, 2.0]]])).tolist() == [[[1, 1, 2, 2]]]
    assert resizing.ZeroPadding1D((1, 2))(torch.tensor([[[5.0]]])).tolist() == [[[0, 5, 0, 0]]]
    assert resizing.Cropping2D(((1, 0), (0, 1)))(x).tolist() == [[[[3.0]]]]
    assert resizing.ZeroPadding2D().padding == ((1, 1), (1, 1)) and resizing.Cropping1D().cropping == ((1, 1),)
    bilinear = resizing.UpSampling2D(2, interpolation="bilinear")(x.to(torch.bfloat16))
    assert bilinear.dtype == torch.bfloat16  # computed in float32 as Keras' torch backend, cast back


def test_bad_arguments_and_inputs():
    cases = [
        (lambda: resizing.UpSampling2D(interpolation="bilinaer"), 'Unknown interpolation identifier .* Did you mean "bilinear"'),
        (lambda: resizing.UpSampling2D(interpolation="lanczos3"), "not available on PyTorch"),
        (lambda: resizing.UpSampling1D(0), "size must be a positive int"),
        (lambda: resizing.UpSampling3D((2, 2)), "size must be a positive int or a tuple of 3 positive ints"),
        (lambda: resizing.ZeroPadding2D(-1), "padding must be a non-negative int"),
        (lambda: resizing.ZeroPadding2D((1, 2, 3)), "padding must be"),
        (lambda: resizing.ZeroPadding1D((1, 2, 3)), r"padding must be a non-negative int, a tuple \(before, after\)"),
        (lambda: resizing.Cropping3D(((1, 1), (1, 1), (1,))), "cropping must be"),
        (lambda: resizing.Cropping2D(data_format="channels-last"), 'Did you mean "channels_last"'),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(ValueError, match="must leave something of each spatial axis"):
        resizing.Cropping1D((2, 2))(torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="must leave something"):
        resizing.Cropping2D(2)(danlu.Input((1, 4, None)))
    with pytest.raises(ValueError, match=r"UpSampling3D expects inputs of rank 5 \(batch, channels, depth, height, width\)"):
        resizing.UpSampling3D()(torch.zeros(1, 1, 2, 2))
