"""`Trainer`: a compiled model's training run — what ``compile`` set up (optimizer,
objective, metrics, device), its preparation on the first batch, and the run's state.

The trainer owns the run; the loops in `danlu.trainer.loop` take it. Its public surface, for
callbacks and saving (nothing else reads its attributes):

- ``optimizer``: the optimizer in danlu's interface (a danlu optimizer, or the adapter around
  a ``torch.optim`` one); ``user_optimizer``: the object given to ``compile``;
- ``metrics`` / ``reset_metrics()``; ``device``; ``progress`` (a `TrainingProgress`);
- ``bind_optimizer()``: create the optimizer's state for the model's trainable weights;
- ``state_dict()`` / ``load_state_dict(state)``: everything a killed run needs to continue
  (model, optimizer, position, random generators), and the declaration of where it resumes;
- ``strategy``: how the run is spread over processes (`danlu.trainer.strategy.SingleProcess`
  for one; `danlu.distribute`'s strategies for several): ``is_chief`` (this process writes
  files), ``barrier()``, ``world_size``, ``rank``.

Precision and scale are asked of small objects, never branched on: the strategy (devices,
sharding, gradient all-reduce, combining results, full state dicts), the model's dtype policy
(``"mixed_float16"`` wraps the optimizer in a `LossScaleOptimizer`, as Keras' ``compile``),
and `danlu.trainer.compiled` for ``jit_compile``.
"""

from __future__ import annotations

import contextlib

import torch

from danlu import optimizers as optimizers_module
from danlu._validation import check_positive_int
from danlu.trainer import compiled, random_state
from danlu.trainer.checks import input_error
from danlu.trainer.compile_utils import CompiledLoss, CompiledMetrics, LossTracker
from danlu.trainer.data import ArrayData, flatten, map_structure, to_device
from danlu.trainer.progress import TrainingProgress
from danlu.trainer.strategy import SingleProcess, choose_device  # noqa: F401 - choose_device: the old home


