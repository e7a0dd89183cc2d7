"""Merging layers (Keras 3.15): Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot, and their functional forms (``add([a, b])``, ``concatenate([a, b])``, ...).

Each takes a list of tensors. The element-wise ones broadcast as Keras does: sizes must be
equal or 1 (compared from the last axis; the batch axis must agree), and an input of lower
rank gets size-1 axes inserted after the batch axis. Masks (each input's ``_keras_mask``, or
``mask=[...]``) merge as in Keras: the output mask is the OR of the input masks when every
input has one (`Concatenate`: when any has one), and `Multiply` / `Maximum` / `Minimum`
leave masked steps out of the operation.
"""

from __future__ import annotations

import torch

from danlu.layers.base import Layer


class _Merge(Layer):
    """An element-wise merge of a list of tensors; subclasses define `merge`."""

    supports_masking = True
    min_inputs = 1

    def build(self, input_shape):
        shapes = self._check_shapes(input_shape)
        self._broadcast_shape(shapes)

    def _check_shapes(self, input_shape):
        name = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"A {name} layer must be called on a list of tensors; received input shape {input_shape!r}.")
        if len(input_shape) < self.min_inputs:
            raise ValueError(f"A {name} layer needs at least {self.min_inputs} inputs; received {len(input_shape)} (shapes {list(input_shape)}).")
        shapes = [tuple(s) for s in input_shape]
        batch = {s[0] for s in shapes if s and s[0] is not None}
        if len(batch) > 1:
            raise ValueError(f"{name} cannot merge tensors of different batch sizes; received shapes {shapes}.")
        return shapes

    def _broadcast_shape(self, shapes):
        """Keras' element-wise output shape (batch axis excluded); raises naming the shapes."""
        out = shapes[0][1:]
        for shape in shapes[1:]:
            a, b = sorted((out, shape[1:]), key=len, reverse=True)
            merged = list(a[: len(a) - len(b)])
            for i, j in zip(a[len(a) - len(b):], b):
                if i is not None and j is not None and i != j and 1 not in (i, j):
                    raise ValueError(f"{type(self).__name__}: inputs have incompatible shapes; received shapes {shapes} "
                                     "(sizes must be equal or 1, compared from the last axis).")
                merged.append(None if i is None or j is None else max(i, j) if 1 in (i, j) else i)
            out = tuple(merged)
        return out

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A {type(self).__name__} layer must be called on a list of tensors; received {type(inputs).__name__}.")
        masks = _input_masks(inputs, mask)
        rank = max(x.ndim for x in inputs)
        aligned = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) if x.ndim < rank else x for x in inputs]
        try:
            return self.merge(aligned, masks)
        except RuntimeError as error:
            raise ValueError(f"{type(self).__name__} cannot merge inputs of shapes {[tuple(x.shape) for x in inputs]} "
                             f"(sizes must be equal or 1, compared from the last axis): {error}") from error

    def merge(self, inputs, masks):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        masks = _input_masks(inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out | m
        return out

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        batch = next((s[0] for s in shapes if s[0] is not None), None)
        return (batch, *self._broadcast_shape(shapes))


def _input_masks(inputs, mask):
    """The inputs' masks: ``mask`` as given (a list, one per input) or each input's
    ``_keras_mask``; None when no input has one."""
    if mask is None:
        if not isinstance(inputs, (list, tuple)):
            return None
        mask = [getattr(x, "_keras_mask", None) for x in inputs]
    elif not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(f"mask must be a list with one entry per input ({len(inputs)}); received mask={mask!r}.")
    return None if all(m is None for m in mask) else list(mask)


def _expanded(mask, x):
    return mask.unsqueeze(-1).expand(x.shape)


def _sum(inputs):
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return out


class Add(_Merge):
    """The sum of the inputs."""

    def merge(self, inputs, masks):
        return _sum(inputs)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    min_inputs = 2

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A Subtract layer takes exactly 2 inputs; received {len(input_shape)} (shapes {list(input_shape)}).")

    def merge(self, inputs, masks):
        if len(inputs) != 2:
            raise ValueError(f"A Subtract layer takes exactly 2 inputs; received {len(inputs)}.")
        return inputs[0] - inputs[1]


class Average(_Merge):
    """The mean of the inputs."""

    def merge(self, inputs, masks):
        return _sum(inputs) / len(inputs)


class Multiply(_Merge):
    """The product of the inputs. Masked steps of an input count as 1; when every input
    has a mask, steps masked in all of them are 0 (Keras)."""

    def merge(self, inputs, masks):
        if masks is None:
            out = inputs[0]
            for x in inputs[1:]:
                out = out * x
            return out
        every = all(m is not None for m in masks)
        out = kept = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expanded(m, x)
                x = x.masked_fill(~m, 1)
                if every:
                    kept = m if kept is None else kept | m
            out = x if out is None else out * x
        return out.masked_fill(~kept, 0) if every else out


class _MaskedReduction(_Merge):
    """Keras' mask-aware pairwise merge: a masked step of an input takes the running
    result's value (and the running result, where masked, takes the input's)."""

    op = None

    def merge(self, inputs, masks):
        op = type(self).op
        if masks is None:
            out = inputs[0]
            for x in inputs[1:]:
                out = op(out, x)
            return out
        out, out_mask = inputs[0], None if masks[0] is None else _expanded(masks[0], inputs[0])
        for x, m in zip(inputs[1:], masks[1:]):
            m = None if m is None else _expanded(m, x)
            if m is not None:
                x = torch.where(m, x, out)
            if out_mask is not None:
                out = torch.where(out_mask, out, x)
            out_mask = out_mask | m if m is not None and out_mask is not None else None
            out = op(out, x)
        return out


class Maximum(_MaskedReduction):
    """The element-wise maximum of the inputs (masks as `_MaskedReduction`)."""

    op = staticmethod(torch.maximum)


class Minimum(_MaskedReduction):
    """The element-wise minimum of the inputs (masks as `_MaskedReduction`)."""

    op = staticmethod(torch.minimum)


class Concatenate(_Merge):
    """Concatenate the inputs along ``axis``; every other axis must agree.

    Keras' default ``axis=-1`` is kept: the last axis, which is the feature axis of
    ``(batch, features)`` and ``(batch, time, features)`` inputs but the width of danlu's
    channels-first images -- concatenate image channels with ``axis=1``."""

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"axis must be an int; received axis={axis!r}.")
        self.axis = axis
        super().__init__(**kwargs)

    def build(self, input_shape):
        self._concat_shape(self._check_shapes(input_shape))

    def _concat_shape(self, shapes):
        ranks = {len(s) for s in shapes}
        axis = self.axis % max(ranks) if shapes[0] else 0
        mismatch = len(ranks) != 1 or not -len(shapes[0]) <= self.axis < len(shapes[0])
        for i in range(len(shapes[0]) if not mismatch else 0):
            if i != axis and len({s[i] for s in shapes if s[i] is not None}) > 1:
                mismatch = True
        if mismatch:
            raise ValueError(f"Concatenate(axis={self.axis}) needs inputs of one rank whose sizes match except on "
                             f"the concatenation axis; received shapes {shapes}.")
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A Concatenate layer must be called on a list of tensors; received {type(inputs).__name__}.")
        try:
            return torch.cat(list(inputs), dim=self.axis)
        except (RuntimeError, IndexError) as error:
            raise ValueError(f"Concatenate(axis={self.axis}) cannot join shapes {[tuple(x.shape) for x in inputs]}: {error}") from error

    def compute_mask(self, inputs, mask=None):
        masks = _input_masks(inputs, mask)
        if masks is None:
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                full.append(torch.ones(x.shape, dtype=torch.bool, device=x.device))
            else:
                full.append(_expanded(m, x) if m.ndim < x.ndim else m)
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def compute_output_shape(self, input_shape):
        return self._concat_shape(self._check_shapes(input_shape))


