"""`Normalization`: shift and scale features by a mean and variance, given or adapted."""

from __future__ import annotations

import math

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu.layers.preprocessing._base import PreprocessingLayer
from danlu.layers.preprocessing._inputs import adapt_batches

#: Keras' ``backend.epsilon()``: the smallest standard deviation divided by.
EPSILON = 1e-7


class Normalization(PreprocessingLayer):
    """``(x - mean) / max(sqrt(variance), 1e-7)``; with ``invert=True`` the inverse,
    ``mean + x * max(sqrt(variance), 1e-7)``.

    Keras 3.15's arguments and defaults: ``axis=-1`` (the axis or axes that keep their own
    mean and variance; ``None``: one scalar mean and variance), ``mean=None``,
    ``variance=None`` (given together, broadcast to the kept axes, aligned from the right),
    ``invert=False``. danlu's layout is channels-first: normalize image channels with
    ``axis=1``.

    ``adapt(data)`` computes the population mean and variance over every axis but ``axis``:
    ``data`` is a numpy array, a tensor, a (nested) list of numbers, or an iterable of batches
    (a list of arrays, a generator, a ``DataLoader``; ``(x, y)`` batches use ``x``), merged
    batch by batch with the lack-of-fit sum of squares as Keras does (in float64 here).
    An adapted layer's ``mean``, ``variance`` and ``count`` are buffers and its Keras
    weights (``get_weights()`` equals Keras'; ``count`` stays 0, as in Keras).
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        if axis is None:
            axes = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axes = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            axes = tuple(int(a) for a in axis)
        else:
            raise ValueError(f"axis must be an int, a tuple of ints or None; received axis={axis!r}.")
        if (mean is None) != (variance is None):
            raise ValueError(f"Give mean and variance together (or neither, and adapt); received mean={mean!r}, variance={variance!r}.")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"mean and variance must have the same shape; received {np.shape(mean)} and {np.shape(variance)}.")
            if len(np.shape(mean)) > len(axes):
                raise ValueError(
                    f"The rank of mean ({len(np.shape(mean))}) must be at most the number of kept axes ({len(axes)}, "
                    f"axis={axis!r}); received mean of shape {np.shape(mean)}."
                )
        self.axis, self.invert = axes, bool(invert)
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        super().__init__(**kwargs)

    @property
    def keras_weight_names(self):
        return () if self.input_mean is not None else ("mean", "variance", "count")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization axis={self.axis} is out of range for inputs of rank {ndim} (shape {input_shape}).")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if input_shape[d] is None:
                raise ValueError(f"Normalization keeps axis {d}, so its size must be known; received input shape {input_shape}.")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._input_shape = input_shape
        self._broadcast = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        kept_shape = tuple(input_shape[d] for d in self._keep)
        dtype = self.dtype_policy.torch_variable_dtype
        if self.input_mean is None:
            self.register_buffer("mean", torch.zeros(kept_shape, dtype=dtype))
            self.register_buffer("variance", torch.ones(kept_shape, dtype=dtype))
            self.register_buffer("count", torch.zeros((), dtype=torch.int32))
        else:
            self.register_buffer("mean", self._broadcast_given(self.input_mean, ndim).to(dtype))
            self.register_buffer("variance", self._broadcast_given(self.input_variance, ndim).to(dtype))

    def _broadcast_given(self, value, ndim):
        value = torch.as_tensor(value)
        expanded = [1] * ndim
        for i in range(1, value.ndim + 1):  # align the given axes with the kept axes, from the right
            expanded[self._keep[-i]] = value.shape[-i]
        try:
            return value.reshape(expanded).expand(self._broadcast).clone()
        except RuntimeError:
            raise ValueError(
                f"mean of shape {tuple(value.shape)} cannot be broadcast to the kept axes {self._keep} of inputs of shape "
                f"{self._input_shape}."
            ) from None

    # --- adapt --------------------------------------------------------------------------------

    def adapt(self, data, steps=None):
        """Set ``mean`` and ``variance`` to those of ``data`` (see the class docstring)."""
        if self.input_mean is not None:
            raise ValueError(f"Normalization {self.name!r} was given mean and variance; it cannot be adapted.")
        batches, _ = adapt_batches(data, steps)
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            values = _float64_array(batch)
            if not self.built:  # the batch axis stays unknown unless it keeps its own statistics
                keeps_batch = any(a % max(values.ndim, 1) == 0 for a in self.axis)
                self.build_from_shape(values.shape if keeps_batch else (None, *values.shape[1:]))
            self._check_adapt_shape(values.shape)
            count = math.prod(values.shape[d] for d in self._reduce) if self._reduce else 1
            if count == 0:
                continue
            mean, var = values.mean(axis=self._reduce), values.var(axis=self._reduce)
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            total_count += count
            weight = count / total_count
            new_mean = total_mean * (1 - weight) + mean * weight
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - weight) + (var + (mean - new_mean) ** 2) * weight
            total_mean = new_mean
        if total_mean is None:
            raise ValueError("Normalization.adapt() received no values (an empty array or an iterable without batches).")
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(total_mean).reshape(self.mean.shape))
            self.variance.copy_(torch.as_tensor(total_var).reshape(self.variance.shape))

    def _check_adapt_shape(self, shape):
        if len(shape) != len(self._input_shape) or any(shape[d] != self._input_shape[d] for d in self._keep):
            raise ValueError(
                f"Normalization {self.name!r} was built for inputs of shape {self._input_shape} (keeping axes "
                f"{self._keep}); adapt() received data of an incompatible shape {tuple(shape)}."
            )

    # --- call ---------------------------------------------------------------------------------

    def call(self, inputs):
        x = as_tensor(inputs).to(self.dtype_policy.torch_compute_dtype)
        dtype = x.dtype
        mean = self.mean.reshape(self._broadcast).to(dtype)
        std = torch.sqrt(self.variance.reshape(self._broadcast).to(dtype)).clamp_min(EPSILON)
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=list(self.axis) if len(self.axis) != 1 else self.axis[0],
            mean=None if self.input_mean is None else self.input_mean.tolist(),
            variance=None if self.input_variance is None else self.input_variance.tolist(),
        )
        if self.built and self.input_mean is None:
            # the input shape fixes the adapted state's shape: a layer made from this config
            # is built at once and loads the adapted layer's state_dict
            config["input_shape"] = list(self._input_shape[1:])
            if self._input_shape[0] is not None:
                config["batch_size"] = self._input_shape[0]
        return config


def _float64_array(batch) -> np.ndarray:
    if isinstance(batch, torch.Tensor):
        return batch.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(batch, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Normalization.adapt() takes numbers (arrays, tensors, lists); received {type(batch).__name__}: {error}") from None
