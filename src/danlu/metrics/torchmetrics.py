"""`TorchMetric`: a ``torchmetrics.Metric`` as a danlu metric (``pip install 'danlu[torchmetrics]'``).

``compile(metrics=[torchmetrics.classification.MulticlassAccuracy(num_classes=10)])`` wraps
the instance (`danlu.metrics.get` does it): ``fit`` calls ``update(preds, target)`` on every
batch — torchmetrics' argument order, predictions first — on the device of the predictions
(the metric moves there on its first update, and its states stay there), reads ``compute()``
only when a log is read (the end of an epoch, or a callback asking), and calls ``reset()`` at
the start of every epoch and evaluation. The logged name is ``name=`` when given, else the
class name in snake case (``MulticlassAccuracy`` -> ``"multiclass_accuracy"``); with
several outputs it is prefixed by the output's name, as for every metric.

Nothing here reads a value back to the host. torchmetrics' own argument checks can:
classification metrics built with ``validate_args=True`` (their default) look at the values
of every batch (``torch.unique``, range checks), which costs a device synchronization per
step on a GPU; build them with ``validate_args=False`` once the data is known to be right.
``update`` is called, never the module's ``forward``, so no per-batch value is computed.

torchmetrics imports lazily: danlu never imports it unless a torchmetrics object is given.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import torch

from danlu._identifiers import snake_case
from danlu.metrics.metric import Metric


def is_torchmetric(value: Any) -> bool:
    """Whether ``value`` is a ``torchmetrics.Metric`` instance (without importing torchmetrics:
    an instance exists only once the user has imported it)."""
    module = sys.modules.get("torchmetrics")
    return module is not None and isinstance(value, module.Metric)


class TorchMetric(Metric):
    """A ``torchmetrics.Metric`` behind Keras' metric protocol.

    - ``update_state(y_true, y_pred, sample_weight=None)`` -> ``metric.update(y_pred, y_true)``;
      torchmetrics metrics take no sample weights, so a ``sample_weight`` (from
      ``weighted_metrics``) raises ``ValueError``.
    - ``result()`` -> ``metric.compute()`` (a tensor on the metric's device; it is read back
      only when the logs are), ``reset_state()`` -> ``metric.reset()``.
    - ``direction`` follows torchmetrics' ``higher_is_better`` ("up" when True), so
      ``EarlyStopping(mode="auto")`` and ``ModelCheckpoint`` pick the right side.
    - ``state_dict()`` / ``load_state_dict()`` carry the metric's states (list states
      concatenated along the first axis, as torchmetrics concatenates them in ``compute``)
      and its update count; ``merge_state`` is torchmetrics' ``merge_state``.
    - Under ``torch.distributed`` torchmetrics reduces its states across processes itself,
      once, in ``compute()`` (its ``sync_on_compute=True`` default).

    Args:
        metric: the ``torchmetrics.Metric`` instance (it is used as is, not copied).
        name: the name in the logs (default: the class name in snake case).
    """

    def __init__(self, metric: Any, name: str | None = None):
        if not is_torchmetric(metric):
            raise TypeError(
                f"TorchMetric wraps a torchmetrics.Metric instance; received metric={metric!r} of type "
                f"{type(metric).__name__}. (A torchmetrics MetricCollection goes in as its metrics, one by one.)"
            )
        super().__init__(name=name or snake_case(type(metric).__name__), dtype=metric.dtype)
        self.torchmetric = metric
        higher = getattr(metric, "higher_is_better", None)
        self._direction = "up" if higher else "down"

    # --- Keras' protocol ----------------------------------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if sample_weight is not None:
            raise ValueError(
                f"The torchmetrics metric {self.name!r} takes no sample weights: pass it in compile(metrics=[...]), "
                "not weighted_metrics, or weight the data instead."
            )
        y_pred = torch.as_tensor(y_pred)
        self._to_device(y_pred.device)
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        self.torchmetric.update(y_pred, y_true)

    def result(self) -> Any:
        return self.torchmetric.compute()

    def reset_state(self) -> None:
        self.torchmetric.reset()

    def _to_device(self, device: torch.device) -> None:
        if self._device == device:
            return
        self.torchmetric.to(device)
        self._device = device

    def get_config(self) -> dict:
        return {"name": self.name, "metric": type(self.torchmetric).__qualname__}

    @classmethod
    def from_config(cls, config: dict) -> TorchMetric:
        raise ValueError(
            f"A torchmetrics metric ({config.get('metric')}) cannot be rebuilt from a config: compile the model "
            "again with the metric instance."
        )

    def __repr__(self) -> str:
        return f"<TorchMetric name={self.name} metric={type(self.torchmetric).__name__}>"

    # --- Exact state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{state name: tensor}`` (copies) and ``"update_count"``."""
        state = {}
        for key, value in self.torchmetric.metric_state.items():
            if isinstance(value, torch.Tensor):
                state[key] = value.detach().clone()
            else:  # a list state ("cat"): its tensors end to end
                state[key] = torch.cat([torch.atleast_1d(v.detach()) for v in value]) if value else torch.empty(0)
        state["update_count"] = torch.tensor(self.torchmetric.update_count, dtype=torch.int64)
        return state

    def load_state_dict(self, state: Mapping) -> None:
        """Restore what `state_dict` returned; ``ValueError`` naming missing or unexpected keys."""
        if not isinstance(state, Mapping):
            raise TypeError(f"TorchMetric.load_state_dict expects a dict of tensors; received {type(state).__name__}.")
        metric = self.torchmetric
        current_states = metric.metric_state
        expected = [*current_states, "update_count"]
        missing, unexpected = [k for k in expected if k not in state], [k for k in state if k not in expected]
        if missing or unexpected:
            raise ValueError(
                f"The state does not fit the torchmetrics metric {self.name!r}: missing {missing}, "
                f"unexpected {unexpected}; its states are {expected}."
            )
        for key, current in current_states.items():
            device = current.device if isinstance(current, torch.Tensor) else metric.device
            value = torch.as_tensor(state[key]).detach().to(device)
            if isinstance(current, torch.Tensor):
                setattr(metric, key, value.to(current.dtype).clone())
            else:
                setattr(metric, key, [value.clone()] if value.numel() else [])
        metric._update_count = int(state["update_count"])  # torchmetrics warns on compute() before any update
        metric._computed = None  # its cached result

    def merge_state(self, others: Any) -> None:
        """Fold other `TorchMetric` adapters' states into this one (torchmetrics' ``merge_state``)."""
        for other in [others] if isinstance(others, TorchMetric) else list(others):
            if not isinstance(other, TorchMetric):
                raise TypeError(f"TorchMetric.merge_state needs TorchMetric instances; received {type(other).__name__}.")
            self.torchmetric.merge_state(other.torchmetric)
        self.torchmetric._computed = None  # torchmetrics keeps the result computed before the merge


__all__ = ["TorchMetric", "is_torchmetric"]
