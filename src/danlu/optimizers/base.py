"""The `Optimizer` base class: one pipeline shared by every update rule.

An update rule (a subclass) declares its state slots and writes ``update`` over lists of
tensors; this class owns, once and in Keras 3's order: binding to parameters (lazily, Keras
style, or at construction, PyTorch style), the iteration counter, the learning rate (float,
schedule or callable; legacy ``lr=`` / ``decay=``), ``loss_scale_factor``, gradient
accumulation, clipping, decoupled weight decay, EMA of the weights, the Keras API
(``apply_gradients``, ``minimize``, ``variables``, ``get_weights``, configs) and the PyTorch
API (``step``, ``zero_grad``, ``state_dict``, param groups).
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from collections.abc import Iterable

import numpy as np
import torch

from danlu import constraints
from danlu._identifiers import snake_case, unique_name
from danlu._variables import BoundVariable
from danlu._validation import check_number
from danlu.optimizers import clipping
from danlu.optimizers.schedules import InverseTimeDecay, LearningRateSchedule
from danlu.optimizers.schedules import deserialize as deserialize_schedule
from danlu.optimizers.schedules import serialize as serialize_schedule

EMA_SLOT = "ema_average"
ACCUMULATOR_SLOT = "gradient_accumulator"


def keras_power(base: float, exponent: float, dtype: torch.dtype = torch.float32) -> float:
    """``base ** exponent`` computed in the variables' precision, as Keras computes bias
    corrections: float64 for float64 variables, float32 otherwise.

    ``1 - beta^t`` amplifies the rounding of ``beta^t`` (by ~1000x for beta = 0.999 early on),
    so a float64 power would move float32 Adam-family steps by ~1e-5 relative to Keras.
    Every other scalar stays in float64."""
    if dtype == torch.float64:
        return float(base) ** float(exponent)
    return float(np.float32(base) ** np.float32(exponent))  # the same powf as torch's float32 pow


def evaluate_closure(closure):
    """PyTorch's ``step(closure)``: re-evaluate the loss with gradients enabled."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class _DefaultLearningRate(float):
    """The base's default learning rate, told apart from one the caller gave (so that
    ``lr=`` together with an explicit ``learning_rate=`` is an error)."""


_DEFAULT_LR = _DefaultLearningRate(0.001)


def _is_learning_rate(value) -> bool:
    return isinstance(value, (int, float, LearningRateSchedule)) and not isinstance(value, bool)


