"""``model.save(path)`` / ``danlu.models.load_model(path)``: one file with the weights, the
optimizer's state and the configurations (model, compile), restoring a model that continues
training on the same trajectory.

The file is a safetensors container (``.danlu``): tensors under ``model/...`` and
``optimizer/...``, everything else as JSON in its metadata. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import warnings

import torch

from danlu.saving import serialization
from danlu.saving.atomic import atomic_path

FORMAT = "danlu.model/1"


def _split_tensors(value, prefix, tensors):
    """Replace every tensor in a nested structure by a reference into ``tensors``."""
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value.detach().contiguous().cpu()
        return {"__tensor__": prefix}
    if isinstance(value, dict):
        return {str(k): _split_tensors(v, f"{prefix}/{k}", tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_tensors(v, f"{prefix}/{i}", tensors) for i, v in enumerate(value)]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _join_tensors(value, tensors, int_keys=False):
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return tensors[value["__tensor__"]]
        return {(int(k) if int_keys and k.isdigit() else k): _join_tensors(v, tensors, int_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_tensors(v, tensors, int_keys) for v in value]
    return value


def _compile_config(model):
    trainer = model._trainer
    if trainer is None:
        return None
    try:
        from danlu import losses

        spec = trainer.compile_arguments
        loss = spec["loss"]
        loss = losses.serialize(loss) if callable(loss) and not isinstance(loss, (dict, list)) else serialization.serialize(loss, "loss")
        return {
            "loss": loss,
            "loss_weights": serialization.serialize(spec["loss_weights"], "loss_weights"),
            "metrics": serialization.serialize(spec["metrics"], "metrics"),
            "weighted_metrics": serialization.serialize(spec["weighted_metrics"], "weighted_metrics"),
            "steps_per_execution": spec["steps_per_execution"],
        }
    except ValueError as error:
        warnings.warn(f"The compile configuration is not saved ({error}); load_model returns an uncompiled model.", stacklevel=3)
        return None


def save_model(model, path) -> None:
    """Write ``model`` (architecture, weights, optimizer state, compile settings) to ``path``."""
    from safetensors.torch import save_file

    path = os.fspath(path)
    if not path.endswith(".danlu"):
        raise ValueError(f"Model files end in '.danlu' (use save_weights for '.safetensors' weight files); received {path!r}.")
    if model.module is not None:
        raise ValueError(
            "A model wrapping a plain torch module has no configuration to save: use save_weights(), and "
            "rebuild the module in code before load_weights()."
        )
    config = serialization.serialize(model, "the model")
    example = getattr(model, "_example_input", None)
    tensors = {f"model/{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    optimizer_state = None
    optimizer_config = None
    optimizer = model.optimizer
    if optimizer is not None and optimizer.param_groups:
        optimizer_state = _split_tensors(optimizer.state_dict(), "optimizer", tensors)
        try:
            optimizer_config = serialization.serialize(optimizer, "the optimizer")
        except ValueError:
            optimizer_config = None
    metadata = {
        "format": FORMAT,
        "model": config,
        "input_example": None if not isinstance(example, torch.Tensor) else {"shape": list(example.shape), "dtype": str(example.dtype).removeprefix("torch.")},
        "compile": _compile_config(model),
        "optimizer_config": optimizer_config,
        "optimizer_state": optimizer_state,
    }
    with atomic_path(path) as temporary:
        save_file(tensors, temporary, metadata={"danlu": json.dumps(metadata)})


def load_model(path, custom_objects=None, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights and, when it was
    compiled (and ``compile=True``), its optimizer with the exact state it had.

    Models of your own classes need them in ``custom_objects`` (``{"MyModel": MyModel}``)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    with safe_open(path, framework="pt") as file:
        metadata = json.loads((file.metadata() or {}).get("danlu", "null") or "null")
    if not metadata or metadata.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a danlu model file (written by model.save).")
    tensors = load_file(path)
    model = serialization.deserialize(metadata["model"], custom_objects)
    example = metadata.get("input_example")
    if example is not None:
        with torch.no_grad():
            model.eval()
            model(torch.zeros(example["shape"], dtype=getattr(torch, example["dtype"])))
    model._require_built("load_model")
    weights = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    model.load_state_dict(weights)
    compile_config = metadata.get("compile")
    if compile and compile_config is not None:
        optimizer = serialization.deserialize(metadata["optimizer_config"], custom_objects) if metadata.get("optimizer_config") else "rmsprop"
        model.compile(
            optimizer=optimizer,
            loss=serialization.deserialize(compile_config["loss"], custom_objects),
            loss_weights=compile_config["loss_weights"],
            metrics=serialization.deserialize(compile_config["metrics"], custom_objects),
            weighted_metrics=serialization.deserialize(compile_config["weighted_metrics"], custom_objects),
            steps_per_execution=compile_config["steps_per_execution"],
        )
        state = metadata.get("optimizer_state")
        if state is not None:
            model._trainer._bind_optimizer(model)
            restored = _join_tensors(state, {k: v for k, v in tensors.items() if k.startswith("optimizer")}, int_keys=True)
            model.optimizer.load_state_dict(restored)
    return model
