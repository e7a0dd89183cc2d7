"""Pooling without the oracle: shapes (None sizes too), configs, channels-last, errors."""

import json

import pytest
import torch

import danlu
from danlu.layers import pooling
from danlu.saving import serialization

LAYERS = [
    (lambda: pooling.MaxPooling1D(3, strides=2, padding="same"), (2, 3, 8)),
    (lambda: pooling.AveragePooling1D(2), (1, 2, 7)),
    (lambda: pooling.MaxPooling2D((3, 2), padding="same"), (2, 3, 7, 5)),
    (lambda: pooling.AveragePooling2D(3, strides=2, padding="same"), (1, 2, 6, 6)),
    (lambda: pooling.MaxPooling3D(2), (1, 2, 4, 5, 6)),
    (lambda: pooling.AveragePooling3D((1, 2, 3), strides=1, padding="same"), (1, 2, 3, 4, 5)),
    (lambda: pooling.GlobalAveragePooling1D(), (2, 3, 5)),
    (lambda: pooling.GlobalMaxPooling2D(keepdims=True), (2, 3, 5, 4)),
    (lambda: pooling.GlobalAveragePooling3D(keepdims=True), (1, 2, 3, 4, 5)),
    (lambda: pooling.GlobalMaxPooling3D(), (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_compute_output_shape_agrees_with_outputs_and_keeps_unknown_sizes(make, shape):
    layer = make()
    out = layer(torch.randn(shape))
    assert layer.compute_output_shape(shape) == tuple(out.shape)
    unknown = (None, shape[1], *(None,) * (len(shape) - 2))
    expected = tuple(None if i == 0 or (i >= 2 and n != 1) else n for i, n in enumerate(out.shape))
    assert layer.compute_output_shape(unknown) == expected
    assert make()(danlu.Input(unknown[1:])).shape == expected


@pytest.mark.parametrize("make, shape", LAYERS)
def test_channels_last_equals_channels_first_on_moved_axes(make, shape):
    first = make()
    last = type(first).from_config({**first.get_config(), "data_format": "channels_last", "name": None})
    x = torch.randn(shape)
    expected = first(x)
    got = last(x.movedim(1, -1))
    torch.testing.assert_close(got, expected.movedim(1, -1) if expected.ndim == x.ndim else expected)
    assert last.compute_output_shape((shape[0], *shape[2:], shape[1])) == tuple(got.shape)


@pytest.mark.parametrize("make, shape", LAYERS)
def test_config_round_trips_through_json(make, shape):
    layer = make()
    config = json.loads(json.dumps(serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(serialization.deserialize(config))
    assert json.loads(json.dumps(serialization.serialize(clone.get_config()))) == config
    x = torch.randn(shape)
    torch.testing.assert_close(clone(x), layer(x))


def test_keras_defaults_and_values():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert pooling.MaxPooling2D().pool_size == (2, 2) and pooling.MaxPooling2D().strides == (2, 2)
    assert pooling.MaxPooling3D().pool_size == (2, 2, 2) and pooling.MaxPooling1D().padding == "valid"
    torch.testing.assert_close(pooling.MaxPooling2D()(x), torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
    torch.testing.assert_close(pooling.AveragePooling2D()(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    # "same": window 2 at stride 2 over 3 steps pads one zero at the end, which does not count.
    torch.testing.assert_close(pooling.AveragePooling1D(2, padding="same")(torch.tensor([[[1.0, 2.0, 3.0]]])),
                               torch.tensor([[[1.5, 3.0]]]))
    torch.testing.assert_close(pooling.MaxPooling1D(2, padding="same")(torch.tensor([[[-1.0, -2.0, -3.0]]])),
                               torch.tensor([[[-1.0, -3.0]]]))
    assert pooling.MaxPool2D is pooling.MaxPooling2D and pooling.GlobalAvgPool1D is pooling.GlobalAveragePooling1D


def test_global_average_pooling1d_mask_counts_unmasked_steps():
    x = torch.tensor([[[1.0, 2.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(pooling.GlobalAveragePooling1D()(x, mask=mask), torch.tensor([[1.5]]))


def test_bad_arguments_and_inputs():
    cases = [
        (lambda: pooling.MaxPooling2D(0), "pool_size must be a positive int or a tuple of 2 positive ints; received pool_size=0"),
        (lambda: pooling.MaxPooling1D(2, strides=(1, 1)), "strides must be a positive int or a tuple of 1 positive ints"),
        (lambda: pooling.AveragePooling2D(2, padding="causal"), "padding must be 'valid' or 'same'; received padding='causal'"),
        (lambda: pooling.MaxPooling3D(padding="sme"), 'Did you mean "same"'),
        (lambda: pooling.GlobalMaxPooling2D(data_format="NHWC"), "Unknown data_format identifier 'NHWC'"),
        (lambda: pooling.GlobalAveragePooling2D(keepdims="yes"), "keepdims must be True or False"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(ValueError, match=r"MaxPooling2D expects inputs of rank 4 \(batch, channels, height, width\)"):
        pooling.MaxPooling2D()(torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="GlobalAveragePooling1D expects inputs of rank 3"):
        pooling.GlobalAveragePooling1D()(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="zero or negative"):
        pooling.MaxPooling1D(4).compute_output_shape((1, 2, 3))
    with pytest.raises(ValueError, match="zero or negative"):
        pooling.AveragePooling2D(4)(danlu.Input((2, 3, 8)))
