"""What ``compile`` sets up: the objective over the model's outputs and the metrics."""

from __future__ import annotations

import torch

from danlu import losses as losses_module
from danlu import metrics as metrics_module
from danlu.metrics.base import Mean

#: Mixed precision: losses and metrics are computed in float32 (Keras casts ``y_pred``).
HALF = (torch.float16, torch.bfloat16)


def float32_outputs(y_pred):
    """``y_pred`` with its float16 / bfloat16 tensors cast to float32 (a mixed-precision model's
    outputs); anything else as it is."""
    if isinstance(y_pred, torch.Tensor):
        return y_pred.float() if y_pred.dtype in HALF else y_pred
    if isinstance(y_pred, dict):
        return {k: float32_outputs(v) for k, v in y_pred.items()}
    if isinstance(y_pred, (list, tuple)):
        return type(y_pred)(float32_outputs(v) for v in y_pred)
    return y_pred


def empty_batch_loss(y_pred):
    """The objective of a batch without samples (a process' empty piece of a short last batch
    under data parallelism): zero, connected to the outputs so that its backward pass (zero
    gradients) still takes part in the gradient all-reduce."""
    leaves = [t for t in _leaves(y_pred) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    return sum((t.sum() for t in leaves[1:]), leaves[0].sum()) * 0.0 if leaves else torch.zeros(())


def output_names(y_pred, model_names=None) -> list[str]:
    """Each output's name: a dict's keys; else the model's ``output_names`` (the layers that
    produce them, in a functional model) when they fit; else ``output_1``, ``output_2``, ..."""
    if isinstance(y_pred, dict):
        return list(y_pred)
    count = len(y_pred) if isinstance(y_pred, (list, tuple)) else 1
    if model_names is not None and len(model_names) == count:
        return list(model_names)
    return [f"output_{i + 1}" for i in range(count)] if isinstance(y_pred, (list, tuple)) else ["output"]


def as_outputs(value, names, argument):
    """Align a per-output structure (single, list or dict) with the output ``names``."""
    if len(names) == 1:
        if isinstance(value, dict):
            if set(value) != set(names):
                raise ValueError(f"{argument} is a dict with keys {sorted(value)} but the model has one output.")
            return [value[names[0]]]
        return [value[0] if isinstance(value, (list, tuple)) and len(value) == 1 and not isinstance(value, torch.Tensor) else value]
    if isinstance(value, dict):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(f"{argument} names outputs {sorted(unknown)} that the model does not have; its outputs are {names}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Tensor):
        if len(value) != len(names):
            raise ValueError(f"{argument} has {len(value)} entries but the model has {len(names)} outputs ({names}).")
        return list(value)
    return None


def to_loss(identifier):
    """A loss callable ``(y_true, y_pred, sample_weight) -> scalar`` from what compile got."""
    loss = losses_module.get(identifier)
    if isinstance(loss, losses_module.Loss):
        return loss
    return losses_module.LossFunctionWrapper(loss, name=getattr(loss, "__name__", "loss"))


class CompiledLoss:
    """``sum_i loss_weight_i * loss_i(y_true_i, y_pred_i, sample_weight_i)`` over the outputs.

    With several outputs, each output's *unweighted* loss is also tracked as the metric
    ``"<output name>_loss"`` (a running mean weighted by batch size, as Keras 3 logs it).
    ``sample_weight`` may be one weight for every output or a list / dict per output."""

    def __init__(self, loss, loss_weights=None):
        self.spec, self.loss_weights_spec = loss, loss_weights
        self.losses = None
        self.trackers = []
        for identifier in _leaves(loss):  # unknown names and wrong types fail at compile, not mid-fit
            if isinstance(identifier, str) or not (isinstance(identifier, dict) or callable(identifier)):
                try:
                    losses_module.get(identifier)
                except (TypeError, ValueError) as error:
                    raise type(error)(f"loss: {error}") from None
        if loss_weights is not None and not isinstance(loss_weights, (int, float, list, tuple, dict)) or isinstance(loss_weights, bool):
            raise TypeError(f"loss_weights must be a float, a list or a dict per output; received loss_weights={loss_weights!r}.")

    def build(self, y_pred, model_names=None):
        names = output_names(y_pred, model_names)
        losses = as_outputs(self.spec, names, "loss")
        if losses is None:  # one loss for every output
            losses = [self.spec] * len(names)
        weights = [1.0] * len(names) if self.loss_weights_spec is None else as_outputs(self.loss_weights_spec, names, "loss_weights")
        if weights is None:
            weights = [float(self.loss_weights_spec)] * len(names)
        self.names = names
        self.losses = [None if spec is None else to_loss(spec) for spec in losses]
        self.weights = [1.0 if w is None else float(w) for w in weights]
        if all(loss is None for loss in self.losses):
            raise ValueError("compile(loss=...) gives no loss for any output.")
        active = [name for name, loss in zip(names, self.losses) if loss is not None]
        self.trackers = [LossTracker(f"{name}_loss") for name in active] if len(active) > 1 else []

    @property
    def metrics(self):
        return list(self.trackers)

    @property
    def sum_reduced(self) -> bool:
        """Whether every loss sums over the batch (``reduction="sum"``) instead of averaging."""
        return bool(self.losses) and all(getattr(loss, "reduction", None) == "sum" for loss in self.losses if loss is not None)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.losses is None:
            self.build(y_pred)
        if type(y_pred) is torch.Tensor:  # the common case: one output, checked without a structure walk
            if y_pred.dtype in HALF:
                y_pred = y_pred.float()
            if y_pred.ndim and y_pred.shape[0] == 0:
                return empty_batch_loss(y_pred)
        else:
            y_pred = float32_outputs(y_pred)
            if _leading(y_pred) == 0:
                return empty_batch_loss(y_pred)
        if len(self.losses) == 1:
            value = self.losses[0](y_true, y_pred, sample_weight)
            return value if self.weights[0] == 1.0 else self.weights[0] * value
        targets = as_outputs(y_true, self.names, "y")
        predictions = as_outputs(y_pred, self.names, "the model's outputs")
        if targets is None:
            raise ValueError(f"The model has {len(self.names)} outputs ({self.names}); y must be a list or dict of as many targets.")
        weights = as_outputs(sample_weight, self.names, "sample_weight") if isinstance(sample_weight, (list, tuple, dict)) else None
        if weights is None:
            weights = [sample_weight] * len(self.names)
        total, trackers = 0.0, iter(self.trackers)
        for loss, weight, target, prediction, sample in zip(self.losses, self.weights, targets, predictions, weights):
            if loss is None:
                continue
            value = loss(target, prediction, sample)
            tracker = next(trackers, None)
            if tracker is not None:
                tracker.update(value, _leading(prediction))
            total = total + weight * value
        return total


def _leading(prediction) -> int:
    first = prediction if isinstance(prediction, torch.Tensor) else next(iter(_leaves(prediction)), None)
    return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.ndim else 1


def _leaves(spec):
    if isinstance(spec, dict):
        return [leaf for value in spec.values() for leaf in _leaves(value)]
    if isinstance(spec, (list, tuple)):
        return [leaf for value in spec for leaf in _leaves(value)]
    return [] if spec is None else [spec]


class CompiledMetrics:
    """The metrics (and weighted metrics) for each output, resolved on the first batch."""

    def __init__(self, metrics=None, weighted_metrics=None):
        self.spec, self.weighted_spec = metrics, weighted_metrics
        self.entries = None  # [(output index, metric, weighted)]
        for argument, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            # wrong structures, wrong types and unknown names fail at compile, not mid-fit
            if spec is not None and not isinstance(spec, (list, tuple, dict)):
                raise TypeError(f"{argument} must be a list of metrics (or a dict of lists per output); "
                                f"received {argument}={spec!r} of type {type(spec).__name__}.")
            for identifier in _leaves(spec):
                if isinstance(identifier, str) and identifier.lower() in metrics_module.SHAPE_DEPENDENT:
                    continue
                if isinstance(identifier, str) or not (isinstance(identifier, dict) or callable(identifier)):
                    try:
                        metrics_module.get(identifier)
                    except (TypeError, ValueError) as error:
                        raise type(error)(f"{argument}: {error}") from None

    def _per_output(self, spec, names):
        if spec is None:
            return [[] for _ in names]
        if isinstance(spec, dict):
            aligned = as_outputs(spec, names, "metrics")
            return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m]) for m in aligned]
        if not isinstance(spec, (list, tuple)):
            raise TypeError(f"metrics must be a list (or a dict per output); received {spec!r}.")
        if len(names) > 1 and spec and all(isinstance(m, (list, tuple)) for m in spec):
            return [list(m) for m in as_outputs(list(spec), names, "metrics")]
        return [list(spec) for _ in names]

    def build(self, y_true, y_pred, model_names=None):
        names = output_names(y_pred, model_names)
        targets = [y_true] if len(names) == 1 else as_outputs(y_true, names, "y")
        predictions = [y_pred] if len(names) == 1 else as_outputs(y_pred, names, "the model's outputs")
        self.entries = []
        for weighted, spec in ((False, self.spec), (True, self.weighted_spec)):
            for index, identifiers in enumerate(self._per_output(spec, names)):
                for identifier in identifiers:
                    metric = metrics_module.resolve(identifier, targets[index], predictions[index])
                    if len(names) > 1:
                        metric.name = f"{names[index]}_{metric.name}"
                    if weighted and any(m.name == metric.name for _, m, _ in self.entries):
                        metric.name = f"weighted_{metric.name}"
                    self.entries.append((index, metric, weighted))
        self.names = names

    def update(self, y_true, y_pred, sample_weight=None):
        if self.entries is None:
            self.build(y_true, y_pred)
        if not self.entries:
            return
        if len(self.names) == 1:  # one output: every metric gets (y_true, y_pred) as they are
            if type(y_pred) is not torch.Tensor or y_pred.dtype in HALF:
                y_pred = float32_outputs(y_pred)
            for _, metric, weighted in self.entries:
                metric.update_state(y_true, y_pred, sample_weight if weighted else None)
            return
        y_pred = float32_outputs(y_pred)
        targets = as_outputs(y_true, self.names, "y")
        predictions = as_outputs(y_pred, self.names, "the model's outputs")
        for index, metric, weighted in self.entries:
            metric.update_state(targets[index], predictions[index], sample_weight if weighted else None)

    @property
    def metrics(self):
        return [metric for _, metric, _ in self.entries or []]


