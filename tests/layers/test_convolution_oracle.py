"""Convolutions against Keras 3.15 (torch backend): same weights, same inputs -> same outputs,
input gradients and weight gradients; Keras' weight layout both ways; regularizers and
constraints as Keras applies them."""

import numpy as np
import pytest
import torch

import danlu
from danlu import constraints, regularizers
from danlu.layers import convolution
from tests.layers.spatial_oracle import assert_close, compare_with_keras, randomize_keras_weights
from tests.oracle import keras

pytestmark = pytest.mark.oracle

CONV = {1: "Conv1D", 2: "Conv2D", 3: "Conv3D"}
CONV_CASES = [
    (1, dict(filters=4, kernel_size=3), (2, 9, 3)),
    (1, dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), (2, 11, 3)),
    (1, dict(filters=5, kernel_size=4, padding="causal", dilation_rate=3), (1, 13, 2)),
    (1, dict(filters=4, kernel_size=3, padding="causal", strides=2), (2, 10, 3)),
    (1, dict(filters=6, kernel_size=3, padding="causal", dilation_rate=2, groups=2), (2, 9, 4)),
    (1, dict(filters=4, kernel_size=4, padding="same", strides=3), (2, 11, 3)),
    (1, dict(filters=6, kernel_size=2, padding="same", dilation_rate=2, groups=3), (2, 8, 6)),
    (1, dict(filters=4, kernel_size=5, dilation_rate=2, use_bias=False, activation="tanh"), (3, 15, 2)),
    (2, dict(filters=4, kernel_size=3, padding="same", strides=2), (2, 7, 6, 3)),
    (2, dict(filters=4, kernel_size=(3, 2), padding="SAME"), (1, 5, 5, 3)),
    (2, dict(filters=6, kernel_size=3, strides=(2, 3), groups=2), (2, 9, 10, 4)),
    (2, dict(filters=3, kernel_size=3, padding="same", dilation_rate=(2, 1), activation="relu"), (2, 8, 7, 2)),
    (2, dict(filters=4, kernel_size=4, padding="same", strides=2), (1, 6, 5, 2)),
    (3, dict(filters=4, kernel_size=3, padding="same", strides=2), (2, 5, 6, 7, 2)),
    (3, dict(filters=4, kernel_size=2, dilation_rate=2, groups=2), (1, 5, 5, 6, 4)),
    (3, dict(filters=2, kernel_size=(1, 2, 3), padding="same"), (2, 3, 4, 5, 3)),
]


@pytest.mark.parametrize("rank, kwargs, shape", CONV_CASES)
def test_conv_matches_keras_outputs_and_gradients(rank, kwargs, shape):
    k = keras()
    name = CONV[rank]
    compare_with_keras(getattr(convolution, name)(**kwargs), getattr(k.layers, name)(**kwargs), shape)


def test_conv1d_causal_dilated_output_only_sees_the_past():
    """Keras' causal padding: (k - 1) * dilation zeros in front; output t depends on inputs <= t."""
    conv = convolution.Conv1D(1, 3, padding="causal", dilation_rate=3, use_bias=False, kernel_initializer="ones")
    x = torch.zeros(1, 1, 12, requires_grad=True)
    conv(x)[0, 0, 7].backward()
    assert torch.nonzero(x.grad[0, 0]).flatten().tolist() == [1, 4, 7]


TRANSPOSE = {1: "Conv1DTranspose", 2: "Conv2DTranspose", 3: "Conv3DTranspose"}
TRANSPOSE_CASES = [
    (1, dict(filters=3, kernel_size=3), (2, 5, 2)),
    (1, dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 2)),
    (1, dict(filters=3, kernel_size=4, strides=3, padding="same", output_padding=1), (1, 4, 2)),
    (1, dict(filters=3, kernel_size=2, strides=3), (2, 4, 2)),  # strides > kernel: Keras' default output_padding
    (1, dict(filters=3, kernel_size=3, strides=3, padding="same"), (2, 4, 2)),
    (1, dict(filters=3, kernel_size=3, dilation_rate=2, padding="same"), (2, 6, 2)),
    (1, dict(filters=3, kernel_size=3, dilation_rate=2), (2, 6, 2)),
    (2, dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 3)),
    (2, dict(filters=4, kernel_size=(3, 4), strides=(2, 3), padding="same", output_padding=(1, 2)), (1, 3, 4, 2)),
    (2, dict(filters=4, kernel_size=3, strides=2, output_padding=1), (2, 3, 3, 2)),
    (2, dict(filters=2, kernel_size=5, strides=4, padding="same"), (2, 3, 2, 2)),
    (2, dict(filters=2, kernel_size=2, strides=5, padding="same", output_padding=3), (1, 2, 3, 2)),
    (2, dict(filters=2, kernel_size=3, padding="same", dilation_rate=2, activation="relu", use_bias=False), (2, 5, 5, 3)),
    (3, dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 3, 4, 2, 2)),
    (3, dict(filters=2, kernel_size=2, strides=(1, 2, 3), output_padding=(0, 1, 2)), (2, 2, 3, 2, 3)),
]