class Dot(_Merge):
    """Batched dot product of two inputs over ``axes`` (an int or a pair ``(axis_of_a,
    axis_of_b)``; the batch axis 0 cannot be one): ``(b, m, d) . (b, d, n) -> (b, m, n)`` with
    ``axes=(2, 1)``; two ``(b, d)`` inputs give ``(b, 1)``. ``normalize=True`` first scales
    both to unit L2 norm over those axes (cosine proximity), as Keras:
    ``x * min(1 / sqrt(sum(x^2)), 1e7)``. The output has no mask."""

    min_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        valid = (isinstance(axes, int) and not isinstance(axes, bool)) or (
            isinstance(axes, (list, tuple)) and len(axes) == 2 and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
        )
        if not valid:
            raise ValueError(f"axes must be an int or a list of two ints; received axes={axes!r}.")
        self.axes, self.normalize = (list(axes) if isinstance(axes, (list, tuple)) else axes), bool(normalize)
        super().__init__(**kwargs)

    def _resolved_axes(self, rank1, rank2):
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        axes = [a % r if a < 0 else a for a, r in zip(pair, (rank1, rank2))]
        if 0 in axes or axes[0] >= rank1 or axes[1] >= rank2:
            raise ValueError(f"Dot(axes={self.axes}) must name a non-batch axis of each input; the inputs have ranks {rank1} and {rank2}.")
        return axes

    def build(self, input_shape):
        shapes = self._check_shapes(input_shape)
        self._dot_shape(shapes)

    def _dot_shape(self, shapes):
        if len(shapes) != 2:
            raise ValueError(f"A Dot layer takes exactly 2 inputs; received {len(shapes)} (shapes {shapes}).")
        (s1, s2) = shapes
        if len(s1) < 2 or len(s2) < 2:
            raise ValueError(f"Dot needs inputs of rank >= 2; received shapes {shapes}.")
        a1, a2 = self._resolved_axes(len(s1), len(s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"Dot(axes={self.axes}): axis {a1} of the first input has size {s1[a1]}, axis {a2} of the "
                             f"second {s2[a2]}; they must match. Received shapes {shapes}.")
        out = [d for i, d in enumerate(s1) if i != a1] + [d for i, d in enumerate(s2) if i not in (0, a2)]
        return tuple(out) if len(out) > 1 else (out[0], 1)

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A Dot layer takes a list of exactly 2 tensors; received {inputs!r:.80}.")
        x, y = inputs
        a1, a2 = self._resolved_axes(x.ndim, y.ndim)
        if x.shape[a1] != y.shape[a2] or x.shape[0] != y.shape[0]:
            raise ValueError(f"Dot(axes={self.axes}) cannot contract shapes {tuple(x.shape)} and {tuple(y.shape)} over axes {a1} and {a2}.")
        if self.normalize:
            x, y = _unit(x, a1), _unit(y, a2)
        left = x.movedim(a1, -1)
        right = y.movedim(a2, 1)
        rows, cols = left.shape[1:-1], right.shape[2:]
        out = torch.bmm(left.reshape(x.shape[0], -1, left.shape[-1]), right.reshape(y.shape[0], right.shape[1], -1))
        out = out.reshape(x.shape[0], *rows, *cols)
        return out if out.ndim > 1 else out.unsqueeze(1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return self._dot_shape(self._check_shapes(input_shape))


def _unit(x, axis):
    return x * torch.rsqrt(x.square().sum(dim=axis, keepdim=True)).clamp(max=1e7)  # Keras' epsilon 1e-7


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes, **kwargs)(inputs)`` (Keras' default ``axes=-1``)."""
    return Dot(axes=axes, **kwargs)(inputs)
