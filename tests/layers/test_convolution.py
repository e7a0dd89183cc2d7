"""Convolutions without the oracle: output shapes (None sizes too), Keras' fans, channels-last,
configs, and the errors bad arguments get before any weight exists."""

import json
import math

import pytest
import torch

import danlu
from danlu import initializers, regularizers
from danlu.layers import convolution
from danlu.saving import serialization

# (layer, channels-first input shape)
LAYERS = [
    (lambda: convolution.Conv1D(4, 3, padding="causal", dilation_rate=2), (2, 3, 9)),
    (lambda: convolution.Conv1D(4, 4, strides=3, padding="same"), (1, 3, 10)),
    (lambda: convolution.Conv2D(6, (3, 2), strides=(2, 1), groups=3), (2, 3, 9, 7)),
    (lambda: convolution.Conv2D(4, 3, padding="same", dilation_rate=2), (1, 2, 7, 5)),
    (lambda: convolution.Conv3D(2, 3, strides=2, padding="same"), (1, 2, 5, 6, 7)),
    (lambda: convolution.Conv1DTranspose(3, 4, strides=3, padding="same", output_padding=1), (2, 2, 5)),
    (lambda: convolution.Conv2DTranspose(3, 3, strides=2), (1, 2, 4, 3)),
    (lambda: convolution.Conv3DTranspose(2, 2, strides=(1, 2, 3), padding="same"), (1, 2, 2, 3, 2)),
    (lambda: convolution.DepthwiseConv1D(3, depth_multiplier=2, padding="same", strides=2), (2, 3, 9)),
    (lambda: convolution.DepthwiseConv2D(3, dilation_rate=2), (1, 2, 8, 9)),
    (lambda: convolution.SeparableConv1D(4, 3, depth_multiplier=2), (2, 3, 8)),
    (lambda: convolution.SeparableConv2D(4, 3, strides=2, padding="same"), (1, 3, 7, 6)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_compute_output_shape_agrees_with_outputs_and_keeps_unknown_sizes(make, shape):
    layer = make()
    out = layer(torch.randn(shape))
    assert layer.compute_output_shape(shape) == tuple(out.shape)
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *out.shape[1:])
    unknown = (None, shape[1], *(None,) * (len(shape) - 2))
    assert layer.compute_output_shape(unknown) == (None, out.shape[1], *(None,) * (len(shape) - 2))
    symbolic = make()(danlu.Input(unknown[1:]))
    assert symbolic.shape == unknown[:1] + (out.shape[1],) + unknown[2:]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_channels_last_equals_channels_first_on_moved_axes(make, shape):
    first = make()
    last = type(first).from_config({**first.get_config(), "data_format": "channels_last", "name": None})
    x = torch.randn(shape)
    expected = first(x)
    last(x.movedim(1, -1))
    last.set_weights(first.get_weights())
    torch.testing.assert_close(last(x.movedim(1, -1)), expected.movedim(1, -1), rtol=1e-5, atol=1e-6)
    channels_last_shape = (shape[0], *shape[2:], shape[1])
    assert last.compute_output_shape(channels_last_shape) == tuple(expected.movedim(1, -1).shape)


@pytest.mark.parametrize("make, shape", LAYERS)
def test_config_round_trips_through_json(make, shape):
    layer = make()
    x = torch.randn(shape)
    out = layer(x)
    config = json.loads(json.dumps(serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(serialization.deserialize(config))
    assert json.loads(json.dumps(serialization.serialize(clone.get_config()))) == config
    clone(x)
    clone.set_weights(layer.get_weights())
    torch.testing.assert_close(clone(x), out)


def test_config_keeps_initializers_regularizers_constraints_and_activation():
    layer = convolution.SeparableConv2D(
        3, 3, depth_multiplier=2, activation="relu", depthwise_initializer=initializers.HeNormal(seed=1),
        pointwise_regularizer=regularizers.L2(0.1), bias_constraint="non_neg", name="sep",
    )
    config = json.loads(json.dumps(serialization.serialize(layer.get_config())))
    clone = convolution.SeparableConv2D.from_config(serialization.deserialize(config))
    assert clone.name == "sep" and clone.depth_multiplier == 2 and clone.activation is layer.activation
    clone(torch.zeros(1, 2, 5, 5))
    assert len(clone.losses) == 1 and clone.bias.constraint is not None


def test_glorot_uniform_uses_keras_fans_of_the_keras_kernel():
    torch.manual_seed(0)
    # Keras' kernel (k, k, in / groups, filters): fan_in = 9 * 4 / 2, fan_out = 9 * 8 (all filters).
    conv = convolution.Conv2D(8, 3, groups=2)
    conv(torch.zeros(1, 4, 5, 5))
    limit = math.sqrt(6 / (9 * 2 + 9 * 8))
    assert conv.weight.abs().max() <= limit and conv.weight.abs().max() > 0.95 * limit
    transpose = convolution.Conv2DTranspose(6, 3)  # Keras' kernel (k, k, filters, in)
    transpose(torch.zeros(1, 4, 5, 5))
    assert transpose.get_weights()[0].shape == (3, 3, 6, 4)
    assert transpose.weight.abs().max() <= math.sqrt(6 / (9 * 6 + 9 * 4))
    depthwise = convolution.DepthwiseConv2D(3, depth_multiplier=5)  # (k, k, in, multiplier)
    depthwise(torch.zeros(1, 4, 5, 5))
    assert depthwise.kernel.abs().max() > 0.95 * math.sqrt(6 / (9 * 4 + 9 * 5))


def test_weights_are_named_and_shaped_as_keras_says():
    conv = convolution.Conv1D(5, 3, use_bias=False)
    conv(torch.zeros(1, 2, 6))
    assert [w.name for w in conv.weights] == ["kernel"] and conv.bias is None
    assert conv.get_weights()[0].shape == (3, 2, 5) and conv.weight.shape == (5, 2, 3)
    depthwise = convolution.DepthwiseConv2D(2, depth_multiplier=3)
    depthwise(torch.zeros(1, 4, 5, 5))
    assert [w.name for w in depthwise.weights] == ["kernel", "bias"]
    assert [w.shape for w in depthwise.get_weights()] == [(2, 2, 4, 3), (12,)]


def test_same_padding_with_strides_pads_the_odd_pixel_at_the_end():
    conv = convolution.Conv2D(3, 2, strides=2, padding="same")
    x = torch.randn(2, 4, 5, 5)
    out = conv(x)
    manual = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 1, 0, 1)), conv.weight, conv.bias, 2)
    torch.testing.assert_close(out, manual)
    assert out.shape == (2, 3, 3, 3)