@pytest.mark.parametrize("rank, kwargs, shape", TRANSPOSE_CASES)
def test_conv_transpose_matches_keras_sizes_outputs_and_gradients(rank, kwargs, shape):
    k = keras()
    name = TRANSPOSE[rank]
    ours, theirs = getattr(convolution, name)(**kwargs), getattr(k.layers, name)(**kwargs)
    out = compare_with_keras(ours, theirs, shape)
    expected = theirs.compute_output_shape((None, *(None,) * rank, shape[-1]))
    assert ours.compute_output_shape((None, shape[-1], *(None,) * rank)) == (None, expected[-1], *expected[1:-1])
    keras_sized = theirs.compute_output_shape(shape)
    assert tuple(out.shape) == (keras_sized[0], keras_sized[-1], *keras_sized[1:-1])


DEPTHWISE = {1: "DepthwiseConv1D", 2: "DepthwiseConv2D"}
DEPTHWISE_CASES = [
    (1, dict(kernel_size=3), (2, 7, 3)),
    (1, dict(kernel_size=4, depth_multiplier=2, padding="same", strides=2), (2, 9, 3)),
    (1, dict(kernel_size=3, dilation_rate=2, padding="same", use_bias=False), (1, 9, 2)),
    (2, dict(kernel_size=3, depth_multiplier=3, padding="same", strides=2), (2, 7, 6, 2)),
    (2, dict(kernel_size=(2, 3), dilation_rate=(2, 1), activation="relu"), (2, 6, 6, 3)),
    (2, dict(kernel_size=3, strides=2, dilation_rate=2, padding="same"), (1, 9, 9, 2)),  # Keras allows both here
]


@pytest.mark.parametrize("rank, kwargs, shape", DEPTHWISE_CASES)
def test_depthwise_conv_matches_keras(rank, kwargs, shape):
    k = keras()
    name = DEPTHWISE[rank]
    compare_with_keras(getattr(convolution, name)(**kwargs), getattr(k.layers, name)(**kwargs), shape)


SEPARABLE = {1: "SeparableConv1D", 2: "SeparableConv2D"}
SEPARABLE_CASES = [
    (1, dict(filters=4, kernel_size=3), (2, 8, 3)),
    (1, dict(filters=4, kernel_size=3, depth_multiplier=2, padding="same", strides=2), (2, 9, 3)),
    (2, dict(filters=5, kernel_size=3, depth_multiplier=2, padding="same", strides=2), (2, 7, 6, 3)),
    (2, dict(filters=3, kernel_size=(3, 2), dilation_rate=2, use_bias=False), (1, 8, 7, 2)),
    (2, dict(filters=3, kernel_size=3, padding="same", activation="relu"), (1, 5, 5, 2)),
]


@pytest.mark.parametrize("rank, kwargs, shape", SEPARABLE_CASES)
def test_separable_conv_matches_keras(rank, kwargs, shape):
    k = keras()
    name = SEPARABLE[rank]
    ours, theirs = getattr(convolution, name)(**kwargs), getattr(k.layers, name)(**kwargs)
    compare_with_keras(ours, theirs, shape)
    assert [w.name for w in ours.weights] == [v.name for v in theirs.weights]  # depthwise, pointwise, bias


@pytest.mark.parametrize("name, kwargs, shape", [
    ("Conv2D", dict(filters=4, kernel_size=3, padding="same", strides=2, groups=1), (2, 7, 6, 3)),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), (2, 9, 3)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 2)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (1, 5, 6, 2)),
    ("SeparableConv1D", dict(filters=3, kernel_size=3, padding="same", strides=2), (2, 7, 2)),
    ("Conv3D", dict(filters=2, kernel_size=2), (1, 3, 4, 3, 2)),
])
def test_channels_last_takes_keras_layout_as_is(name, kwargs, shape):
    k = keras()
    ours = getattr(convolution, name)(data_format="channels_last", **kwargs)
    compare_with_keras(ours, getattr(k.layers, name)(**kwargs), shape, data_format="channels_last")


