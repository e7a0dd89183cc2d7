"""``compile(jit_compile=...)``: the train step compiled with ``torch.compile``.

With ``jit_compile=True`` and the model's own ``train_step`` left as it is, the step runs:

1. forward **and** objective (compiled loss, regularization, ``add_loss`` terms) as one
   compiled graph, the batch axis of every input marked dynamic, so a short last batch
   reuses the graph instead of compiling another one every epoch (torch specializes sizes
   0 and 1: a last batch of one sample compiles once more, once per run);
2. the backward pass, compiled by AOTAutograd together with the forward;
3. the optimizer update, eagerly: danlu's update rules are multi-tensor (``_foreach``)
   kernels already, and their step counter and learning rate are Python numbers that
   ``torch.compile`` either bakes into the graph (a compiled danlu Adam step recompiles every
   step) or, compiling the whole ``step`` method, silently keeps at their first value;
4. the metrics, eagerly (they read nothing back from the device).

Graph breaks are reported once, with their causes, after the first compiled step. A model
with its own ``train_step`` gets its forward compiled (``trainer.forward``). ``"auto"``
compiles on CUDA for models of at least `AUTO_MIN_PARAMETERS` parameters and runs eagerly
elsewhere (compilation costs seconds to minutes, and pays off for large models on GPUs).
"""

from __future__ import annotations

import warnings

import torch

from danlu.trainer.data import flatten, unpack

#: torch.compile's backend (None: its default, inductor). Tests may set "aot_eager".
BACKEND = None
#: ``jit_compile="auto"`` compiles on CUDA for models with at least this many parameters.
AUTO_MIN_PARAMETERS = 1_000_000


def resolve(jit_compile, model, device: torch.device) -> bool:
    """Whether to compile, for ``jit_compile`` True, False or "auto"."""
    if jit_compile == "auto":
        return device.type == "cuda" and sum(p.numel() for p in model.parameters()) >= AUTO_MIN_PARAMETERS
    if jit_compile is not True and jit_compile is not False:
        raise ValueError(f"jit_compile must be True, False or 'auto'; received jit_compile={jit_compile!r}.")
    return jit_compile


def compile_module(module):
    """``torch.compile(module)`` with `BACKEND`."""
    return torch.compile(module, backend=BACKEND) if BACKEND is not None else torch.compile(module)


def uses_default_train_step(model) -> bool:
    """Whether ``model``'s ``train_step`` is danlu's own (not a subclass' replacement)."""
    for cls in type(model).__mro__:
        if "train_step" in cls.__dict__:
            return cls.__module__ == "danlu.models.model" and "train_step" not in model.__dict__
    return False


def mark_batch_dynamic(structure) -> None:
    for leaf in flatten(structure):
        if isinstance(leaf, torch.Tensor) and leaf.ndim:
            torch._dynamo.maybe_mark_dynamic(leaf, 0)


def _graph_breaks() -> dict:
    return dict(torch._dynamo.utils.counters["graph_break"])


class CompiledTrainStep:
    """``Model.train_step``'s work with forward + objective (+ backward) compiled (see the
    module docstring); called with a batch, returns the step logs."""

    def __init__(self, trainer):
        self.trainer = trainer
        trainer.model.losses  # noqa: B018 - fills the model's layer cache now, not inside the first graph (a recompile)
        self.objective = compile_module(self._objective)
        self._reported = False

    def _objective(self, x, y, sample_weight):
        trainer = self.trainer
        y_pred = trainer.forward(x)
        return trainer.model.compute_loss(x, y, y_pred, sample_weight, training=True), y_pred

    def __call__(self, data):
        trainer = self.trainer
        model, optimizer = trainer.model, trainer.optimizer
        x, y, sample_weight = unpack(data)
        mark_batch_dynamic((x, y, sample_weight))
        if not self._reported:
            before = _graph_breaks()
            loss, y_pred = self.objective(x, y, sample_weight)
            self._report(before)
        else:
            loss, y_pred = self.objective(x, y, sample_weight)
        trainer.loss_tracker.update(loss, _batch_size(x))
        if loss.requires_grad:
            optimizer.zero_grad(set_to_none=True)
            trainer.backward(loss)
            optimizer.step()
        return model.compute_metrics(x, y, y_pred, sample_weight)

    def _report(self, before):
        self._reported = True
        after = _graph_breaks()
        new = {reason: count - before.get(reason, 0) for reason, count in after.items() if count > before.get(reason, 0)}
        if new:
            causes = "; ".join(f"{reason} (x{count})" if count > 1 else reason for reason, count in new.items())
            warnings.warn(
                f"jit_compile: the train step's forward and loss compiled with {sum(new.values())} graph break(s), "
                f"which run eagerly between compiled graphs: {causes}",
                stacklevel=4,
            )


def _batch_size(x) -> int:
    leaves = flatten(x)
    return int(leaves[0].shape[0]) if leaves and getattr(leaves[0], "ndim", 0) else 1