def test_bad_arguments_fail_at_construction_with_the_argument_named():
    cases = [
        (lambda: convolution.Conv2D(0, 3), "filters must be a positive int; received filters=0"),
        (lambda: convolution.Conv2D(2, 0),
         "kernel_size must be a positive int or a tuple of 2 positive ints; received kernel_size=0"),
        (lambda: convolution.Conv2D(2, (3, 3, 3)), "kernel_size must be .* tuple of 2"),
        (lambda: convolution.Conv1D(2, 2.5), "kernel_size"),
        (lambda: convolution.Conv3D(2, 3, strides=(1, 0, 1)), "strides must be"),
        (lambda: convolution.Conv2D(2, 3, padding="full"), "padding must be 'valid' or 'same'; received padding='full'"),
        (lambda: convolution.Conv2D(2, 3, padding="causal"), "padding must be 'valid' or 'same'; received padding='causal'"),
        (lambda: convolution.Conv1D(2, 3, padding="casual"), "'valid', 'same' or 'causal'.*Did you mean \"causal\""),
        (lambda: convolution.Conv2D(2, 3, data_format="channel_last"), "Unknown data_format.*Did you mean \"channels_last\""),
        (lambda: convolution.Conv2D(4, 3, groups=3), "filters must be divisible by groups; received filters=4, groups=3"),
        (lambda: convolution.Conv2D(4, 3, groups=0), "groups must be a positive int"),
        (lambda: convolution.Conv2D(4, 3, strides=2, dilation_rate=2), "strides > 1 cannot be combined with dilation_rate > 1"),
        (lambda: convolution.Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding must be smaller than strides"),
        (lambda: convolution.Conv1DTranspose(4, 3, output_padding=-1), "output_padding must be a non-negative int"),
        (lambda: convolution.Conv1DTranspose(4, 3, padding="causal"), "padding must be 'valid' or 'same'"),
        (lambda: convolution.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier must be a positive int"),
        (lambda: convolution.SeparableConv1D(2, 3, padding="causal"), "padding must be 'valid' or 'same'"),
        (lambda: convolution.Conv2D(2, 3, kernel_initializer="glorot_unifrom"), 'Did you mean "glorot_uniform"'),
        (lambda: convolution.Conv2D(2, 3, kernel_regularizer="l3"), "regularizer"),
        (lambda: convolution.Conv2D(2, 3, activation="rellu"), 'Did you mean "relu"'),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()


def test_bad_inputs_fail_before_any_weight_exists():
    conv = convolution.Conv2D(4, 3, groups=2)
    message = r"Conv2D expects inputs of rank 4 \(batch, channels, height, width\); received shape \(2, 3, 5\)"
    with pytest.raises(ValueError, match=message):
        conv(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="input channels \\(3\\) of Conv2D must be divisible by groups=2"):
        conv(torch.zeros(1, 3, 5, 5))
    assert not conv.built and conv.weights == []
    with pytest.raises(ValueError, match="zero or negative"):
        convolution.Conv1D(2, 5, dilation_rate=2)(torch.zeros(1, 1, 8))
    with pytest.raises(ValueError, match="rank 5 \\(batch, depth, height, width, channels\\)"):
        convolution.Conv3D(2, 3, data_format="channels_last")(torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match="channel axis .* known"):
        convolution.DepthwiseConv1D(3)(danlu.Input((None, 5)))
    built = convolution.Conv1D(2, 3)
    built(torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        built(torch.zeros(1, 2, 5, 5))
