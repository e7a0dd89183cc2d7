"""`ShardedDataParallel`: data parallelism with every weight, gradient and optimizer state
sharded across the processes (FSDP2, ``torch.distributed.fsdp.fully_shard``), for models
that do not fit one device.

Each selected submodule becomes a unit whose weights are all-gathered just before its
forward (and backward) and freed after; gradients are reduce-scattered (averaged, as DDP
averages), so the loss weighting of `danlu.trainer.sharding` makes the update the
single-process update of the global batch, exactly as with `DataParallel`. The optimizer
binds to the shards and updates them in place (its slots are sharded likewise).

Saving: ``save_weights`` / ``model.save`` / checkpoints gather the full, unsharded weights
(and optimizer state) on rank 0, which writes the usual danlu file — loadable by a
single-process model or by a sharded one of any world size. ``state_dict_type="sharded"``
makes ``save_weights(folder)`` write a ``torch.distributed.checkpoint`` folder instead
(each process writes its shards: nothing is gathered), which ``load_weights(folder)``
reads back into a sharded model.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from danlu.distribute.strategy import Strategy
from danlu.saving import serialization

#: Attributes danlu keeps on its weights (Keras layout, name, constraint, ...), carried over
#: to the sharded parameters.
WEIGHT_ATTRIBUTES = ("name", "path", "keras_layout", "constraint", "_created_trainable", "aggregation")


def _dtensor_class():
    from torch.distributed.tensor import DTensor

    return DTensor


class ShardedDataParallel(Strategy):
    """``with ShardedDataParallel().scope(): model = ...; model.compile(...)``, launched with
    ``torchrun``; ``fit`` as usual (``batch_size`` is global).

    Which submodules become sharded units: ``layers`` (a list of modules, or of module
    classes such as ``[TransformerBlock]``), else every submodule holding at least
    ``min_num_params`` parameters not already in a unit (bottom-up, as FSDP's size policy),
    then the model itself. ``reshard_after_forward=True`` frees gathered weights after each
    forward (least memory; False keeps them until the backward). ``state_dict_type``: "full"
    (default; see the module docstring) or "sharded". See `Strategy` for ``devices``,
    ``backend``, ``timeout``.

    Under sharding a weight's value is spread over processes: ``get_weights()`` and reading a
    weight directly see this process' shard; weight regularizers and constraints, which
    need whole weights, are refused. With gradient accumulation every micro-step reduces
    its gradients (exact; DataParallel skips the micro-steps' all-reduce instead).
    """

    def __init__(self, devices=None, backend=None, timeout=600.0, min_num_params=100_000, layers=None,
                 reshard_after_forward=True, state_dict_type="full"):
        super().__init__(devices=devices, backend=backend, timeout=timeout)
        if isinstance(min_num_params, bool) or not isinstance(min_num_params, int) or min_num_params < 1:
            raise ValueError(f"min_num_params must be a positive int; received min_num_params={min_num_params!r}.")
        if state_dict_type not in ("full", "sharded"):
            raise ValueError(f"state_dict_type must be 'full' or 'sharded'; received state_dict_type={state_dict_type!r}.")
        self.min_num_params, self.layers = min_num_params, layers
        self.reshard_after_forward, self.state_dict_type = reshard_after_forward, state_dict_type
        self.mesh = None

    # --- Sharding the model -----------------------------------------------------------------------

    def units(self, model) -> list:
        """The submodules that become sharded units (children before parents), not the root."""
        if self.layers is not None:
            classes = tuple(item for item in self.layers if isinstance(item, type))
            instances = {id(item) for item in self.layers if isinstance(item, torch.nn.Module)}
            return [m for m in _post_order(model) if m is not model and (id(m) in instances or (classes and isinstance(m, classes)))]
        chosen, covered = [], set()
        for module in _post_order(model):
            if module is model:
                continue
            free = sum(p.numel() for p in module.parameters() if id(p) not in covered)
            if free >= self.min_num_params:
                chosen.append(module)
                covered.update(id(p) for p in module.parameters())
        return chosen

    def wrap_model(self, model):
        if not self.distributed:
            return model
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        _refuse_whole_weight_features(model)
        self.mesh = init_device_mesh(self.device.type, (self.world_size,))
        with torch.no_grad():  # every process shards rank 0's weights
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor.data, src=0)
        attributes = {name: _kept_attributes(p) for name, p in model.named_parameters()}
        for unit in self.units(model):
            fully_shard(unit, mesh=self.mesh, reshard_after_forward=self.reshard_after_forward)
        fully_shard(model, mesh=self.mesh, reshard_after_forward=self.reshard_after_forward)
        for name, parameter in model.named_parameters():
            for attribute, value in attributes.get(name, {}).items():
                setattr(parameter, attribute, value)
        _keep_class_names(model)
        return model

    # --- Full states for saving -------------------------------------------------------------------

    def _is_sharded(self, model) -> bool:
        DTensor = _dtensor_class()
        return self.distributed and any(isinstance(p, DTensor) for p in model.parameters())

    def model_state_dict(self, model):
        if not self._is_sharded(model):
            return model.state_dict()
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return get_model_state_dict(model, options=options)  # complete on rank 0, empty elsewhere

    def load_model_state_dict(self, model, state):
        if not self._is_sharded(model):
            model.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True))

    def optimizer_state_dict(self, optimizer):
        state = optimizer.state_dict()
        if not self.distributed:
            return state
        DTensor = _dtensor_class()

        def full(value):
            if isinstance(value, DTensor):
                value = value.full_tensor().cpu()
            if isinstance(value, dict):
                return {k: full(v) for k, v in value.items()}
            if isinstance(value, list):
                return [full(v) for v in value]
            return value

        state = full(state)  # every process gathers (a collective); rank 0 writes
        return state if self.is_chief else {}

    def load_optimizer_state_dict(self, optimizer, state):
        if self.distributed:
            state = _shard_like(state, [p for group in optimizer.param_groups for p in group["params"]])
        optimizer.load_state_dict(state)

    # --- torch.distributed.checkpoint folders -------------------------------------------------------

    def write_weights(self, model, path, write):
        if self.state_dict_type == "full" or not self._is_sharded(model):
            return super().write_weights(model, path, write)
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        dcp.save({"model": get_model_state_dict(model)}, checkpoint_id=str(path))  # every process writes its shards
        self.barrier()

    def read_weights(self, model, path, read):
        import os

        if not (os.path.isdir(path) and self._is_sharded(model)):
            return super().read_weights(model, path, read)
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import (
            get_model_state_dict,
            set_model_state_dict,
        )

        state = {"model": get_model_state_dict(model)}
        dcp.load(state, checkpoint_id=str(path))
        set_model_state_dict(model, state["model"])


def _keep_class_names(model) -> None:
    """``fully_shard`` turns each unit's class ``C`` into a subclass ``FSDPC``; save it under
    ``C``'s key, so that configs (``model.save``, ``get_config``) name the user's class."""
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        cls = type(module)
        if FSDPModule in cls.__bases__:
            original = next(base for base in cls.__bases__ if base is not FSDPModule)
            cls.__module__, cls.__name__ = serialization.class_key(original)
            cls.__qualname__ = original.__qualname__


def _post_order(module):
    for child in module.children():
        yield from _post_order(child)
    yield module


def _kept_attributes(parameter) -> dict:
    return {a: getattr(parameter, a) for a in WEIGHT_ATTRIBUTES if a in getattr(parameter, "__dict__", {})}


def _refuse_whole_weight_features(model) -> None:
    for module in model.modules():
        regularized = getattr(module, "_weight_regularizers", None)
        if regularized:
            raise ValueError(
                f"ShardedDataParallel cannot shard layer {getattr(module, 'name', type(module).__name__)!r}: it has a "
                f"weight regularizer ({regularized[0][0]}), which needs the whole weight. Use DataParallel, or add the "
                "penalty in the loss."
            )
    constrained = [n for n, p in model.named_parameters() if getattr(p, "constraint", None) is not None]
    if constrained:
        raise ValueError(
            f"ShardedDataParallel cannot shard weights with constraints ({', '.join(constrained[:3])}): a constraint "
            "needs the whole weight. Use DataParallel."
        )


def _shard_like(state, params):
    """A full optimizer state dict with each slot shaped like its parameter distributed as the
    parameter is (torch-style ``{"state", "param_groups"}`` dicts, possibly nested in a
    wrapper's ``{"inner", "wrapper"}``)."""
    DTensor = _dtensor_class()
    if isinstance(state, dict) and "state" in state and "param_groups" in state:
        from torch.distributed.tensor import distribute_tensor

        order = [i for group in state["param_groups"] for i in group["params"]]
        index = dict(zip(order, params))
        converted = {}
        for key, slots in state["state"].items():
            param = index.get(key)
            new = {}
            for name, value in slots.items():
                if isinstance(param, DTensor) and isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(param.shape):
                    value = distribute_tensor(value.to(param.device_mesh.device_type), param.device_mesh, param.placements)
                new[name] = value
            converted[key] = new
        return {**state, "state": converted}
    if isinstance(state, dict):
        return {k: _shard_like(v, params) for k, v in state.items()}
    return state