def test_keras_and_danlu_weights_round_trip_exactly():
    k = keras()
    rng = np.random.default_rng(3)
    for ours, theirs, shape in [
        (convolution.Conv2D(4, (3, 2), groups=2), k.layers.Conv2D(4, (3, 2), groups=2), (1, 5, 5, 4)),
        (convolution.Conv3DTranspose(2, (1, 2, 3)), k.layers.Conv3DTranspose(2, (1, 2, 3)), (1, 3, 3, 3, 3)),
        (convolution.DepthwiseConv1D(3, depth_multiplier=2), k.layers.DepthwiseConv1D(3, depth_multiplier=2), (1, 5, 3)),
        (convolution.SeparableConv2D(3, 2, depth_multiplier=2), k.layers.SeparableConv2D(3, 2, depth_multiplier=2), (1, 4, 4, 2)),
    ]:
        theirs(np.zeros(shape, "float32"))
        ours(torch.zeros(shape[0], shape[-1], *shape[1:-1]))
        randomize_keras_weights(theirs, rng)
        ours.set_weights(theirs.get_weights())
        assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
        for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(mine, keras_weight)


def test_regularizers_and_activity_regularizer_add_keras_penalties():
    k = keras()
    theirs = k.layers.Conv2D(3, 3, padding="same", kernel_regularizer="l2", bias_regularizer=k.regularizers.L1(0.3),
                             activity_regularizer="l2")
    ours = convolution.Conv2D(3, 3, padding="same", kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.3),
                              activity_regularizer="l2")
    # Batch of one: Keras 3 divides the activity penalty by the batch size, which then changes nothing.
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 2)).astype("float32")
    compare_with_keras(ours, theirs, x.shape, gradients=False)
    theirs_out, ours_out = theirs(x), ours(torch.as_tensor(x).permute(0, 3, 1, 2))
    assert_close(ours_out.detach().permute(0, 2, 3, 1).numpy(), theirs_out.detach().numpy())
    ours_losses = sorted(float(v.detach()) for v in ours.losses)
    theirs_losses = sorted(float(v.detach()) for v in theirs.losses)
    assert len(ours_losses) == 3
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-5)


@pytest.mark.parametrize("name, kwargs, shape, keyword", [
    ("Conv2D", dict(filters=3, kernel_size=3), (1, 5, 5, 2), "kernel_constraint"),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3), (1, 5, 2), "kernel_constraint"),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2), (1, 5, 5, 2), "depthwise_constraint"),
    ("SeparableConv1D", dict(filters=3, kernel_size=3), (1, 5, 2), "pointwise_constraint"),
])
def test_constraints_act_on_keras_axes(name, kwargs, shape, keyword):
    k = keras()
    axis = list(range(len(shape) - 1))  # Keras' advice: every axis of the kernel but the last
    theirs = getattr(k.layers, name)(**kwargs, **{keyword: k.constraints.MaxNorm(0.5, axis=axis)})
    ours = getattr(convolution, name)(**kwargs, **{keyword: constraints.MaxNorm(0.5, axis=axis)})
    compare_with_keras(ours, theirs, shape, gradients=False)
    for mine, keras_variable in zip(ours.weights, theirs.weights):
        if keras_variable.constraint is None:
            continue
        constraints.apply(mine, mine.keras_layout)
        expected = keras_variable.constraint(keras_variable.value).detach().numpy()
        mine_keras = mine.detach().permute(mine.keras_layout).numpy()
        assert_close(mine_keras, expected, what=f"constrained {keras_variable.path}")


def test_a_keras_cnn_comes_over_with_its_weights():
    k = keras()
    from danlu.layers import pooling, resizing

    def stack(layers_module, conv_module, pool_module, resize_module):
        return [
            conv_module.Conv2D(4, 3, padding="same", activation="relu"),
            conv_module.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same"),
            conv_module.SeparableConv2D(5, 3, padding="same", activation="tanh"),
            conv_module.Conv2DTranspose(3, 3, strides=2, padding="same"),
            pool_module.MaxPooling2D(3, strides=2, padding="same"),
            resize_module.UpSampling2D(interpolation="bilinear"),
            resize_module.ZeroPadding2D(((1, 0), (2, 1))),
            resize_module.Cropping2D((1, 2)),
            pool_module.GlobalAveragePooling2D(),
            layers_module.Dense(2),
        ]

    theirs = k.Sequential([k.Input((9, 9, 3)), *stack(k.layers, k.layers, k.layers, k.layers)])
    ours = danlu.Sequential([danlu.Input((3, 9, 9)), *stack(danlu.layers, convolution, pooling, resizing)])
    randomize_keras_weights(theirs, np.random.default_rng(5))
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(6).normal(size=(2, 9, 9, 3)).astype("float32")
    assert_close(ours(torch.as_tensor(x).permute(0, 3, 1, 2)).detach().numpy(), theirs(x).detach().numpy())
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
