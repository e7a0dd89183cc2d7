"""Normalization layers (Keras 3.15): BatchNormalization, LayerNormalization,
GroupNormalization, UnitNormalization, RMSNormalization.

Each normalizes ``x`` by statistics over some axes, then scales and shifts it:
``gamma * (x - mean) / sqrt(var + epsilon) + beta`` (``var`` is the population variance,
``mean((x - mean)^2)``). Axes are those of danlu's layout: the channel / feature axis of
images is 1 (channels first), of ``(batch, features)`` and ``(batch, time, features)`` inputs
the last one. Keras computes ``var = E[x^2] - E[x]^2``; danlu uses the two-pass form, equal
in exact arithmetic and without the cancellation when ``|mean| >> std``.
"""

from __future__ import annotations

import functools
import warnings

import torch
import torch.nn.functional as F

from danlu import initializers
from danlu._validation import check_number
from danlu.layers.base import Layer


def _axes(axis, rank, argument="axis"):
    """Keras' int-or-list ``axis`` as sorted non-negative axes of a rank-``rank`` input."""
    values = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if any(isinstance(a, bool) or not isinstance(a, int) or not -rank <= a < rank for a in values):
        raise ValueError(f"{argument}={axis!r} is out of range for inputs of rank {rank}.")
    axes = sorted({a % rank for a in values})
    if 0 in axes:
        raise ValueError(f"{argument}={axis!r} names the batch axis 0; normalize over feature axes.")
    return axes


def _check_axis_argument(axis, allow_list=True):
    ok = isinstance(axis, int) or (allow_list and isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis))
    if isinstance(axis, bool) or not ok:
        allowed = "an int or a list of ints" if allow_list else "an int"
        raise TypeError(f"axis must be {allowed}; received axis={axis!r}.")


