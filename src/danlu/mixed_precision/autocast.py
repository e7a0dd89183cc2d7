"""How a layer call computes under its dtype policy (Keras 3's ``Layer.__call__`` casting and
``AutocastScope``), on ``torch.autocast``.

- **Mixed** policy (``mixed_bfloat16`` / ``mixed_float16``): the call runs under
  ``torch.autocast(device, dtype=compute_dtype)`` and its floating inputs are cast to the
  compute dtype (Keras hands a mixed layer compute-dtype inputs). The weights stay float32:
  autocast casts them per operation, so gradients and optimizer updates are float32.
- **Plain** policy other than float32 (``bfloat16``, ``float16``, ``float64``): weights are
  already of that dtype; floating inputs are cast to it.
- A **float32** layer inside a mixed region (a per-layer ``dtype="float32"`` in a mixed
  model, e.g. a last layer or a softmax kept in full precision) leaves autocast off for its
  call and gets float32 inputs; outside a region, a float32 layer with float32 weights
  (Dense, convolutions: ``input_dtype_kind == "float"``) casts float16 / bfloat16 inputs —
  the outputs of a mixed layer before it — to float32, as Keras casts a layer's inputs.
  Layers without weights take half inputs as they come.

A float32 layer outside any mixed region pays two attribute checks per call (and, for
layers with weights, a look at its first input's dtype). Nested mixed layers reuse the
region their outermost mixed parent opened.
"""

from __future__ import annotations

import contextlib

import torch

from danlu.mixed_precision.policy import Policy

FLOAT32 = torch.float32


class _Region:
    """The compute dtype of the innermost danlu autocast region (None outside any)."""

    dtype: torch.dtype | None = None


REGION = _Region()


def _device_type(args) -> str:
    for arg in args:
        if isinstance(arg, torch.Tensor):
            return arg.device.type
        if isinstance(arg, (list, tuple)):
            found = _device_type(arg)
            if found:
                return found
        elif isinstance(arg, dict):
            found = _device_type(tuple(arg.values()))
            if found:
                return found
    return ""


HALF = (torch.float16, torch.bfloat16)


def half_inputs(args) -> bool:
    """Whether the first positional argument is a float16 / bfloat16 tensor."""
    return bool(args) and isinstance(args[0], torch.Tensor) and args[0].dtype in HALF


def cast_floating(structure, dtype):
    """Cast the floating tensors of a (nested) structure to ``dtype``; others stay as they are
    (a structure with nothing to cast is returned itself)."""
    if isinstance(structure, torch.Tensor):
        return structure.to(dtype) if structure.is_floating_point() and structure.dtype != dtype else structure
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        cast = [cast_floating(s, dtype) for s in structure]
        return structure if all(a is b for a, b in zip(cast, structure)) else type(structure)(cast)
    if isinstance(structure, dict):
        cast = {k: cast_floating(v, dtype) for k, v in structure.items()}
        return structure if all(cast[k] is v for k, v in structure.items()) else cast
    return structure


@contextlib.contextmanager
def _region(dtype, device_type, enabled):
    """``torch.autocast`` for ``device_type`` (on or off), with `REGION` tracking danlu's dtype."""
    previous = REGION.dtype
    REGION.dtype = dtype if enabled else None
    try:
        with torch.autocast(device_type, dtype=dtype if enabled else None, enabled=enabled):
            yield
    finally:
        REGION.dtype = previous


def layer_call(policy: Policy, args: tuple):
    """``(context, args)`` for a layer call under ``policy``: the context to run the call in
    and the positional arguments cast as the policy says (see the module docstring). Called
    when the policy changes the computation, a mixed region is open, or a float32 layer with
    weights gets half inputs."""
    compute = policy.torch_compute_dtype
    if policy.is_mixed:
        if REGION.dtype == compute:  # inside the region of a mixed parent: nothing to open
            return contextlib.nullcontext(), cast_floating(args, compute)
        device_type = _device_type(args)
        if not device_type:
            return contextlib.nullcontext(), args
        return _region(compute, device_type, True), cast_floating(args, compute)
    args = cast_floating(args, compute)
    if REGION.dtype is None:
        return contextlib.nullcontext(), args
    device_type = _device_type(args)
    return (_region(None, device_type, False) if device_type else contextlib.nullcontext()), args
