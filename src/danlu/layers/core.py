"""Core layers (Keras 3.15): Dense, Activation, Dropout, Flatten, Reshape, Lambda, Embedding."""

from __future__ import annotations

import inspect
import math
import warnings

import torch
import torch.nn.functional as F

from danlu import activations
from danlu._validation import check_number, check_positive_int
from danlu.layers.base import KernelLayer, Layer


def _no_lora_or_quantization(layer, lora_rank, quantization_config):
    if lora_rank is not None or quantization_config is not None:
        raise ValueError(
            f"{layer} does not implement LoRA or quantization; received lora_rank={lora_rank!r}, "
            f"quantization_config={quantization_config!r}. Leave them None."
        )


class Dense(KernelLayer):
    """``activation(inputs @ kernel + bias)`` on the last axis of inputs of any rank >= 2
    (``(batch, ..., input_dim) -> (batch, ..., units)``).

    Keras arguments and defaults: ``units``, ``activation=None``, ``use_bias=True``,
    ``kernel_initializer="glorot_uniform"``, ``bias_initializer="zeros"``,
    ``kernel_regularizer``, ``bias_regularizer``, ``activity_regularizer``,
    ``kernel_constraint``, ``bias_constraint`` (LoRA and quantization are not implemented:
    ``lora_rank`` / ``quantization_config`` must stay None). Masks pass through. The input
    size is taken from the first input. The weight is stored in PyTorch's layout, ``weight``
    of shape ``(units, input_dim)`` as in ``nn.Linear`` (its fastest form); ``kernel`` is the
    same tensor in Keras' shape ``(input_dim, units)``, which `get_weights` returns.
    """

    input_rank_hint = 2  # a (batch,) input becomes (batch, 1), as tf.keras expands 1-D data

    supports_masking = True

    def __init__(
        self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
        bias_constraint=None, lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs,
    ):
        check_positive_int("units", units)
        _no_lora_or_quantization("Dense", lora_rank, quantization_config)
        self.units = units
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         kernel_constraint, bias_constraint, activity_regularizer=activity_regularizer, **kwargs)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense needs inputs of rank >= 2 with a known last axis; received shape {tuple(input_shape)}.")
        fans = (float(input_shape[-1]), float(self.units))
        self.add_kernel_and_bias((self.units, input_shape[-1]), self.units, fans, keras_layout=(1, 0))

    @property
    def kernel(self):
        """The weight in Keras' shape ``(input_dim, units)`` (a view of ``weight``)."""
        return self.weight.T

    def call(self, inputs):
        # The weights read from the parameter table: ``self.weight`` reaches it only after a
        # failed attribute lookup (~0.5 us each). A weight taken out of the table (pruning,
        # weight norm, parametrizations) is read the ordinary way.
        parameters = self._parameters
        weight, bias = parameters.get("weight"), parameters.get("bias")
        if weight is None:
            weight = self.weight
        if bias is None:
            bias = self.bias
        outputs = F.linear(inputs, weight, bias)
        activation = self.activation
        return outputs if activation is activations.linear else activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)


class Activation(Layer):
    """Apply an activation by name (every `danlu.activations` name: ``"relu"``,
    ``"softmax"``, ``"gelu"``, ``"sparsemax"``, ...) or a callable. Masks pass through."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        self.activation = activations.get(activation)
        super().__init__(**kwargs)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Layer):
    """While training, zero each input with probability ``rate`` and scale the others by
    ``1 / (1 - rate)``; the identity in inference.

    Keras arguments: ``rate`` in [0, 1) (1 would divide by zero), ``noise_shape=None`` (the
    shape of the keep/drop pattern, broadcast over the inputs: ``(batch, 1, features)`` drops
    the same features at every step; ``None`` entries take the input's size; axes are those
    of danlu's layout), ``seed``. Randomness comes from torch's global generator (seed it
    with `danlu.utils.set_random_seed` / ``torch.manual_seed``): ``seed`` is recorded in the
    config but does not start a generator of its own. Masks pass through.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        check_number("rate", rate, low=0, high=1, high_open=True)
        if noise_shape is not None:
            if isinstance(noise_shape, str) or not hasattr(noise_shape, "__iter__"):
                raise ValueError(f"noise_shape must be a tuple of positive ints or None; received noise_shape={noise_shape!r}.")
            noise_shape = tuple(noise_shape)
            for d in noise_shape:
                if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0):
                    raise ValueError(f"noise_shape must be a tuple of positive ints or None; received noise_shape={noise_shape!r}.")
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed
        super().__init__(**kwargs)

    def call(self, inputs):
        if not self.training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, True)
        if len(self.noise_shape) != inputs.ndim:
            raise ValueError(f"noise_shape={self.noise_shape} must have one entry per input axis; the inputs have shape {tuple(inputs.shape)}.")
        shape = [size if d is None else d for d, size in zip(self.noise_shape, inputs.shape)]
        keep = torch.empty(shape, dtype=inputs.dtype, device=inputs.device).bernoulli_(1.0 - self.rate)
        return inputs * keep * (1.0 / (1.0 - self.rate))

    def compute_output_shape(self, input_shape):
        return input_shape


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(batch, d1, ..., dn) -> (batch, d1 * ... * dn)``.

    ``data_format`` (Keras) says how the inputs are laid out, to choose the order of the
    flattened values. ``None`` (danlu's default) and ``"channels_last"`` flatten in memory
    order, PyTorch's ``x.flatten(1)``. ``"channels_first"`` does what Keras does for
    channels-first inputs: move the channel axis to the end first, so that the values come
    in the order a channels-last Keras model flattens them and the ``Dense`` that follows can
    take that model's kernel unchanged (``Conv2D -> Flatten("channels_first") -> Dense`` on
    danlu's ``(batch, c, h, w)`` matches Keras' ``Conv2D -> Flatten -> Dense`` on
    ``(batch, h, w, c)`` weight for weight).
    """

    def __init__(self, data_format=None, **kwargs):
        if data_format not in (None, "channels_first", "channels_last"):
            raise ValueError(f"data_format must be None, 'channels_first' or 'channels_last'; received data_format={data_format!r}.")
        self.data_format = data_format
        super().__init__(**kwargs)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


def reshaped(sample_shape, target_shape, argument="target_shape"):
    """Keras' ``compute_reshape_output_shape``: ``target_shape`` with its -1 resolved (None
    when the sample shape has unknown sizes); raises when the sizes cannot match."""
    sample_shape, target_shape = tuple(sample_shape), tuple(target_shape)
    if None in sample_shape:
        return tuple(None if d == -1 else d for d in target_shape)
    size, known = math.prod(sample_shape), math.prod(d for d in target_shape if d != -1)
    if -1 not in target_shape:
        fits = known == size
    else:
        fits = known != 0 and size % known == 0
    if not fits:
        raise ValueError(
            f"Reshape cannot turn samples of shape {sample_shape} ({size} values) into {argument}={target_shape}."
        )
    return tuple(size // known if d == -1 else d for d in target_shape)


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (the batch axis is kept; at most one entry may
    be -1, inferred from the others, as Keras). Sizes refer to danlu's layout."""

    def __init__(self, target_shape, **kwargs):
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise ValueError(f"target_shape must be a tuple of ints; received target_shape={target_shape!r}.") from None
        if any(isinstance(d, bool) or not isinstance(d, int) or d < -1 for d in target_shape) or target_shape.count(-1) > 1:
            raise ValueError(
                f"target_shape must hold non-negative ints and at most one -1; received target_shape={target_shape!r}."
            )
        self.target_shape = target_shape
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], *reshaped(inputs.shape[1:], self.target_shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *reshaped(tuple(input_shape)[1:], self.target_shape))