class _ScaleShift(Layer):
    """The ``gamma`` / ``beta`` arguments every affine normalization layer shares (Keras)."""

    input_dtype_kind = "float"

    supports_masking = True

    def __init__(self, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        self.center, self.scale = bool(center), bool(scale)
        self._beta_args = (beta_initializer, beta_regularizer, beta_constraint)
        self._gamma_args = (gamma_initializer, gamma_regularizer, gamma_constraint)
        super().__init__(**kwargs)

    def add_gamma_and_beta(self, shape, scale=None, center=None):
        """Create ``gamma`` then ``beta`` (Keras' order) of ``shape``, or set them to None."""
        self.gamma = self._affine("gamma", shape, self._gamma_args) if (self.scale if scale is None else scale) else None
        self.beta = self._affine("beta", shape, self._beta_args) if (self.center if center is None else center) else None

    def _affine(self, name, shape, args):
        initializer, regularizer, constraint = args
        return self.add_weight(shape=shape, initializer=initializer, regularizer=regularizer, constraint=constraint, name=name)

    def compute_output_shape(self, input_shape):
        return input_shape


class BatchNormalization(_ScaleShift):
    """Normalize each feature by the batch's statistics while training and by moving
    averages in inference: ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    While training, each call updates ``moving = momentum * moving + (1 - momentum) * batch``
    for the mean and for the **population** (biased) variance of the batch, as Keras does
    (PyTorch's ``BatchNorm`` uses the unbiased one). Keras arguments and defaults:
    ``axis=1`` here (the feature axis: channels first, Keras' -1 for channels-last images;
    for ``(batch, features)`` inputs 1 and -1 are the same; ``(batch, time, features)``
    sequences want ``axis=-1``), ``momentum=0.99``, ``epsilon=1e-3``, ``center=True``,
    ``scale=True``, initializers ``beta="zeros"``, ``gamma="ones"``, ``moving_mean="zeros"``,
    ``moving_variance="ones"``, regularizers and constraints for beta and gamma.

    - ``trainable=False`` makes the layer run in inference mode even while training (Keras).
    - A mask ``(batch, time)`` (or the input's) restricts the statistics to the kept steps.
    - ``renorm=True`` (Ioffe 2017): batch renormalization with ``renorm_clipping`` (keys
      ``rmax``, ``rmin``, ``dmax``) and ``renorm_momentum=0.99``, as Keras.
    - ``synchronized=True`` asks for statistics over every replica of a data-parallel run
      (SyncBatchNorm); the flag is stored for the distribution strategy, and one process
      computes what the unsynchronized layer computes.

    Weights (Keras' order): ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``
    (then ``moving_stddev``, ``renorm_mean``, ``renorm_stddev`` with renorm); the moving
    statistics are buffers.
    """

    def __init__(self, axis=1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        _check_axis_argument(axis, allow_list=False)
        check_number("momentum", momentum, low=0, high=1)
        check_number("epsilon", epsilon, low=0, low_open=True)
        check_number("renorm_momentum", renorm_momentum, low=0, high=1)
        self.renorm_clipping = _renorm_clipping(renorm_clipping) if renorm else renorm_clipping
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.renorm, self.renorm_momentum, self.synchronized = bool(renorm), float(renorm_momentum), bool(synchronized)
        self._moving_initializers = (moving_mean_initializer, moving_variance_initializer)
        super().__init__(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        self._axis = _axes(self.axis, len(input_shape))[0]
        features = input_shape[self._axis]
        if features is None:
            raise ValueError(f"BatchNormalization needs a known size on axis {self.axis}; received input shape {tuple(input_shape)}.")
        self.add_gamma_and_beta((features,))
        dtype = self.dtype_policy.torch_variable_dtype
        mean_init, variance_init = (initializers.get(i) for i in self._moving_initializers)
        self.register_buffer("moving_mean", torch.as_tensor(mean_init((features,), dtype)).to(dtype))
        self.register_buffer("moving_variance", torch.as_tensor(variance_init((features,), dtype)).to(dtype))
        if self.renorm:
            self.register_buffer("moving_stddev", self.moving_variance.sqrt())
            self.register_buffer("renorm_mean", self.moving_mean.clone())
            self.register_buffer("renorm_stddev", self.moving_variance.sqrt())

    def call(self, inputs, mask=None):
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise ValueError(f"The mask must have one axis less than the inputs; received mask {tuple(mask.shape)}, inputs {tuple(inputs.shape)}.")
        if not (self.training and self.trainable):
            return self._normalize(inputs, self.moving_mean, self.moving_variance, self.gamma, self.beta)
        samples = inputs.numel() // inputs.shape[self._axis]
        if mask is None and not self.renorm and samples > 1:
            return self._fused_training_step(inputs, samples)
        mean, variance = self._moments(inputs, mask)
        gamma, beta = self.gamma, self.beta
        if self.renorm:
            gamma, beta = self._renorm_transform(mean, variance)
        else:
            self._update_moving(mean, variance)
        # Differentiable in the batch statistics (F.batch_norm in inference mode is not).
        along = functools.partial(_along, axis=self._axis, rank=inputs.ndim)
        factor = torch.rsqrt(variance + self.epsilon) if gamma is None else torch.rsqrt(variance + self.epsilon) * gamma
        outputs = (inputs - along(mean)) * along(factor)
        return outputs if beta is None else outputs + along(beta)

    def _normalize(self, inputs, mean, variance, gamma, beta):
        if self._axis == 1:
            return F.batch_norm(inputs, mean, variance, gamma, beta, training=False, eps=self.epsilon)
        moved = F.batch_norm(inputs.movedim(self._axis, 1), mean, variance, gamma, beta, training=False, eps=self.epsilon)
        return moved.movedim(1, self._axis)

    def _fused_training_step(self, inputs, samples):
        """torch's fused kernel, on copies of the moving statistics (autograd keeps them): it
        updates the variance with the unbiased batch variance ``v * n / (n - 1)``, which is
        turned back into Keras' update ``m * old + (1 - m) * v`` as
        ``m * old + (torch_new - m * old) * (n - 1) / n`` (no host sync)."""
        mean, variance = self.moving_mean.clone(), self.moving_variance.clone()
        x = inputs if self._axis == 1 else inputs.movedim(self._axis, 1)
        out = F.batch_norm(x, mean, variance, self.gamma, self.beta, training=True, momentum=1.0 - self.momentum, eps=self.epsilon)
        with torch.no_grad():
            self.moving_mean.copy_(mean)
            kept = self.moving_variance.mul_(self.momentum)
            kept.add_((variance - kept).mul_((samples - 1) / samples))
        return out if self._axis == 1 else out.movedim(1, self._axis)

    def _moments(self, inputs, mask):
        """Batch mean and population variance per feature (over the kept steps of a mask:
        ``sum(w x) / (sum(w) + 1e-7)``, Keras' weighting)."""
        dims = [d for d in range(inputs.ndim) if d != self._axis]
        if mask is None:
            variance, mean = torch.var_mean(inputs, dim=dims, correction=0)
            return mean, variance
        weights = mask.unsqueeze(-1).expand(inputs.shape).to(inputs.dtype)
        count = weights.sum(dim=dims) + 1e-7
        mean = (inputs * weights).sum(dim=dims) / count
        centered = (inputs - _along(mean, self._axis, inputs.ndim)) * weights
        return mean, centered.square().sum(dim=dims) / count

    def _update_moving(self, mean, variance):
        with torch.no_grad():
            self.moving_mean.lerp_(mean.to(self.moving_mean.dtype), 1.0 - self.momentum)
            self.moving_variance.lerp_(variance.to(self.moving_variance.dtype), 1.0 - self.momentum)

    def _renorm_transform(self, mean, variance):
        """Batch renormalization: the effective ``gamma * r``, ``beta + gamma * d`` (r and d
        carry no gradient), then the moving and renorm statistics updates (Keras)."""
        stddev = torch.sqrt(variance + self.epsilon)
        renorm_stddev = torch.clamp(self.renorm_stddev, min=self.epsilon ** 0.5)
        r = (stddev / renorm_stddev).detach()
        d = ((mean - self.renorm_mean) / renorm_stddev).detach()
        clipping = self.renorm_clipping
        if clipping.get("rmin") is not None:
            r = r.clamp(min=clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = r.clamp(max=clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = d.clamp(-clipping["dmax"], clipping["dmax"])
        gamma = r if self.gamma is None else r * self.gamma
        beta = d if self.gamma is None else d * self.gamma
        beta = beta if self.beta is None else beta + self.beta
        with torch.no_grad():
            self.renorm_mean.lerp_(mean, 1.0 - self.renorm_momentum)
            self.renorm_stddev.lerp_(stddev, 1.0 - self.renorm_momentum)
            self.moving_mean.lerp_(mean, 1.0 - self.momentum)
            self.moving_stddev.lerp_(stddev, 1.0 - self.momentum)
            self.moving_variance.copy_(torch.relu(self.moving_stddev.square() - self.epsilon))
        return gamma, beta


def _renorm_clipping(clipping):
    clipping = dict(clipping or {})
    unknown = set(clipping) - {"rmax", "rmin", "dmax"}
    if unknown:
        raise ValueError(f"renorm_clipping has unknown key(s) {sorted(unknown)}; allowed: 'rmax', 'rmin', 'dmax'.")
    rmin, rmax, dmax = clipping.get("rmin"), clipping.get("rmax"), clipping.get("dmax")
    if rmin is not None and rmax is not None and rmax < rmin:
        raise ValueError(f"renorm_clipping needs rmax >= rmin; received rmax={rmax}, rmin={rmin}.")
    if dmax is not None and dmax < 0:
        raise ValueError(f"renorm_clipping needs dmax >= 0; received dmax={dmax}.")
    return clipping


def _along(values, axis, rank):
    """``values`` of shape ``(n,)`` shaped to broadcast along ``axis`` of a rank-``rank`` tensor."""
    shape = [1] * rank
    shape[axis] = -1
    return values.reshape(shape)


class LayerNormalization(_ScaleShift):
    """Normalize each sample over ``axis`` (an int or a list of axes; Keras default -1):
    ``gamma * (x - mean) / sqrt(var + epsilon) + beta``, ``gamma`` and ``beta`` shaped like
    those axes. Keras defaults: ``epsilon=1e-3``, ``center=True``, ``scale=True``,
    initializers ``beta="zeros"``, ``gamma="ones"``, regularizers and constraints.

    ``rms_scaling=True`` (deprecated in Keras 3.15, with the same warning) computes
    ``gamma * x / sqrt(var + epsilon)`` without beta -- it divides by the standard
    deviation, not the root mean square; `RMSNormalization` is the RMS form. Keras on torch
    normalizes the wrong axis when one non-final axis is asked for (it calls
    ``F.layer_norm`` over trailing axes of that size); danlu normalizes the axes given.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        rms_scaling = bool(kwargs.pop("rms_scaling", False))
        if rms_scaling:
            warnings.warn("LayerNormalization(rms_scaling=True) is deprecated (Keras 3.15): it scales by the variance, "
                          "not the root mean square; use RMSNormalization.", DeprecationWarning, stacklevel=2)
        _check_axis_argument(axis)
        check_number("epsilon", epsilon, low=0, low_open=True)
        self.axis, self.epsilon, self.rms_scaling = axis, epsilon, rms_scaling
        super().__init__(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint, **kwargs)

    def get_config(self):
        return {**super().get_config(), "rms_scaling": self.rms_scaling}

    def build(self, input_shape):
        self._axes = _axes(self.axis, len(input_shape))
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ValueError(f"LayerNormalization needs known sizes on axis={self.axis}; received input shape {tuple(input_shape)}.")
        self.add_gamma_and_beta(shape, scale=self.scale or self.rms_scaling, center=self.center and not self.rms_scaling)

    def call(self, inputs):
        x, restore = _axes_last(inputs, self._axes)
        shape = x.shape[x.ndim - len(self._axes):]
        if self.rms_scaling:
            dims = tuple(range(x.ndim - len(self._axes), x.ndim))
            y = x * torch.rsqrt(x.var(dim=dims, correction=0, keepdim=True) + self.epsilon)
            y = y if self.gamma is None else y * self.gamma
        else:
            y = F.layer_norm(x, shape, self.gamma, self.beta, self.epsilon)
        return restore(y)


def _axes_last(inputs, axes):
    """``inputs`` with ``axes`` moved to the end (in order), and the function that moves
    them back; the identity when they already are the trailing axes."""
    rank = inputs.ndim
    if axes == list(range(rank - len(axes), rank)):
        return inputs, lambda y: y
    rest = [d for d in range(rank) if d not in axes]
    order = rest + list(axes)
    inverse = sorted(range(rank), key=order.__getitem__)
    return inputs.permute(order), lambda y: y.permute(inverse)


class RMSNormalization(Layer):
    """``x / sqrt(mean(x^2) + epsilon) * scale`` over ``axis`` (Keras default -1), with a
    learned ``scale`` (initialized to ones). Keras default ``epsilon=1e-6``."""

    input_dtype_kind = "float"

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        _check_axis_argument(axis)
        check_number("epsilon", epsilon, low=0, low_open=True)
        self.axis, self.epsilon = axis, epsilon
        super().__init__(**kwargs)

    def build(self, input_shape):
        self._axes = _axes(self.axis, len(input_shape))
        self.add_weight(shape=tuple(input_shape[a] for a in self._axes), initializer="ones", name="scale")

    def call(self, inputs):
        x, restore = _axes_last(inputs, self._axes)
        return restore(F.rms_norm(x, tuple(self.scale.shape), self.scale, self.epsilon))

    def compute_output_shape(self, input_shape):
        return input_shape


class GroupNormalization(_ScaleShift):
    """Split the channels of ``axis`` into ``groups`` and normalize each sample's group over
    its channels and every other axis (Wu and He, 2018). ``groups=-1`` is instance
    normalization (one group per channel); ``groups=1`` normalizes each sample as a whole.

    Keras arguments and defaults: ``groups=32``, ``axis`` (Keras -1 for channels-last; danlu
    1, the channel axis of its channels-first layout), ``epsilon=1e-3``, ``center``,
    ``scale``, initializers, regularizers and constraints of ``beta`` and ``gamma`` (one value
    per channel). The channels must be a multiple of ``groups``.
    """

    def __init__(self, groups=32, axis=1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"groups must be a positive int, or -1 for instance normalization; received groups={groups!r}.")
        _check_axis_argument(axis, allow_list=False)
        check_number("epsilon", epsilon, low=0, low_open=True)
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        super().__init__(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        self._axis = _axes(self.axis, len(input_shape))[0]
        channels = input_shape[self._axis]
        if channels is None:
            raise ValueError(f"GroupNormalization needs a known size on axis {self.axis}; received input shape {tuple(input_shape)}.")
        self._groups = channels if self.groups == -1 else self.groups
        if channels < self._groups or channels % self._groups:
            raise ValueError(f"groups={self.groups} must divide the {channels} channels of axis {self.axis} (input shape {tuple(input_shape)}).")
        self.add_gamma_and_beta((channels,))

    def call(self, inputs):
        x = inputs if self._axis == 1 else inputs.movedim(self._axis, 1)
        y = F.group_norm(x, self._groups, self.gamma, self.beta, self.epsilon)
        return y if self._axis == 1 else y.movedim(1, self._axis)


class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over ``axis`` (an int or a list; Keras default -1):
    ``x * min(1 / sqrt(sum(x^2)), 1e12)`` (Keras' epsilon 1e-12)."""

    input_dtype_kind = "float"

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        _check_axis_argument(axis)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        super().__init__(**kwargs)

    def call(self, inputs):
        dims = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return inputs * torch.rsqrt(inputs.square().sum(dim=dims, keepdim=True)).clamp(max=1e12)

    def compute_output_shape(self, input_shape):
        _axes(self.axis, len(input_shape))
        return input_shape
