"""Learning-rate schedules: pure functions of the optimizer step, as Keras 3 defines them.

``schedule(step)`` returns the learning rate (a Python float) for the 0-based step count
``step`` (the optimizer's ``iterations`` before the update). The arithmetic runs in float64,
so values match Keras' float32 results to float32 round-off. Subclass `LearningRateSchedule`
and implement ``__call__`` and ``get_config`` for a schedule of your own.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_number


def _step(step) -> float:
    return float(step)


def _number(value):
    """A Python number from a number, a 0-d array or tensor, or a Keras-variable-like
    (``adam.learning_rate``), so schedules take what Keras programs pass them."""
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if hasattr(value, "numel") and value.numel() == 1:
        return value.item()
    if isinstance(value, (np.generic, np.ndarray)) and np.size(value) == 1:
        return np.asarray(value).item()
    return value


class LearningRateSchedule:
    """Base class: a serializable function ``step -> learning rate``.

    A complete subclass::

        class LinearWarmup(LearningRateSchedule):
            def __init__(self, target, warmup_steps):
                self.target, self.warmup_steps = target, warmup_steps

            def __call__(self, step):
                return self.target * min(1.0, (float(step) + 1) / self.warmup_steps)

            def get_config(self):
                return {"target": self.target, "warmup_steps": self.warmup_steps}
    """

    def __init_subclass__(cls, **kwargs):
        """Each schedule also takes an array or tensor of steps (tf.keras tutorials plot
        ``schedule(np.arange(n))``) and numbers given as 0-d tensors or Keras variables."""
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not getattr(call, "_elementwise", False):
            cls.__call__ = _elementwise(call)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_numbers", False):
            cls.__init__ = _numeric_arguments(init)

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__} must implement __call__(self, step).")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__} must implement get_config() to be serializable.")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _elementwise(call):
    @functools.wraps(call)
    def schedule(self, step):
        if hasattr(step, "shape") and len(step.shape) > 0:
            values = [call(self, s) for s in np.asarray(step.detach().cpu() if hasattr(step, "detach") else step).reshape(-1).tolist()]
            array = np.asarray(values, dtype=np.float32).reshape(tuple(step.shape))
            return torch_tensor(array) if hasattr(step, "detach") else array
        if isinstance(step, (list, tuple)):
            return np.asarray([call(self, s) for s in step], dtype=np.float32)
        return call(self, _number(step))

    schedule._elementwise = True
    return schedule


def _numeric_arguments(init):
    @functools.wraps(init)
    def numeric_init(self, *args, **kwargs):
        init(self, *(_number(a) for a in args), **{k: _number(v) for k, v in kwargs.items()})

    numeric_init._numbers = True
    return numeric_init


def torch_tensor(array):
    import torch

    return torch.from_numpy(array)


class _RateDecay(LearningRateSchedule):
    """Shared arguments of the decays driven by ``p = step / decay_steps`` (floored when
    ``staircase``): `ExponentialDecay` and `InverseTimeDecay`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        check_number("initial_learning_rate", initial_learning_rate)
        check_number("decay_steps", decay_steps, low=0, low_open=True)
        check_number("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def _progress(self, step) -> float:
        p = _step(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ^ (step / decay_steps)``; the exponent is floored
    when ``staircase``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"boundaries must have one element fewer than values; received {len(boundaries)} "
                f"boundaries ({boundaries}) and {len(values)} values ({values})."
            )
        if boundaries != sorted(boundaries):
            raise ValueError(f"boundaries must be increasing; received boundaries={boundaries}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ^ power + end`` with the step capped at
    ``decay_steps``; with ``cycle`` the horizon grows to the next multiple of
    ``decay_steps`` instead. Keras defaults: ``end_learning_rate=1e-4``, ``power=1.0``."""

    def __init__(
        self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
        name="PolynomialDecay",
    ):
        check_number("initial_learning_rate", initial_learning_rate)
        check_number("decay_steps", decay_steps, low=0, low_open=True)
        check_number("end_learning_rate", end_learning_rate)
        check_number("power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step, decay_steps = _step(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; the ratio is floored
    when ``staircase``. tf.keras 2.x's ``decay=`` argument is this with ``decay_steps=1``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self._progress(step))


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, 2017), optionally after a linear warmup.

    Without ``warmup_target``: ``lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
    + alpha)`` with ``s = min(step, decay_steps)``. With ``warmup_target``: the rate rises
    linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps,
    then decays from ``warmup_target`` the same way over ``decay_steps`` steps.
    """

    def __init__(
        self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0
    ):
        check_number("initial_learning_rate", initial_learning_rate)
        check_number("decay_steps", decay_steps, low=0, low_open=True)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, float)) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0; received warmup_steps={warmup_steps!r}.")
        check_number("alpha", alpha)
        check_number("warmup_target", warmup_target, allow_none=True)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the first period lasts ``first_decay_steps``,
    each next one ``t_mul`` times longer and starting ``m_mul`` times lower; within a period
    the rate follows `CosineDecay` down to ``alpha`` times its start."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        check_number("initial_learning_rate", initial_learning_rate)
        check_number("first_decay_steps", first_decay_steps, low=0, low_open=True)
        check_number("t_mul", t_mul, low=0, low_open=True)
        check_number("m_mul", m_mul)
        check_number("alpha", alpha)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul**restart) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul**restart
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name,
        }


SCHEDULES = {
    cls.__name__: cls
    for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts)
}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}``, the form Keras 3 writes (its extra keys too)."""
    return {"module": "danlu.optimizers.schedules", "class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict, custom_objects=None) -> LearningRateSchedule:
    """Inverse of `serialize`; reads Keras 3 schedule configs as well."""
    known = {**SCHEDULES, **(custom_objects or {})}
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in known:
        raise unknown_identifier_error("learning rate schedule", str(name), known)
    return known[name].from_config(dict(config.get("config") or {}))
