"""`Trainer`: a compiled model's training run — what ``compile`` set up (optimizer,
objective, metrics, device), its preparation on the first batch, and the run's state.

The trainer owns the run; the loops in `danlu.trainer.loop` take it. Its public surface, for
callbacks and saving (nothing else reads its attributes):

- ``optimizer``: the optimizer in danlu's interface (a danlu optimizer, or the adapter around
  a ``torch.optim`` one); ``user_optimizer``: the object given to ``compile``;
- ``metrics`` / ``reset_metrics()``; ``device``; ``progress`` (a `TrainingProgress`);
- ``bind_optimizer()``: create the optimizer's state for the model's trainable weights;
- ``state_dict()`` / ``load_state_dict(state)``: everything a killed run needs to continue
  (model, optimizer, position, random generators), and the declaration of where it resumes.
"""

from __future__ import annotations

import contextlib
import os

import torch

from danlu import optimizers as optimizers_module
from danlu._validation import check_positive_int
from danlu.losses.crossentropy import class_indices, labels_prechecked
from danlu.trainer.checks import input_error
from danlu.trainer.compile_utils import CompiledLoss, CompiledMetrics, LossTracker
from danlu.trainer.data import ArrayData, flatten, map_structure, to_device
from danlu.trainer.progress import TrainingProgress


def choose_device(model, device=None) -> torch.device:
    """``device`` when given; else the ``DANLU_DEVICE`` environment variable when set; else
    where the model's parameters already are (if not the CPU); else CUDA, then MPS, then
    the CPU."""
    if device is None and os.environ.get("DANLU_DEVICE"):
        device = os.environ["DANLU_DEVICE"]
    if device is not None and device != "auto":
        return torch.device(device)
    for p in model.parameters():
        if p.device.type != "cpu":
            return p.device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(model) -> torch.device:
    """Where the model's weights are (the CPU for a model without weights)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class Trainer:
    """The compiled state of a model and its training run (see the module docstring)."""

    def __init__(self, model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                 steps_per_execution=1, jit_compile=False, device=None):
        check_positive_int("steps_per_execution", steps_per_execution)
        if loss is None and loss_weights is not None:
            raise ValueError("loss_weights needs a loss.")
        self.model = model
        self.compile_arguments = {
            "optimizer": optimizer, "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "steps_per_execution": steps_per_execution, "jit_compile": jit_compile,
        }
        self.user_optimizer = optimizers_module.get(optimizer)
        self.optimizer = None if self.user_optimizer is None else optimizers_module.as_optimizer(self.user_optimizer)
        self.loss = None if loss is None else CompiledLoss(loss, loss_weights)
        self.compiled_metrics = CompiledMetrics(metrics, weighted_metrics)
        self.loss_tracker = LossTracker()
        self.steps_per_execution = steps_per_execution
        self.device = choose_device(model, device)
        self.progress = TrainingProgress()
        self.labels_validated = False
        self.prepared = False  # built, bound and resolved on a first batch
        self.logs = None  # the lazy logs of the current loop (see Model.step_logs)
        self.forward = model
        if self.device.type != "cpu" or any(p.device != self.device for p in model.parameters()):
            model.to(self.device)
        if jit_compile:
            self.forward = torch.compile(model)

    @classmethod
    def for_inference(cls, model) -> "Trainer":
        """A trainer for ``predict`` on an uncompiled model: no optimizer, the weights' device."""
        return cls(model, optimizer=None, device=device_of(model))

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
            self.bind_optimizer()
            self.prepared = True
            return
        except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
            raise input_error(model, x, error) from error
        finally:
            model.train(was_training)
        model.example_input = map_structure(lambda t: t[:1], x)
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
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if trainable:  # a model without trainable weights can still run a step of its own
            optimizer.build(trainable)

    def _check_labels(self, y_pred, data):
        """Validate every in-memory integer label once (sparse crossentropy), so that a bad
        label deep in the data fails before training rather than after some updates."""
        if not isinstance(data, ArrayData) or self.loss.losses is None or len(self.loss.losses) != 1 or data.y is None:
            return
        loss = self.loss.losses[0]
        if not getattr(loss, "integer_labels", False) or not hasattr(loss, "fn_kwargs"):
            return
        axis = loss.fn_kwargs.get("axis", -1)
        if not isinstance(y_pred, torch.Tensor) or y_pred.ndim == 0:
            return
        labels = flatten(data.y)
        if len(labels) == 1:
            class_indices(labels[0].detach().cpu(), y_pred.shape[axis], loss.fn_kwargs.get("ignore_class"), argument="y")
            self.labels_validated = True

    def label_checks_done(self):
        """A context in which per-batch label checks are skipped, when `prepare` has already
        validated every label of the in-memory data."""
        validated, self.labels_validated = self.labels_validated, False
        return labels_prechecked() if validated else contextlib.nullcontext()

    # --- Steps --------------------------------------------------------------------------------

    def backward(self, loss):
        """``loss.backward()`` on the optimizer's scaled loss (loss scaling, ``loss_scale_factor``)."""
        self.optimizer.scale_loss(loss).backward()

    # --- The run's state ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a killed run needs to continue exactly: the weights, the optimizer's
        state, the position (`TrainingProgress.state_dict`) and the random generators."""
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = list(torch.cuda.get_rng_state_all())
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "progress": self.progress.state_dict(),
            "rng": rng,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` and declare its position as where training resumes."""
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.bind_optimizer()
            self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.progress.resume_from(state["progress"])
