"""The `Loss` base class: input conversion, the fused fast path, masking, `sample_weight`
and reduction, once; `LossFunctionWrapper`, a `Loss` over a per-sample function.

A loss subclass writes only ``call(y_true, y_pred)``, returning one value per sample (or per
time step); everything else lives here. A built-in per-sample function may also declare a
fused form (see `danlu.losses.fused`), which `Loss.forward` takes in the common case.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.compiler import is_compiling

from danlu._dtypes import dtype_name, standardize_dtype
from danlu._identifiers import snake_case
from danlu._modules import nothing_hooked
from danlu._tensors import as_tensor
from danlu.losses.fused import common_case_kernel, declaration
from danlu.losses.labels import check_class_indices
from danlu.losses.reduction import (  # noqa: F401  (re-exported: metrics align ranks with it)
    REDUCTIONS,
    Reduction,
    align_sample_weight,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)

#: Keras' mixed-precision policy names, as a loss ``dtype``: the policy's compute dtype.
MIXED_POLICIES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
#: The reduction each Keras reduction asks of a fused form when no ``sample_weight`` is given.
FUSED_REDUCTIONS = {"sum_over_batch_size": "mean", "mean": "mean", "mean_with_sample_weight": "mean", "sum": "sum"}
FUSED_DTYPES = (torch.float32, torch.float64)
#: The attribute that holds a loss's resolved common-case kernel (see `Loss.forward`).
_KERNEL = "_common_case_kernel"
_UNRESOLVED = object()


def compute_dtype(y_pred: torch.Tensor, dtype: torch.dtype | None = None) -> torch.dtype:
    """``dtype`` when given; else float32, or float64 for float64 predictions.

    This is the rule of the per-sample functions (``binary_crossentropy(...)``), which keep a
    float64 tensor in float64 as Keras' functions do, and compute float16 / bfloat16 in float32.
    `Loss` objects pass their own dtype (float32 unless ``dtype=`` says otherwise).
    """
    if dtype is not None:
        return dtype
    return torch.float64 if y_pred.dtype == torch.float64 else torch.float32


def float_inputs(y_true, y_pred, dtype: torch.dtype | None = None, keep_integer_labels=False):
    """Convert both inputs to tensors of the compute dtype on ``y_pred``'s device.

    With ``keep_integer_labels``, integer ``y_true`` (class indices) keeps its dtype.
    """
    y_pred = as_tensor(y_pred)
    y_pred = y_pred.to(compute_dtype(y_pred, dtype))
    y_true = as_tensor(y_true, device=y_pred.device)
    if not (keep_integer_labels and not y_true.is_floating_point()):
        y_true = y_true.to(y_pred.dtype)
    return y_true, y_pred


def loss_dtype(dtype) -> torch.dtype:
    """The torch dtype a loss computes in, from Keras' forms of ``dtype=``: ``None`` (float32,
    Keras' ``floatx``), a name (``"float32"``, ``"bfloat16"``, ``"float16"``, ``"float64"``), a
    mixed-precision policy name (``"mixed_bfloat16"`` -> bfloat16) or an object with a
    ``compute_dtype`` (a dtype policy), a torch or numpy dtype."""
    if dtype is None:
        return torch.float32
    if hasattr(dtype, "compute_dtype"):
        dtype = dtype.compute_dtype
    elif isinstance(dtype, str) and dtype in MIXED_POLICIES:
        dtype = MIXED_POLICIES[dtype]
    return standardize_dtype(dtype, "dtype", floating=True)


class Loss(torch.nn.Module):
    """Base class of every danlu loss: a ``torch.nn.Module`` called as
    ``loss(y_true, y_pred, sample_weight=None)``.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values; this class
    converts the inputs (tensors, numpy arrays, lists or scalars) to the loss's dtype, applies
    ``sample_weight`` and reduces (see `reduce_weighted_values`).

    Args:
        reduction: ``"sum_over_batch_size"`` (default; ``"auto"`` and the `Reduction`
            constants accepted), ``"sum"``, ``"mean"``, ``"mean_with_sample_weight"``,
            ``"none"`` or ``None``.
        name: defaults to the class name in snake case.
        dtype: the dtype the loss is computed and returned in, as Keras: ``None`` is float32
            (also for float64, float16 or integer inputs); or ``"float64"``, ``"bfloat16"``,
            ``"float16"``, a torch dtype, ``"mixed_bfloat16"``. ``loss.dtype`` reads back Keras'
            name. For float16 / bfloat16 the inputs are rounded to it and the result is returned
            in it, while the per-sample math runs in float32 (Keras runs it in float16 too,
            where its ``1 - 1e-7`` clip bound rounds to 1: at probabilities of exactly 0 or 1
            its crossentropies jump to PyTorch's log clamp at -100).
            With ``"float64"`` every reduction returns float64 (Keras' ``"sum_over_batch_size"``
            returns float32 there, a defect).

    A complete subclass::

        class FocalLoss(danlu.losses.Loss):
            def __init__(self, alpha=0.75, gamma=2.0, **kwargs):
                super().__init__(**kwargs)
                self.alpha, self.gamma = alpha, gamma

            def call(self, y_true, y_pred):
                p = y_pred.clamp(1e-7, 1 - 1e-7)
                p_t = torch.where(y_true == 1, p, 1 - p)
                alpha_t = torch.where(y_true == 1, self.alpha, 1 - self.alpha)
                return (-alpha_t * (1 - p_t) ** self.gamma * p_t.log()).mean(-1)

            def get_config(self):
                return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}

    A subclass whose ``__init__`` forgets ``super().__init__()`` (as in some tf.keras
    tutorials) still works, with the default reduction, name and dtype.
    """

    #: Subclasses that take integer class labels set this so ``y_true`` keeps its dtype.
    integer_labels = False
    #: Whether `forward` may ask `fused`; a subclass that redefines ``call`` or
    #: ``compute_mask`` without redefining ``fused`` loses the fused form it inherited.
    _fused_enabled = False
    _labels_prechecked = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "fused" in own:
            cls._fused_enabled = True
        elif "call" in own or "compute_mask" in own:
            cls._fused_enabled = False

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__()
        self.reduction = standardize_reduction(reduction)
        self.name = name or snake_case(type(self).__name__)
        self._compute_dtype = loss_dtype(dtype)
        self._dtype_given = dtype is not None

    def __call__(self, *args, **kwargs):
        # torch's dispatch (hooks, module.compile(), jit tracing) only when something asks
        # for it: else `forward` directly (~0.6 us less a call), as `Module.__call__` would.
        if nothing_hooked(self):
            return self.forward(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def __setattr__(self, name, value):
        # Any attribute set may change the configuration the common-case kernel was resolved
        # for (reduction, dtype, fn, fn_kwargs, labels_checked, ...): resolve it again.
        self.__dict__.pop(_KERNEL, None)
        super().__setattr__(name, value)

    def __getstate__(self):
        # The resolved kernel is a closure over this loss's fn_kwargs: a copy or an unpickled
        # loss resolves its own (closures do not pickle; a deep copy would share this one).
        state = super().__getstate__()
        state.pop(_KERNEL, None)
        return state

    def __getattr__(self, name):
        # Reached only for attributes not found the normal way. A subclass whose __init__
        # did not call super().__init__() has no Module state yet: create it now, keeping
        # whatever the subclass set.
        if "_parameters" not in self.__dict__ and not name.startswith("__"):
            attributes = dict(self.__dict__)
            Loss.__init__(self)
            for key, value in attributes.items():
                setattr(self, key, value)
            return getattr(self, name)
        return super().__getattr__(name)

    @property
    def dtype(self) -> str:
        """Keras' name of the dtype the loss computes in (``"float32"`` by default)."""
        return dtype_name(self._compute_dtype)

    def forward(self, y_true, y_pred, sample_weight=None):
        try:
            # The common case (no sample_weight; tensors on one device, predictions in the
            # loss's float32 / float64 dtype, at least one): the kernel resolved once for this
            # configuration, what `_fused_forward` would reach through its checks. A compiled
            # step traces the general path (the cache would be a guard, changed by its own run).
            if (
                sample_weight is None and type(y_pred) is torch.Tensor and type(y_true) is torch.Tensor
                and not is_compiling()
            ):
                kernel = self.__dict__.get(_KERNEL, _UNRESOLVED)
                if kernel is _UNRESOLVED:
                    kernel = self._resolve_common_case_kernel()
                if (
                    kernel is not None and y_pred.dtype is self._compute_dtype and y_pred.ndim and y_pred.numel()
                    and (self.integer_labels or y_true.dtype is y_pred.dtype) and y_true.device == y_pred.device
                ):
                    result = kernel(y_true, y_pred)
                    if result is not None:
                        return result
            return self._forward(y_true, y_pred, sample_weight)
        except RuntimeError as error:  # torch's shape errors become a danlu error naming the shapes
            if "size of tensor" not in str(error) and "shape" not in str(error):
                raise
            raise ValueError(
                f"{type(self).__name__} cannot compare y_true of shape {_shape(y_true)} with y_pred of shape "
                f"{_shape(y_pred)} (sample_weight {_shape(sample_weight)}): {error}"
            ) from None

    def _resolve_common_case_kernel(self):
        """Find and cache (until an attribute is set) the common case's kernel ``(y_true,
        y_pred) -> loss or None``: `fused` with this reduction, or ``None`` (no fused form,
        a reduction or dtype it does not serve)."""
        reduction = FUSED_REDUCTIONS.get(self.reduction)
        kernel = None
        if self._fused_enabled and reduction is not None and self._compute_dtype in FUSED_DTYPES:
            kernel = self._common_case_kernel(reduction)
        self.__dict__[_KERNEL] = kernel
        return kernel

    def _common_case_kernel(self, reduction):
        """The kernel for a fused ``reduction`` (``"mean"`` / ``"sum"``); subclasses that can
        bind more once (`LossFunctionWrapper`) return a leaner one."""
        fused = self.fused

        def kernel(y_true, y_pred):
            return fused(y_true, y_pred, reduction)

        return kernel

    def _forward(self, y_true, y_pred, sample_weight):
        if self._fused_enabled:
            result = self._fused_forward(y_true, y_pred, sample_weight)
            if result is not None:
                return result
        dtype = self._compute_dtype
        y_true, y_pred = float_inputs(y_true, y_pred, dtype, self.integer_labels)
        values = self.call(y_true, y_pred)
        if not isinstance(values, torch.Tensor):
            values = self._values_as_tensor(values, y_pred)
        if values.dtype != dtype:
            values = values.to(dtype)
        mask = self.compute_mask(y_true, y_pred, values)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def _fused_forward(self, y_true, y_pred, sample_weight):
        """The loss from `fused` in the common case (tensors on one device, a float32 /
        float64 loss, at least one prediction), or ``None`` for the per-sample path."""
        dtype = self._compute_dtype
        if not (
            isinstance(y_pred, torch.Tensor) and isinstance(y_true, torch.Tensor)
            and dtype in FUSED_DTYPES and y_pred.is_floating_point() and y_pred.ndim and y_pred.numel()
        ):
            return None
        if y_pred.dtype != dtype:
            y_pred = y_pred.to(dtype)
        if y_true.device != y_pred.device:
            y_true = y_true.to(y_pred.device)
        if y_true.dtype != dtype and not self.integer_labels:
            y_true = y_true.to(dtype)
        reduction = FUSED_REDUCTIONS.get(self.reduction) if sample_weight is None else None
        if reduction is not None:
            return self.fused(y_true, y_pred, reduction)
        values = self.fused(y_true, y_pred, "none")
        if values is None:
            return None
        return reduce_weighted_values(values, sample_weight, self.compute_mask(y_true, y_pred, values), self.reduction)

    def _values_as_tensor(self, values, y_pred):
        if values is None:
            source = getattr(getattr(self, "fn", None), "__qualname__", None) or f"{type(self).__name__}.call"
            raise TypeError(
                f"The loss {self.name!r} got None from {source}(y_true, y_pred): a loss must return "
                "a tensor of per-sample values (is a `return` missing?)."
            )
        return as_tensor(values, dtype=self._compute_dtype, device=y_pred.device)

    def call(self, y_true, y_pred):
        """Return per-sample loss values. Subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def fused(self, y_true, y_pred, reduction):
        """Optional fast path: the loss from fused PyTorch kernels, or ``None``.

        Asked by `forward` with tensors already in the loss's dtype (``y_true`` too, unless
        `integer_labels`) on one device and ``reduction`` one of ``"mean"`` (the mean of the
        per-sample values, over the unmasked ones when `compute_mask` masks), ``"sum"`` or
        ``"none"`` (the per-sample values, which `forward` then weights and reduces). It
        must give the numbers of ``call`` + `reduce_weighted_values`, to float round-off.
        """
        return None

    def compute_mask(self, y_true, y_pred, values):
        """A boolean mask of the values that count, or ``None`` (all count)."""
        return None

    def check_labels(self, y_true, y_pred) -> None:
        """Validate a whole set of labels once (e.g. every in-memory label of a ``fit``)
        against an example prediction (e.g. the first batch's). Nothing to check by default;
        losses over integer class indices check that each is a whole number in
        ``[0, num_classes)`` (``ignore_class`` skipped) and raise ``ValueError`` naming ``y``.
        """

    @contextlib.contextmanager
    def labels_checked(self):
        """A block in which this loss skips its per-batch label value checks, because
        `check_labels` has validated every label it will see::

            loss.check_labels(y_train, model(x_train[:1]))
            with loss.labels_checked():
                for x, y in batches:
                    loss(y, model(x)).backward()
        """
        previous = self._labels_prechecked
        self._labels_prechecked = True
        try:
            yield self
        finally:
            self._labels_prechecked = previous

    def get_config(self) -> dict:
        """Keras' ``{"name", "reduction"}``, plus the ``dtype`` name when one was given (Keras
        leaves it out, so that a restored loss would forget it)."""
        config = {"name": self.name, "reduction": self.reduction}
        if self._dtype_given:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


class LossFunctionWrapper(Loss):
    """A `Loss` over a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Keras' rank alignment (`squeeze_or_expand_to_same_rank`) is applied before ``fn``, so
    labels of shape ``(B,)`` and predictions of shape ``(B, 1)`` line up. What ``fn``
    declares (`danlu.losses.fused.loss_function`: a fused form, a mask, integer labels) the
    wrapper uses, so ``compile(loss="sparse_categorical_crossentropy")`` is as fast as the class.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"fn must be callable; received fn={fn!r}.")
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", None), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs
        if declaration(fn).labels is not None:
            self.integer_labels = True

    def _kwargs(self):
        if self._labels_prechecked and declaration(self.fn).labels == "class_indices":
            return {**self.fn_kwargs, "validate_labels": False}
        return self.fn_kwargs

    def call(self, y_true, y_pred):
        if not self.integer_labels:
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._kwargs())

    def _common_case_kernel(self, reduction):
        if type(self).fused is not LossFunctionWrapper.fused:  # a subclass's own fused form
            return super()._common_case_kernel(reduction)
        return common_case_kernel(self.fn, reduction, self.fn_kwargs, self._labels_prechecked)

    def fused(self, y_true, y_pred, reduction):
        form = declaration(self.fn).fused
        if form is None:
            return None
        return form(y_true, y_pred, reduction, **(self._kwargs() if self._labels_prechecked else self.fn_kwargs))

    def compute_mask(self, y_true, y_pred, values):
        mask = declaration(self.fn).mask
        return None if mask is None else mask(y_true, y_pred, values, **self.fn_kwargs)

    def check_labels(self, y_true, y_pred) -> None:
        if declaration(self.fn).labels == "class_indices":
            num_classes = as_tensor(y_pred).shape[self.fn_kwargs.get("axis", -1)]
            labels = as_tensor(y_true).detach().cpu()
            check_class_indices(labels, num_classes, self.fn_kwargs.get("ignore_class"), argument="y")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self.fn_kwargs)
        if type(self) is LossFunctionWrapper:
            config["fn"] = self.fn.__name__
        return config

    @classmethod
    def from_config(cls, config: dict):
        if cls is LossFunctionWrapper and isinstance(config.get("fn"), str):
            from danlu.losses import get

            config = {**config, "fn": get(config["fn"])}
        return super().from_config(config)


def _shape(value):
    if value is None:
        return None
    return tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))