class Optimizer(torch.optim.Optimizer):
    """Base class of danlu optimizers: a ``torch.optim.Optimizer`` with Keras 3's pipeline.

    Each update, in order (Keras 3's): gradients divided by ``loss_scale_factor``; summed
    into accumulators until every ``gradient_accumulation_steps``-th call, which uses their
    mean; clipped (``clipnorm`` per tensor, ``global_clipnorm`` over all, or ``clipvalue``);
    decoupled weight decay ``w -= w * weight_decay * lr``; the update rule; the EMA of the
    weights ``a = m a + (1 - m) w`` (``m = 0`` on the first step) and, every
    ``ema_overwrite_frequency`` steps, ``w = a``; the counter advances. Gradients that are
    ``None`` are skipped.

    Common arguments (Keras names and defaults): ``learning_rate`` (float, `LearningRateSchedule`
    or a callable of no arguments), ``weight_decay=None``, ``clipnorm=None``,
    ``clipvalue=None``, ``global_clipnorm=None`` (at most one of the three), ``use_ema=False``,
    ``ema_momentum=0.99``, ``ema_overwrite_frequency=None``, ``loss_scale_factor=None``,
    ``gradient_accumulation_steps=None``, ``name``. tf.keras 2.x's ``lr=`` and inverse-time
    ``decay=`` are accepted with a ``DeprecationWarning``.

    The first positional argument is the parameters (PyTorch style: ``Adam(model.parameters())``,
    or param-group dicts with their own hyperparameters) or, Keras style, the learning rate;
    without parameters the optimizer binds to the variables of its first ``apply_gradients``,
    ``minimize`` or ``build``.

    A complete update rule (plain SGD)::

        class PlainSGD(Optimizer):
            def __init__(self, params=None, learning_rate=0.01, **kwargs):
                super().__init__(params, learning_rate=learning_rate, **kwargs)

            def update(self, params, grads, slots, group, lr, step):
                torch._foreach_add_(params, grads, alpha=-lr)
    """

    #: Keras' slot order: each inner tuple is one ``add_optimizer_variables`` call, whose
    #: slots are interleaved per variable. `init_slot` returns None for slots an option
    #: turns off (e.g. ``amsgrad=False``).
    slots: tuple[tuple[str, ...], ...] = ()
    #: Whether `update` takes sparse (``torch.sparse_coo``) gradients itself.
    supports_sparse = False
    #: Whether the base applies ``weight_decay`` (rules with their own decay set False).
    decoupled_weight_decay = True

    def __init_subclass__(cls, **kwargs):
        """Record whether a caller gave ``learning_rate`` (a subclass passes its own default
        on), so that giving tf.keras 2's ``lr=`` as well is an error, not a silent choice."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_learning_rate", False):
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            if "_learning_rate_given" not in self.__dict__:
                try:
                    given = "learning_rate" in signature.bind_partial(self, *args, **kw).arguments
                except TypeError:
                    given = "learning_rate" in kw
                self.__dict__["_learning_rate_given"] = given
            init(self, *args, **kw)

        recording_init._records_learning_rate = True
        cls.__init__ = recording_init

    def __init__(
        self,
        params=None,
        *,
        learning_rate=_DEFAULT_LR,
        defaults: dict | None = None,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        lr=None,
        decay=None,
        **unknown,
    ):
        learning_rate_given = self.__dict__.get("_learning_rate_given", learning_rate is not _DEFAULT_LR)
        if learning_rate is _DEFAULT_LR:
            learning_rate = 0.001
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(sorted(unknown))}.")
        if _is_learning_rate(params) or (callable(params) and not isinstance(params, Iterable)):
            params, learning_rate = None, params  # Keras style: Adam(0.01)
        if lr is not None:
            if learning_rate_given:
                raise ValueError(
                    f"{type(self).__name__} received both learning_rate={learning_rate!r} and its tf.keras 2.x spelling "
                    f"lr={lr!r}; give one of them."
                )
            warnings.warn("`lr` is deprecated; use `learning_rate`.", DeprecationWarning, stacklevel=3)
            learning_rate = lr
        learning_rate = self._validate_learning_rate(learning_rate)
        if decay:
            warnings.warn(
                "`decay` is deprecated; use learning_rate=InverseTimeDecay(lr, 1, decay).",
                DeprecationWarning, stacklevel=3,
            )
            if not isinstance(learning_rate, (int, float)):
                raise ValueError("decay= needs a float learning_rate; fold the decay into the schedule instead.")
            check_number("decay", decay, low=0)
            learning_rate = InverseTimeDecay(float(learning_rate), decay_steps=1, decay_rate=decay)
        check_number("weight_decay", weight_decay, low=0, allow_none=True)
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            check_number(arg, value, low=0, allow_none=True)
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set; received "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}."
            )
        check_number("ema_momentum", ema_momentum, low=0, high=1)
        if ema_overwrite_frequency is not None and (
            isinstance(ema_overwrite_frequency, bool) or not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
        ):
            raise ValueError(f"ema_overwrite_frequency must be an int >= 1 or None; received {ema_overwrite_frequency!r}.")
        check_number("loss_scale_factor", loss_scale_factor, low=0, low_open=True, allow_none=True)
        if gradient_accumulation_steps is not None and (
            isinstance(gradient_accumulation_steps, bool)
            or not isinstance(gradient_accumulation_steps, int)
            or gradient_accumulation_steps < 1
        ):
            raise ValueError(
                "gradient_accumulation_steps must be a positive int (>= 2 to accumulate) or None; "
                f"received gradient_accumulation_steps={gradient_accumulation_steps!r}."
            )

        self.name = name or unique_name(snake_case(type(self).__name__))
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps if gradient_accumulation_steps != 1 else None
        self._schedule = learning_rate if not isinstance(learning_rate, (int, float)) else None
        initial_lr = float(learning_rate) if self._schedule is None else self._evaluate_schedule(0)
        self._iterations = 0
        self._excluded_ids: set[int] = set()
        self._excluded_pattern = None
        group_defaults = {"lr": initial_lr, "weight_decay": weight_decay, **(defaults or {})}
        # torch.optim.Optimizer refuses an empty parameter list; bind lazily instead.
        super().__init__([{"params": []}], group_defaults)
        self.param_groups.clear()
        self._bound = False
        if params is not None:
            self.build(params)

    # --- Learning rate --------------------------------------------------------------------

    @staticmethod
    def _validate_learning_rate(learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or (
            callable(learning_rate) and not isinstance(learning_rate, (int, float))
        ):
            return learning_rate
        if isinstance(learning_rate, torch.Tensor) and learning_rate.numel() == 1:
            learning_rate = float(learning_rate)
        check_number("learning_rate", learning_rate, low=0)
        return learning_rate

    def _evaluate_schedule(self, step: int) -> float:
        schedule = self._schedule
        value = schedule(step) if isinstance(schedule, LearningRateSchedule) else schedule()
        return float(value)

    def _current_lr(self, group: dict) -> float:
        return self._evaluate_schedule(self._iterations) if self._schedule is not None else group["lr"]

    @property
    def learning_rate(self) -> torch.Tensor:
        """The current learning rate, as Keras' variable: a float32 scalar `danlu.Variable`
        (``float()``, arithmetic, ``numpy()``) whose ``assign(...)`` sets the rate, as does
        assigning this property a float (every param group gets it) or a schedule.
        tf.keras 2's ``opt.lr`` is the same."""
        if self._schedule is not None:
            value = self._evaluate_schedule(self._iterations)
        else:
            value = self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]
        return BoundVariable(value, self._assign_learning_rate, name="learning_rate")

    def _assign_learning_rate(self, value):
        self.learning_rate = value

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        learning_rate = self._validate_learning_rate(learning_rate)
        if isinstance(learning_rate, (int, float)):
            self._schedule = None
            value = float(learning_rate)
        else:
            self._schedule = learning_rate
            value = self._evaluate_schedule(self._iterations)
        self.defaults["lr"] = value
        for group in self.param_groups:
            group["lr"] = value

    lr = learning_rate  # tf.keras 2.x spelling

    @property
    def iterations(self) -> torch.Tensor:
        """The number of updates applied, as Keras' variable (an int64 scalar `danlu.Variable`;
        ``assign`` sets it). With gradient accumulation, Keras counts applied updates: the
        calls divided by ``gradient_accumulation_steps``."""
        return BoundVariable(self._update_count, self._assign_iterations, name="iteration", dtype=torch.int64)

    def _assign_iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"iterations must be an int >= 0; received {value!r}.")
        self._iterations = int(value) * (self.gradient_accumulation_steps or 1)

    @property
    def _update_count(self) -> int:
        n = self.gradient_accumulation_steps
        return self._iterations // n if n else self._iterations

    # --- Binding and state ----------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._bound

    def build(self, var_list):
        """Bind to parameters (tensors, ``named_parameters()``, or param-group dicts) and
        create the state slots. Does nothing when already bound."""
        if self._bound:
            return
        if isinstance(var_list, torch.Tensor):
            raise TypeError("params must be an iterable of tensors or dicts, not a single tensor; wrap it in a list.")
        groups = list(var_list)
        if not groups:  # Keras allows it: an optimizer with nothing to update
            self._bound = True
            return
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            if "learning_rate" in group:
                group = {**group, "lr": group.pop("learning_rate")}
            self.add_param_group(group)
        self._bound = True

    def add_param_group(self, param_group: dict) -> None:
        param_group = dict(param_group)
        if "learning_rate" in param_group:
            param_group["lr"] = param_group.pop("learning_rate")
        if "lr" in param_group:
            check_number("lr", param_group["lr"], low=0)
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for param in group["params"]:
            self._init_state(param, group)
        self._bound = True
        self._constrained = [p for p in self._params() if getattr(p, "constraint", None) is not None]

    def init_slot(self, name: str, param: torch.Tensor, group: dict) -> torch.Tensor:
        """The initial value of slot ``name`` for ``param``: zeros unless overridden; ``None``
        leaves the slot out for that parameter."""
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    def _init_state(self, param, group):
        state = self.state[param]
        if state:
            return
        if self.use_ema:
            state[EMA_SLOT] = torch.zeros_like(param)
        if self.gradient_accumulation_steps:
            state[ACCUMULATOR_SLOT] = torch.zeros_like(param)
        for names in self.slots:
            for name in names:
                value = self.init_slot(name, param, group)
                if value is not None:  # a rule may leave a slot out for some parameters
                    state[name] = value

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def extra_variables(self) -> dict[str, float]:
        """Optimizer-wide numbers an update rule keeps (e.g. Nadam's momentum product)."""
        return {}

    def set_extra_variables(self, values: dict[str, float]) -> None:
        if values:
            raise ValueError(f"{type(self).__name__} keeps no optimizer-wide variables; received {sorted(values)}.")

    def _slot_tensors(self) -> list[torch.Tensor]:
        """Every state tensor in Keras 3's ``variables`` order."""
        params = self._params()
        tensors = []
        if self.use_ema:
            tensors += [self.state[p][EMA_SLOT] for p in params]
        if self.gradient_accumulation_steps:
            tensors += [self.state[p][ACCUMULATOR_SLOT] for p in params]
        for names in self.slots:
            tensors += [self.state[p][n] for p in params for n in names if n in self.state[p]]
        return tensors

    @property
    def variables(self) -> list[torch.Tensor]:
        """Keras 3's order: iterations, the learning rate (when a float), the EMA averages,
        the gradient accumulators, the rule's slots, then optimizer-wide variables."""
        head = [torch.tensor(self._iterations, dtype=torch.int64)]  # Keras' raw call counter
        if self._schedule is None:
            head.append(self.learning_rate)
        extra = [torch.tensor(v, dtype=torch.float32) for v in self.extra_variables().values()]
        return head + self._slot_tensors() + extra

    def get_weights(self) -> list[np.ndarray]:
        """tf.keras 2.x: numpy arrays, the iteration count first, then every slot variable
        (in `variables` order, learning rate excluded)."""
        slots = [t.detach().cpu().numpy().copy() for t in self._slot_tensors()]
        extra = [np.asarray(v, dtype=np.float64) for v in self.extra_variables().values()]
        return [np.asarray(self._iterations, dtype=np.int64)] + slots + extra

    def set_weights(self, weights) -> None:
        """Restore what `get_weights` returned. Checked in full before anything changes."""
        if not self._bound:
            raise ValueError(
                f"{type(self).__name__}.set_weights() needs a bound optimizer: call build(params) or "
                "apply_gradients() first."
            )
        weights = list(weights)
        slots = self._slot_tensors()
        extra_names = list(self.extra_variables())
        expected = 1 + len(slots) + len(extra_names)
        if len(weights) != expected:
            raise ValueError(
                f"set_weights expected {expected} arrays (iterations, {len(slots)} slot variables"
                f"{', ' + ', '.join(extra_names) if extra_names else ''}); received {len(weights)}."
            )
        arrays = [np.asarray(w) for w in weights]
        if arrays[0].shape != ():
            raise ValueError(f"set_weights: weights[0] is the iteration count, a scalar; received shape {arrays[0].shape}.")
        for i, (slot, array) in enumerate(zip(slots, arrays[1:]), start=1):
            if tuple(slot.shape) != array.shape:
                raise ValueError(f"set_weights: weights[{i}] has shape {array.shape}; the slot variable has shape {tuple(slot.shape)}.")
        self._iterations = int(arrays[0])
        for slot, array in zip(slots, arrays[1:]):
            slot.copy_(torch.as_tensor(array, dtype=slot.dtype))
        self.set_extra_variables({n: float(a) for n, a in zip(extra_names, arrays[1 + len(slots):])})

    # --- Weight decay exclusions ----------------------------------------------------------

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Leave these variables out of the decoupled weight decay: by identity
        (``var_list``) or by regular expressions searched in their names (``var_names``, as
        Keras): a danlu weight's Keras name and path (``"bias"``, ``"dense/kernel"``), or the
        parameter name from ``named_parameters()`` given at construction."""
        self._excluded_ids = {id(v) for v in (var_list or [])}
        self._excluded_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _decays(self, param, name) -> bool:
        if id(param) in self._excluded_ids:
            return False
        if self._excluded_pattern is None:
            return True
        names = [n for n in (name, getattr(param, "name", None), getattr(param, "path", None)) if isinstance(n, str)]
        return not any(self._excluded_pattern.search(n) for n in names)

    def _decayed_params(self, group, params):
        """The subset of ``params`` (all in ``group``) that weight decay applies to."""
        if not self._excluded_ids and self._excluded_pattern is None:
            return params
        names = dict(zip(map(id, group["params"]), group.get("param_names") or []))
        return [p for p in params if self._decays(p, names.get(id(p)))]

    # --- The update pipeline --------------------------------------------------------------

    def update(self, params, grads, slots: dict[str, list[torch.Tensor]], group: dict, lr: float, step: int) -> None:
        """Apply the rule in place to ``params`` (tensors of one device and dtype).

        ``slots`` maps each slot name to the list of state tensors aligned with ``params``;
        ``group`` holds the hyperparameters; ``lr`` is the current learning rate and
        ``step`` the 1-based update count (Keras' ``iterations + 1``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(params, grads, slots, group, lr, step).")

    def before_update(self, lr: float, step: int) -> None:
        """Hook run once per update before the per-group rule (optimizer-wide state)."""

    @torch.no_grad()
    def _apply(self, grouped: list[tuple[dict, list[torch.Tensor], list[torch.Tensor]]]) -> None:
        """Run the pipeline on ``[(group, params, grads)]`` (``None`` gradients removed)."""
        if not self.supports_sparse and not self.gradient_accumulation_steps:
            self._check_dense(grouped)
        state = self.state
        for group, params, _ in grouped:
            for p in params:
                if p not in state:  # parameters added after binding get their state lazily
                    self._init_state(p, group)
        if self.loss_scale_factor is not None:
            grouped = [(g, ps, self._map(gs, lambda d: torch._foreach_div(d, self.loss_scale_factor))) for g, ps, gs in grouped]
        steps = self.gradient_accumulation_steps
        if steps:
            grouped = [(g, ps, [gr.to_dense() if gr.is_sparse else gr for gr in gs]) for g, ps, gs in grouped]
            accumulators = [[self.state[p][ACCUMULATOR_SLOT] for p in ps] for _, ps, _ in grouped]
            if (self._iterations + 1) % steps:
                for accs, (_, _, gs) in zip(accumulators, grouped):
                    torch._foreach_add_(accs, gs)
                self._finish_step()
                return
            grouped = [
                (g, ps, list(torch._foreach_div(torch._foreach_add(gs, accs), steps)))
                for accs, (g, ps, gs) in zip(accumulators, grouped)
            ]
            for accs in accumulators:
                torch._foreach_zero_(accs)
        grouped = self._clip(grouped)
        step = self._update_count + 1
        self.before_update(self._current_lr(self.param_groups[0]) if self.param_groups else 0.0, step)
        for group, params, grads in grouped:
            lr = self._current_lr(group)
            if self._schedule is not None:
                group["lr"] = lr
            if self.decoupled_weight_decay and group.get("weight_decay"):
                decayed = self._decayed_params(group, params)
                if decayed:
                    torch._foreach_mul_(decayed, 1 - group["weight_decay"] * lr)
            for bucket in self._buckets(params, grads):
                bucket_params, bucket_grads = bucket
                slots = {
                    name: [self.state[p].get(name) for p in bucket_params]
                    for names in self.slots
                    for name in names
                }
                self.update(bucket_params, bucket_grads, slots, group, lr, step)
        self._finish_step()

    def _check_dense(self, grouped):
        """Refuse sparse gradients, before anything changes, unless the rule takes them."""
        for _, params, grads in grouped:
            for p, g in zip(params, grads):
                if g.is_sparse:
                    raise ValueError(
                        f"{type(self).__name__} does not support sparse gradients (a parameter of shape "
                        f"{tuple(p.shape)} received one, e.g. from torch.nn.Embedding(..., sparse=True) or "
                        "danlu.layers.Embedding(..., sparse=True)). Use LazyAdam or SGD, or dense gradients "
                        "(sparse=False)."
                    )

    def _finish_step(self):
        if self.use_ema:
            self._update_ema()
        self._iterations += 1
        for p in self.__dict__.get("_constrained", ()):  # Keras: constraints after the update
            constraints.apply(p, getattr(p, "keras_layout", None))

    @staticmethod
    def _map(grads, dense_fn):
        """Apply a list-of-dense-tensors function to gradients, sparse ones by their values."""
        dense_index = [i for i, g in enumerate(grads) if not g.is_sparse]
        out = list(grads)
        if dense_index:
            for i, g in zip(dense_index, dense_fn([grads[i] for i in dense_index])):
                out[i] = g
        for i, g in enumerate(grads):
            if g.is_sparse:
                g = g.coalesce()
                (values,) = dense_fn([g.values()])
                out[i] = torch.sparse_coo_tensor(g.indices(), values, g.shape, is_coalesced=True)
        return out

    def _clip(self, grouped):
        if self.clipnorm:
            return [(g, ps, self._map(gs, lambda d: clipping.clip_by_norm(d, self.clipnorm))) for g, ps, gs in grouped]
        if self.clipvalue:
            return [(g, ps, self._map(gs, lambda d: clipping.clip_by_value(d, self.clipvalue))) for g, ps, gs in grouped]
        if self.global_clipnorm:
            flat = [g for _, _, gs in grouped for g in gs]
            clipped = iter(self._global_clip(flat))
            return [(g, ps, [next(clipped) for _ in gs]) for g, ps, gs in grouped]
        return grouped

    def _global_clip(self, grads):
        coalesced = [g.coalesce() if g.is_sparse else g for g in grads]
        values = [g.values() if g.is_sparse else g for g in coalesced]
        clipped = clipping.clip_by_global_norm(values, self.global_clipnorm)
        return [
            torch.sparse_coo_tensor(g.indices(), v, g.shape, is_coalesced=True) if g.is_sparse else v
            for g, v in zip(coalesced, clipped)
        ]

    def _buckets(self, params, grads):
        """Split into lists of one device and dtype (one foreach kernel family each)."""
        if not params:
            return []
        first = (params[0].device, params[0].dtype)
        if all((p.device, p.dtype) == first for p in params):
            return [(params, grads)]
        buckets: dict = {}
        for p, g in zip(params, grads):
            bucket = buckets.setdefault((p.device, p.dtype), ([], []))
            bucket[0].append(p)
            bucket[1].append(g)
        return list(buckets.values())

    def _update_ema(self):
        params = self._params()
        averages = [self.state[p][EMA_SLOT] for p in params]
        momentum = self.ema_momentum if self._update_count != 0 else 0.0
        for bucket_avgs, bucket_params in self._buckets(averages, params):
            torch._foreach_mul_(bucket_avgs, momentum)
            torch._foreach_add_(bucket_avgs, bucket_params, alpha=1 - momentum)
        if self.ema_overwrite_frequency and (self._update_count + 1) % self.ema_overwrite_frequency == 0:
            torch._foreach_copy_(params, averages)

    # --- Keras API ------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars, name=None, experimental_aggregate_gradients=True, **kwargs):
        """Apply ``[(gradient, variable), ...]``; binds to the variables on the first call.

        Returns `iterations`. ``None`` gradients are skipped (with a warning); every check
        runs before any variable or state changes. tf.keras 2's ``name`` and
        ``experimental_aggregate_gradients`` are accepted (gradients are already summed by
        autograd; distributed gradients are reduced by DDP)."""
        if kwargs:
            raise TypeError(f"apply_gradients got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("apply_gradients received an empty list of (gradient, variable) pairs.")
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"apply_gradients expects (gradient, variable) pairs; item {i} is {pair!r}.")
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        return self.apply(grads, variables)

    def apply(self, grads, trainable_variables=None):
        """Keras 3's ``apply(grads, trainable_variables=None)``: gradients for the given
        variables, or for every bound variable in order when ``trainable_variables`` is None."""
        grads = list(grads)
        if not grads:
            raise ValueError("apply received an empty list of gradients.")
        if trainable_variables is None:
            if not self._bound:
                raise ValueError("apply(grads) without variables needs a bound optimizer: call build(params) first.")
            variables = self._params()
            if len(grads) != len(variables):
                raise ValueError(f"apply received {len(grads)} gradients for the {len(variables)} bound variables.")
        else:
            variables = list(trainable_variables)
        for i, (g, v) in enumerate(zip(grads, variables)):
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"variable {i} must be a torch.Tensor; received {type(v).__name__}.")
            if g is not None:
                if not isinstance(g, torch.Tensor):
                    grads[i] = g = torch.as_tensor(np.asarray(g), dtype=v.dtype, device=v.device)
                if tuple(g.shape) != tuple(v.shape):
                    raise ValueError(f"gradient {i} has shape {tuple(g.shape)} but its variable has shape {tuple(v.shape)}.")
        if self._bound:
            known = {id(p) for p in self._params()}
            unknown = [i for i, v in enumerate(variables) if id(v) not in known]
            if unknown:
                raise ValueError(
                    f"Unknown variable at position {unknown[0]}: this optimizer was built for other variables. "
                    "Create a new optimizer for a new set of variables."
                )
        present = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not present:
            raise ValueError("No gradients provided for any variable (every gradient is None).")
        if not self._bound:
            self.build(variables)
        if len(present) < len(grads):
            missing = [i for i, g in enumerate(grads) if g is None]
            warnings.warn(f"Gradients do not exist for variables at positions {missing}; they are not updated.", stacklevel=3)
        self._apply(self._group_pairs(present))
        return self.iterations

    def _group_pairs(self, pairs):
        index = {id(p): gi for gi, group in enumerate(self.param_groups) for p in group["params"]}
        per_group: dict[int, tuple[list, list]] = {}
        for g, v in pairs:
            params, grads = per_group.setdefault(index[id(v)], ([], []))
            params.append(v)
            grads.append(g if g.dtype == v.dtype or g.is_sparse else g.to(v.dtype))
        return [(self.param_groups[gi], ps, gs) for gi, (ps, gs) in sorted(per_group.items())]

    def minimize(self, loss, var_list, tape=None):
        """tf.keras 2.x: compute gradients of ``loss`` (a tensor, or a callable returning one)
        with respect to ``var_list`` and apply them. ``tape`` is accepted and ignored."""
        var_list = list(var_list() if callable(var_list) else var_list)
        with torch.enable_grad():
            value = loss() if callable(loss) else loss
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise ValueError(f"minimize needs a scalar loss tensor; received {value!r}.")
            value = self.scale_loss(value)
            grads = torch.autograd.grad(value.reshape(()), var_list, allow_unused=True)
        return self.apply_gradients(zip(grads, var_list))

    def scale_loss(self, loss):
        """Multiply ``loss`` by ``loss_scale_factor`` (gradients are divided back)."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def finalize_variable_values(self, var_list=None):
        """Write the EMA weights into the variables (Keras' ``fit`` does this at the end)."""
        if self.use_ema and self._bound:
            params = self._params() if var_list is None else list(var_list)
            with torch.no_grad():
                torch._foreach_copy_(params, [self.state[p][EMA_SLOT] for p in self._params()])

    @torch.no_grad()
    def swap_ema_weights(self):
        """Exchange the weights and their EMA in place; call again to swap back (for
        evaluating the averaged model during training)."""
        if not self.use_ema:
            raise ValueError("swap_ema_weights needs use_ema=True.")
        for p in self._params():
            average = self.state[p][EMA_SLOT]
            tmp = p.detach().clone()
            p.copy_(average)
            average.copy_(tmp)

    # --- PyTorch API ----------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure=None):
        """PyTorch style: update every parameter whose ``.grad`` is set."""
        loss = evaluate_closure(closure)
        grouped = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                grouped.append((group, params, [p.grad for p in params]))
        if grouped:
            self._apply(grouped)
        return loss

    def __getstate__(self):
        # torch.optim.Optimizer keeps only defaults, state and param_groups; danlu's settings
        # (schedule, clipping, EMA, counters, name, ...) must survive pickle and deepcopy too.
        return dict(self.__dict__)

    def state_dict(self):
        """torch's state dict plus danlu's counters under ``"danlu"``: the raw iteration
        count, optimizer-wide variables, and whether the rate is a schedule (a fixed rate set
        during training — ReduceLROnPlateau, LearningRateScheduler — replaces a schedule, and
        a resumed run must know)."""
        state = super().state_dict()
        state["danlu"] = {"iterations": self._iterations, "scheduled": self._schedule is not None, **self.extra_variables()}
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        extra = dict(state_dict.pop("danlu", {}))
        if not self._bound:
            raise ValueError(f"{type(self).__name__}.load_state_dict() needs a bound optimizer: build(params) first.")
        super().load_state_dict(state_dict)
        self._iterations = int(extra.pop("iterations", 0))
        if not extra.pop("scheduled", self._schedule is not None) and self._schedule is not None:
            self._schedule = None  # the saved run had replaced its schedule by a fixed rate
            if self.param_groups:
                self.defaults["lr"] = self.param_groups[0]["lr"]
        self.set_extra_variables(extra)

    # --- Configuration --------------------------------------------------------------------

    def get_config(self) -> dict:
        if self._schedule is None:
            learning_rate = float(self.learning_rate)
        elif isinstance(self._schedule, LearningRateSchedule):
            learning_rate = serialize_schedule(self._schedule)
        else:
            raise ValueError("An optimizer whose learning_rate is a plain callable cannot be serialized.")
        config = {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.defaults.get("weight_decay"),
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update({k: v for k, v in self.defaults.items() if k not in ("lr", "weight_decay") and k in self._hyperparameter_names()})
        return config

    def _hyperparameter_names(self):
        import inspect

        return set(inspect.signature(type(self).__init__).parameters)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"], custom_objects)
        return cls(**config)

    def __getattr__(self, name):
        defaults = self.__dict__.get("defaults")
        if defaults is not None and name in defaults:
            return defaults[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, learning_rate={float(self.learning_rate):g}, iterations={self._iterations})"