class LossTracker(Mean):
    """The running mean of the batch losses, each weighted by its batch size (Keras). The
    sample count is a Python int: batch sizes are known on the host, so one kernel a step.
    ``update_state(loss, sample_weight=None)`` works as on Keras' loss tracker (a Mean):
    custom steps written for Keras call it with the loss (weight 1) or the batch size."""

    def __init__(self, name="loss"):
        super().__init__(name=name)
        self.samples = 0

    def update(self, loss: torch.Tensor, batch_size: int):
        state = self.__dict__  # plain reads and writes: this runs every step
        total = state["total"]
        if total.device != loss.device:
            self._to_device(loss.device)
        if loss.requires_grad:
            loss = loss.detach()
        total.add_(loss if loss.dtype == total.dtype else loss.to(total.dtype), alpha=batch_size)
        state["samples"] = state["samples"] + batch_size

    def update_state(self, values, sample_weight=None):
        values = torch.as_tensor(values)
        if values.ndim:
            values = values.mean()
        weight = 1 if sample_weight is None else sample_weight
        if isinstance(weight, torch.Tensor):
            weight = float(weight.sum())  # a weight given as a tensor is read once here
        self.update(values, weight)

    def reset_state(self):
        self.total.zero_()
        self.samples = 0

    def result(self):
        return self.total / self.samples if self.samples else torch.zeros_like(self.total)

    def state_dict(self):
        return {"total": self.total.detach().clone(), "count": torch.tensor(float(self.samples), dtype=torch.float64)}

    def load_state_dict(self, state):
        if set(state) != {"total", "count"}:
            raise ValueError(f"A loss tracker's state has 'total' and 'count'; received {sorted(state)}.")
        self.total.copy_(torch.as_tensor(state["total"]).to(self.total.dtype))
        count = float(state["count"])
        self.samples = int(count) if count.is_integer() else count

    def merge_state(self, others):
        for other in [others] if isinstance(others, LossTracker) else list(others):
            self.total.add_(other.total.to(self.total.device))
            self.samples += other.samples
