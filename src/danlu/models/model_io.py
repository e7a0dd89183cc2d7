"""``model.save(path)`` / ``danlu.models.load_model(path)``: one file with the architecture,
the weights, the optimizer's state and the compile settings, restoring a model that continues
training on the same trajectory.

The file is a danlu safetensors container (`danlu.saving.files`, format ``danlu.model/1``):
tensors under ``model/...`` and ``optimizer/...``, everything else as JSON. The model talks
to it through its public contract — ``get_config`` / ``from_config``, ``get_compile_config``
/ ``compile_from_config``, ``state_dict``, and its trainer's optimizer — as Keras 3's saving
does. Nothing is ever unpickled.
"""

from __future__ import annotations

import warnings

import torch

from danlu.saving import files, packing, serialization
from danlu.saving.weights import check_matching


def save_model(model, path) -> None:
    """Write ``model`` (architecture, weights, optimizer state, compile settings) to ``path``."""
    if model.module is not None:
        raise ValueError(
            "A model wrapping a plain torch module has no configuration to save: use save_weights(), and "
            "rebuild the module in code before load_weights()."
        )
    config = serialization.serialize(model, "the model")
    example = model.example_input
    strategy = model._strategy()  # several processes: every one gathers, rank 0 writes
    tensors = {f"model/{k}": v for k, v in strategy.model_state_dict(model).items()}
    compile_config, optimizer_state = None, None
    trainer = model.trainer
    if trainer is not None:
        try:
            compile_config = model.get_compile_config()
        except ValueError as error:
            warnings.warn(f"The compile configuration is not saved ({error}); load_model returns an uncompiled model.", stacklevel=3)
        if compile_config is not None and trainer.optimizer is not None and trainer.optimizer.built:
            optimizer_state, optimizer_tensors = packing.pack(strategy.optimizer_state_dict(trainer.optimizer), "optimizer")
            tensors.update(optimizer_tensors)
    description = {
        "model": config,
        "input_example": None if not isinstance(example, torch.Tensor) else {
            "shape": list(example.shape), "dtype": str(example.dtype).removeprefix("torch."),
        },
        "compile": compile_config,
        "optimizer_state": optimizer_state,
    }
    if strategy.is_chief:
        files.write(path, tensors, description, files.MODEL)
    strategy.barrier()


def load_model(path, custom_objects=None, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights and, when it was
    compiled (and ``compile=True``), its optimizer with the exact state it had.

    Classes of your own need ``custom_objects={"MyModel": MyModel, ...}`` (or
    `danlu.saving.register_serializable`)."""
    description, tensors = files.read(path, files.MODEL)
    model = serialization.deserialize(description["model"], custom_objects, "danlu.models")
    example = description.get("input_example")
    if example is not None:
        with torch.no_grad():
            model.eval()
            model(torch.zeros(example["shape"], dtype=getattr(torch, example["dtype"])))
    model._require_built("load_model")
    weights = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    check_matching(model.state_dict(), weights, f"The weights in {str(path)!r}")
    model.load_state_dict(weights)
    compile_config = description.get("compile")
    if compile and compile_config is not None:
        model.compile_from_config(compile_config, custom_objects)
        state = description.get("optimizer_state")
        if state is not None:
            trainer = model.trainer
            trainer.bind_optimizer()
            trainer.strategy.load_optimizer_state_dict(trainer.optimizer, packing.unpack(state, tensors))
    return model
