"""`Trainer`: what ``compile`` sets up for a model (optimizer, objective, metrics, device),
and its preparation on the first batch (building lazy layers, binding the optimizer,
checking labels) before any weight changes."""

from __future__ import annotations

import torch

from danlu import optimizers as optimizers_module
import contextlib
import os

from danlu.losses.crossentropy import class_indices, labels_prechecked
from danlu.trainer.compile_utils import CompiledLoss, CompiledMetrics, LossTracker
from danlu.trainer.checks import input_error
from danlu.trainer.data import ArrayData, flatten, map_structure
from danlu.trainer.loop import LoopProgress


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


class Trainer:
    """The compiled state of a model."""

    def __init__(self, model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                 steps_per_execution=1, jit_compile=False, device=None):
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive int; received {steps_per_execution!r}.")
        self.compile_arguments = {
            "optimizer": optimizer, "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "steps_per_execution": steps_per_execution,
        }
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else CompiledLoss(loss, loss_weights)
        if loss is None and loss_weights is not None:
            raise ValueError("loss_weights needs a loss.")
        self.compiled_metrics = CompiledMetrics(metrics, weighted_metrics)
        self.loss_tracker = LossTracker()
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit_compile
        self.device = choose_device(model, device)
        self.progress = LoopProgress()
        self.labels_validated = False
        self.prepared = False  # built, bound and resolved on a first batch
        self.forward = model
        if self.device.type != "cpu" or any(p.device != self.device for p in model.parameters()):
            model.to(self.device)
        if jit_compile:
            self.forward = torch.compile(model)

    @property
    def metrics(self):
        return [self.loss_tracker, *self.compiled_metrics.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def move(self, batch):
        """Put a batch on the training device (no-op on the CPU)."""
        if self.device.type == "cpu":
            return batch
        return tuple(
            map_structure(lambda t: t.to(self.device, non_blocking=True) if t.device != self.device else t, part)
            for part in batch
        )

    def prepare(self, model, x, y, sample_weight, data=None):
        """Build the model on the first batch (reporting inputs it cannot take), bind the
        optimizer, resolve metrics and check in-memory labels: all before any update."""
        x, y, sample_weight = self.move((x, y, sample_weight))
        if self.prepared:
            y_pred = None
            if self.loss is not None and y is not None and isinstance(data, ArrayData):
                self._check_labels(self._output_example, data)
            return
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                y_pred = model(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            raise input_error(model, x, error) from error
        finally:
            model.train(was_training)
        model._refresh_layer_cache()
        model._example_input = map_structure(lambda t: t[:1], x)
        self._bind_optimizer(model)
        if self.loss is not None and y is not None:
            self.loss.build(y_pred)
            self._check_labels(y_pred, data)
        if y is not None:
            self.compiled_metrics.build(y, y_pred)
            self._output_example = map_structure(lambda t: t[:1], y_pred)
            self.prepared = True

    def _bind_optimizer(self, model):
        optimizer = self.optimizer
        if optimizer is None or getattr(optimizer, "param_groups", None):
            return
        trainable = [p for p in model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("The model has no trainable weights to optimize.")
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

    def backward(self, loss):
        optimizer = self.optimizer
        scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        scaled.backward()