def device_of(model) -> torch.device:
    """Where the model's weights are (the CPU for a model without weights)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class Trainer:
    """The compiled state of a model and its training run (see the module docstring)."""

    def __init__(self, model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                 steps_per_execution=1, jit_compile=False, device=None, strategy=None):
        check_positive_int("steps_per_execution", steps_per_execution)
        if loss is None and loss_weights is not None:
            raise ValueError("loss_weights needs a loss.")
        self.model = model
        self.compile_arguments = {
            "optimizer": optimizer, "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "steps_per_execution": steps_per_execution, "jit_compile": jit_compile,
        }
        self.strategy = strategy if strategy is not None else SingleProcess()
        self.user_optimizer = optimizers_module.get(optimizer)
        self.optimizer = None if self.user_optimizer is None else optimizers_module.as_optimizer(self.user_optimizer)
        if self.optimizer is not None and _needs_loss_scaling(model, self.optimizer):
            # Keras: a "mixed_float16" model's optimizer is wrapped in dynamic loss scaling.
            self.optimizer = optimizers_module.LossScaleOptimizer(self.optimizer)
            if self.user_optimizer is not None and isinstance(self.user_optimizer, optimizers_module.Optimizer):
                self.user_optimizer = self.optimizer
        self.loss = None if loss is None else CompiledLoss(loss, loss_weights)
        self.compiled_metrics = CompiledMetrics(metrics, weighted_metrics)
        self.loss_tracker = LossTracker()
        self.steps_per_execution = steps_per_execution
        self.device = self.strategy.choose_device(model, device)
        self.jit_compile = compiled.resolve(jit_compile, model, self.device)
        self.progress = TrainingProgress()
        #: During ``fit``: its callbacks (in order) and the actions `defer` queued for after
        #: the current hook; the state of a resumed epoch, restored once it has begun again.
        self.callbacks = None
        self.deferred: list = []
        self.resumed_within_epoch = None
        self.labels_validated = False
        self.prepared = False  # built, bound and resolved on a first batch
        self.logs = None  # the lazy logs of the current loop (see Model.step_logs)
        self.forward = model  # the module the train step's forward goes through (see wrap)
        self.wrapped = False
        self.compiled_step = None
        #: The weight of this process' loss in the global batch (see danlu.trainer.sharding).
        self.loss_share = None
        if self.device.type != "cpu" or any(p.device != self.device for p in model.parameters()):
            model.to(self.device)

    @classmethod
    def for_inference(cls, model, strategy=None) -> "Trainer":
        """A trainer for ``predict`` on an uncompiled model: no optimizer, the weights' device."""
        return cls(model, optimizer=None, device=device_of(model), strategy=strategy)

    @property
    def train_step(self):
        """The step the fit loop calls: the compiled step (``jit_compile``) or the model's."""
        return self.compiled_step if self.compiled_step is not None else self.model.train_step

    def wrap(self):
        """Once the model is built, before the optimizer binds: the strategy's wrapper (DDP,
        FSDP sharding) and ``jit_compile``'s compiled step."""
        if self.wrapped or next(self.model.parameters(), None) is None:  # unbuilt: wrap once there are weights
            return
        self.wrapped = True
        self.forward = self.strategy.wrap_model(self.model)
        if self.jit_compile:
            if compiled.uses_default_train_step(self.model):
                self.compiled_step = compiled.CompiledTrainStep(self)
            else:
                self.forward = compiled.compile_module(self.forward)

    # --- Metrics ------------------------------------------------------------------------------

    @property
    def metrics(self):
        """The compiled metrics in Keras' order: loss, the compiled metrics, each output's loss."""
        per_output = [] if self.loss is None else self.loss.metrics
        return [self.loss_tracker, *self.compiled_metrics.metrics, *per_output]

    def begin_loop(self):
        """A loop (an epoch, an evaluation) starts: the model's metrics are reset and the
        step logs are made anew for them."""
        self.model.reset_metrics()
        self.logs = None

    # --- Batches ------------------------------------------------------------------------------

    def move(self, batch):
        """Put a batch on the training device (no-op on the CPU)."""
        if self.device.type == "cpu":
            return batch
        return tuple(to_device(part, self.device) for part in batch)

    def conform(self, data):
        """Give ``data``'s inputs what the model's inputs expect (Keras' standardization:
        integer / boolean inputs of float inputs cast, ``(batch,)`` for ``(batch, 1)``)."""
        expected = self.model.input_expectations()
        if expected is not None:
            data.conform_inputs(expected)
        return data

    def prepare(self, x, y, sample_weight, data=None):
        """Build the model on the first batch (reporting inputs it cannot take), bind the
        optimizer, resolve metrics and check in-memory labels: all before any update."""
        model = self.model
        x, y, sample_weight = self.move((x, y, sample_weight))
        if self.prepared:
            if self.loss is not None and y is not None and isinstance(data, ArrayData):
                self._check_labels(self._output_example, data)
            return
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                y_pred = model(x)
        except NotImplementedError:  # a model with only its own train_step (a GAN): nothing to build here
            self.wrap()
            self.bind_optimizer()
            self.prepared = True
            return
        except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
            raise input_error(model, x, error) from error
        finally:
            model.train(was_training)
        model.example_input = map_structure(lambda t: t[:1], x)
        self.wrap()
        self.bind_optimizer()
        names = model.output_names
        if self.loss is not None and y is not None:
            self.loss.build(y_pred, names)
            self._check_labels(y_pred, data)
        if y is not None:
            self.compiled_metrics.build(y, y_pred, names)
            self._output_example = map_structure(lambda t: t[:1], y_pred)
            self.prepared = True

    def bind_optimizer(self):
        """Create the optimizer's state for the model's trainable weights (once)."""
        optimizer = self.optimizer
        if optimizer is None or optimizer.built:
            return
        self.wrap()  # the strategy may replace the weights (sharding): bind to what trains
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if trainable:  # a model without trainable weights can still run a step of its own
            optimizer.build(trainable)

    def _check_labels(self, y_pred, data):
        """Validate every in-memory label once (`Loss.check_labels`: the class indices of a
        sparse crossentropy), so that a bad label deep in the data fails before training
        rather than after some updates."""
        if not isinstance(data, ArrayData) or self.loss.losses is None or len(self.loss.losses) != 1 or data.y is None:
            return
        loss = self.loss.losses[0]
        if not getattr(loss, "integer_labels", False) or not isinstance(y_pred, torch.Tensor) or y_pred.ndim == 0:
            return
        labels = flatten(data.y)
        if len(labels) == 1:
            loss.check_labels(labels[0], y_pred)
            self.labels_validated = True

    def label_checks_done(self):
        """A context in which the loss skips its per-batch label checks (`Loss.labels_checked`),
        when `prepare` has already validated every label of the in-memory data."""
        validated, self.labels_validated = self.labels_validated, False
        return self.loss.losses[0].labels_checked() if validated else contextlib.nullcontext()

    # --- Steps --------------------------------------------------------------------------------

    def share_for(self, share: float) -> float:
        """The factor of this process' loss for the backward pass, given its share of the
        global batch (``world_size * local / global``, see `danlu.trainer.sharding`): the
        share itself for losses that average over the batch, ``world_size`` for summed ones
        (``reduction="sum"``)."""
        if self.loss is not None and self.loss.losses is not None and self.loss.sum_reduced:
            return float(self.strategy.world_size) if share else 0.0
        return share

    def backward(self, loss):
        """``loss.backward()`` on the optimizer's scaled loss (loss scaling, ``loss_scale_factor``),
        weighted by this process' share of the global batch when data is sharded."""
        loss = self.optimizer.scale_loss(loss)
        if self.loss_share is not None:
            loss = loss * self.loss_share
        self.strategy.backward(self.forward, self.optimizer, loss)

    # --- The run's state ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a killed run needs to continue exactly (`BackupAndRestore` writes it):

        - ``model``, ``optimizer``: the weights and buffers; the optimizer's slots,
          iterations, schedule position, EMA, accumulators and loss scale;
        - ``progress``: the epoch, the step within it and the epoch's shuffling order
          (`TrainingProgress.state_dict`), and ``stop_training``;
        - ``rng``: torch's CPU and CUDA generators, numpy's global one, Python's ``random``
          (`danlu.trainer.random_state`);
        - ``metrics``: the accumulators of the partly done epoch, by position and name;
        - ``callbacks``: during ``fit``, the ``get_state()`` of every callback of the run that
          has one (History so far, EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, ...),
          keyed by class."""
        strategy = self.strategy
        return {
            "model": dict(strategy.model_state_dict(self.model)),
            "optimizer": None if self.optimizer is None else strategy.optimizer_state_dict(self.optimizer),
            "progress": self.progress.state_dict(),
            "stop_training": bool(getattr(self.model, "stop_training", False)),
            "rng": random_state.capture(),
            "metrics": {key: metric.state_dict() for key, metric in self._stateful_metrics().items()},
            "callbacks": self._callback_states(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` and declare its position as where training resumes. A
        position inside an epoch is restored again once that epoch has begun (after its
        metrics reset and its ``on_epoch_begin`` callbacks): see `restore_within_epoch`."""
        self._apply_state(state)
        self.model.stop_training = bool(state.get("stop_training", False))
        self.progress.resume_from(state["progress"])
        self.resumed_within_epoch = state if int(state["progress"]["step"]) > 0 else None

    def restore_within_epoch(self) -> None:
        """The epoch a backup was made in has begun again: put back what its start reset
        (metrics, callback states, generators, anything ``on_epoch_begin`` changed), so the
        epoch continues exactly as the interrupted one would have."""
        state, self.resumed_within_epoch = self.resumed_within_epoch, None
        if state is not None:
            self._apply_state(state)

    def _apply_state(self, state: dict) -> None:
        self.strategy.load_model_state_dict(self.model, state["model"])
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.bind_optimizer()
            self.strategy.load_optimizer_state_dict(self.optimizer, state["optimizer"])
        metrics = state.get("metrics") or {}
        for key, metric in self._stateful_metrics().items():
            if key in metrics:
                metric.load_state_dict(metrics[key])
        for key, callback in self._stateful_callbacks().items():
            if key in (state.get("callbacks") or {}):
                callback.set_state(state["callbacks"][key])
        random_state.restore(state["rng"])

    def _stateful_metrics(self) -> dict:
        """``{"<position>:<name>": metric}`` for the model's metrics with a state dict."""
        metrics = self.model.metrics
        return {f"{i}:{m.name}": m for i, m in enumerate(metrics) if hasattr(m, "state_dict") and hasattr(m, "load_state_dict")}

    # --- Callbacks of the running fit ---------------------------------------------------------

    def defer(self, action) -> None:
        """Run ``action()`` once every callback has handled the hook being called (during
        ``fit``; at once otherwise): a backup then holds what all of them did, and a restore
        comes after all of their ``on_train_begin``."""
        if self.callbacks is None:
            action()
        else:
            self.deferred.append(action)

    def _stateful_callbacks(self) -> dict:
        """``{"<class name>[#n]": callback}`` for the running fit's callbacks that define
        ``get_state`` / ``set_state`` (``#2``, ``#3``, ... for further callbacks of a class), so
        a restart with a callback added or removed still matches the others."""
        if self.callbacks is None:
            return {}
        found = {}
        for callback in self.callbacks:
            if getattr(callback, "get_state", None) is not None and getattr(callback, "set_state", None) is not None:
                name, count = type(callback).__name__, 1
                while (key := name if count == 1 else f"{name}#{count}") in found:
                    count += 1
                found[key] = callback
        return found

    def _callback_states(self) -> dict:
        states = {}
        for key, callback in self._stateful_callbacks().items():
            value = callback.get_state()
            if value is not None:
                states[key] = value
        return states

def _needs_loss_scaling(model, optimizer) -> bool:
    """A ``"mixed_float16"`` model whose optimizer does not scale the loss already."""
    policy = getattr(model, "dtype_policy", None)
    return getattr(policy, "name", None) == "mixed_float16" and not isinstance(optimizer, optimizers_module.LossScaleOptimizer)
