"""Comparing a danlu spatial layer with the same Keras layer (Keras 3.15, torch backend).

Keras runs in its own layout (channels last); danlu gets the same values transposed to
channels first. Both get the same weights (Keras' random ones, danlu's by
``set_weights(keras_layer.get_weights())``), the same input and the same output cotangent;
outputs, input gradients and weight gradients (in Keras' layout) must agree.
"""

import numpy as np
import torch

RTOL = 1e-5


def channels_first(x):
    return x.movedim(-1, 1)


def channels_last(x):
    return x.movedim(1, -1)


def assert_close(ours, theirs, rtol=RTOL, what="output"):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != Keras' {theirs.shape}"
    atol = 1e-6 * max(1.0, float(np.abs(theirs).max(initial=0.0)))  # float32 round-off of the largest value
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def randomize_keras_weights(theirs, rng):
    theirs.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in theirs.get_weights()])


def keras_gradient_of(variable):
    return variable.value.grad.detach().numpy()


def danlu_gradient_of(weight):
    grad = weight.grad.detach()
    layout = getattr(weight, "keras_layout", None)
    return (grad.permute(layout) if layout else grad).numpy()


def compare_with_keras(ours, theirs, keras_input_shape, seed=0, gradients=True, rtol=RTOL, data_format="channels_first",
                       keras_kwargs=None, our_kwargs=None):
    """Run ``theirs`` (Keras, channels last) and ``ours`` on the same random input; compare
    outputs and, with ``gradients``, the gradients w.r.t. the input and every trainable weight.
    ``data_format="channels_last"`` feeds ours Keras' layout as is. Returns our output."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=keras_input_shape).astype("float32")
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs(theirs_x.detach(), **(keras_kwargs or {}))  # builds
    randomize_keras_weights(theirs, rng)
    ours_x = torch.tensor(x if data_format == "channels_last" else np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    ours(ours_x.detach(), **(our_kwargs or {}))
    ours.set_weights(theirs.get_weights())
    theirs_y = theirs(theirs_x, **(keras_kwargs or {}))
    ours_y = ours(ours_x, **(our_kwargs or {}))
    ours_in_keras_layout = ours_y if data_format == "channels_last" or ours_y.ndim != theirs_y.ndim else channels_last(ours_y)
    assert_close(ours_in_keras_layout.detach().numpy(), theirs_y.detach().numpy(), rtol)
    assert tuple(ours.compute_output_shape(tuple(ours_x.shape))) == tuple(ours_y.shape)
    if gradients:
        cotangent = torch.tensor(rng.normal(size=tuple(theirs_y.shape)).astype("float32"))
        theirs_y.backward(cotangent)
        same_layout = data_format == "channels_last" or ours_y.ndim != theirs_y.ndim
        ours_cotangent = cotangent if same_layout else channels_first(cotangent)
        ours_y.backward(ours_cotangent)
        x_grad = ours_x.grad if data_format == "channels_last" else channels_last(ours_x.grad)
        assert_close(x_grad.numpy(), theirs_x.grad.numpy(), rtol, "input gradient")
        assert len(ours.trainable_weights) == len(theirs.trainable_weights)
        for mine, keras_variable in zip(ours.trainable_weights, theirs.trainable_weights):
            assert_close(danlu_gradient_of(mine), keras_gradient_of(keras_variable), rtol, f"gradient of {keras_variable.path}")
    return ours_y


def keras_shape_to_channels_first(shape):
    shape = tuple(shape)
    return (shape[0], shape[-1], *shape[1:-1])
