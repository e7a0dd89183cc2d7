"""Reporting inputs a model cannot take: the shape seen and the shape expected."""

from __future__ import annotations

import torch

from danlu.trainer.data import map_structure


def expected_input(model) -> str:
    """A description of the input the model's first weighted layer expects, if known."""
    for module in model.modules():
        kernel = getattr(module, "kernel", None)
        weight = getattr(module, "weight", None)
        if type(module).__name__ == "Dense" and isinstance(weight, torch.Tensor):
            return f"(batch, {weight.shape[1]})"
        if type(module).__name__ in ("Conv2D", "Conv1D") and isinstance(kernel, torch.Tensor):
            return f"(batch, {kernel.shape[1] * module.groups}, ...)"
        if isinstance(module, torch.nn.Linear):
            return f"(batch, {module.in_features})"
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
            return f"(batch, {module.in_channels}, ...)"
        if isinstance(weight, torch.Tensor):
            break
    return ""


def describe_shapes(structure) -> str:
    return str(map_structure(lambda t: tuple(t.shape) if hasattr(t, "shape") else type(t).__name__, structure))


def describe_dtypes(structure) -> str:
    return str(map_structure(lambda t: str(t.dtype).removeprefix("torch.") if hasattr(t, "dtype") else type(t).__name__, structure))


_DTYPE_HINTS = ("scalar type", "dtype", "Expected tensor for argument", "expected m1 and m2", "not implemented for 'Long'",
                "not implemented for 'Int'", "not implemented for 'Bool'", "should be the same")


def input_error(model, x, error) -> ValueError:
    """A ValueError saying what about the inputs the model could not take: their structure,
    their dtype or their shape, and what it expects."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(x, dict) and not getattr(model, "takes_dict_inputs", False):
        return ValueError(
            f"The model could not take x, a dict with keys {sorted(x)}. If it takes one tensor, pass the tensor itself; "
            f"for named inputs build a functional model with a dict of inputs "
            f"(danlu.Model({{'name': danlu.Input(...)}}, outputs)). ({message})"
        )
    if isinstance(x, (list, tuple)) and ("not list" in str(error) or "not tuple" in str(error)):
        return ValueError(
            f"The model takes a tensor, but x is a {type(x).__name__} of {len(x)} arrays. Pass one array, or build a "
            f"model with several inputs. ({message})"
        )
    if any(hint in str(error) for hint in _DTYPE_HINTS):
        return ValueError(f"The model cannot take inputs of dtype {describe_dtypes(x)} (shape {describe_shapes(x)}). ({message})")
    expected = expected_input(model)
    return ValueError(
        f"The model cannot take inputs of shape {describe_shapes(x)}" + (f"; it expects {expected}" if expected else "") + f". ({message})"
    )


def checked_first_step(step_fn, model, batch):
    """Run a step; a RuntimeError (PyTorch's shape errors) from the first step of a call is
    reported as inputs the model cannot take. It comes from the forward pass or the loss,
    before the optimizer changes any weight."""
    try:
        return step_fn(batch)
    except RuntimeError as error:
        raise input_error(model, batch[0], error) from error