class Lambda(Layer):
    """Wrap a function of the inputs as a layer: ``Lambda(lambda x: x ** 2)``.

    Keras arguments: ``function``; ``output_shape`` (a shape without the batch axis, or a
    function of the input shape; only `compute_output_shape` reads it: danlu infers output
    shapes by running the function on fake tensors); ``mask`` (a function ``(inputs, mask) ->
    mask`` or a fixed mask; when None the layer drops masks, as Keras); ``arguments`` (a dict
    of keyword arguments for the function). A function with a ``mask`` or ``training``
    parameter receives them.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        if not callable(function):
            raise TypeError(f"function must be callable; received {function!r}.")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"arguments must be a dict of keyword arguments; received arguments={arguments!r}.")
        self.function, self.mask, self.arguments = function, mask, dict(arguments or {})
        self._output_shape = output_shape
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            parameters = {}
        self._passes = [name for name in ("mask", "training") if name in parameters]
        super().__init__(**kwargs)
        if output_shape is not None:
            self.compute_output_shape = self._given_output_shape  # the stated shape, for direct calls

    @property
    def supports_masking(self):
        return self.mask is not None

    def call(self, inputs, mask=None, training=None):
        given = {"mask": mask, "training": training}
        return self.function(inputs, **self.arguments, **{name: given[name] for name in self._passes})

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def _given_output_shape(self, input_shape):
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (tuple(input_shape)[0], *tuple(self._output_shape))


class Embedding(Layer):
    """Look up rows of an ``(input_dim, output_dim)`` table for integer inputs:
    ``(batch, ...) -> (batch, ..., output_dim)``.

    Keras arguments and defaults: ``embeddings_initializer="uniform"`` (uniform in
    [-0.05, 0.05]), ``embeddings_regularizer=None``, ``embeddings_constraint=None``,
    ``mask_zero=False`` (True: index 0 is padding and the output carries the mask
    ``inputs != 0``; ``input_dim`` must then count it), ``weights=None`` (initial table).
    ``input_length`` (tf.keras 2.x) is accepted with a warning and ignored, as Keras 3 does.
    danlu's extra: ``sparse=True`` gives sparse gradients (for LazyAdam / SGD). The table is
    created at construction.
    """

    input_dtype_kind = "int"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 sparse=False, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{arg} must be a positive int; received {arg}={value!r}.")
        _no_lora_or_quantization("Embedding", lora_rank, None)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Embedding(input_length=...) is deprecated in Keras 3 and ignored; remove it.", DeprecationWarning, stacklevel=2)
        self.input_dim, self.output_dim, self.mask_zero, self.sparse = input_dim, output_dim, bool(mask_zero), sparse
        super().__init__(**kwargs)
        self.add_weight(shape=(input_dim, output_dim), initializer=embeddings_initializer, regularizer=embeddings_regularizer,
                        constraint=embeddings_constraint, name="embeddings")
        self.build_from_shape(None)
        if weights is not None:
            self.set_weights(weights if isinstance(weights, (list, tuple)) else [weights])

    def get_config(self):
        config = super().get_config()
        config.pop("weights", None)  # the table travels with the weights, not the config
        return config

    @property
    def supports_masking(self):
        return self.mask_zero

    def call(self, inputs):
        if inputs.dtype not in (torch.int32, torch.int64):
            inputs = inputs.long()
        return F.embedding(inputs, self.embeddings, sparse=self.sparse)

    def compute_mask(self, inputs, mask=None):
        return inputs != 0 if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)
