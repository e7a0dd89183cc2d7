"""The `Metric` base: named state Variables on the device of the first update.

Every piece of state is a `danlu._variables.Variable` (non-trainable) created with
``add_variable``: it has Keras' ``assign`` / ``assign_add`` / ``numpy`` / ``name`` /
``aggregation``, and it stays the same object when the metric moves to another device (its
``.data`` is swapped). ``aggregation`` tells a distributed strategy how replicas combine it;
every built-in metric keeps only sums (counts, totals, confusion matrices), so a result is
always computable from states summed over replicas (`Metric.merge_state`).

Nothing here reads a value back to the host: updates are tensor operations on the device of
the inputs, and the first update moves the state there.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import torch

from danlu import initializers as initializers_module
from danlu._dtypes import dtype_name, standardize_dtype
from danlu._identifiers import snake_case
from danlu._variables import Variable

_MISSING = object()
#: Keras' floatx: the dtype of a variable created without one, and of a metric without one.
FLOATX = torch.float32


def metric_dtype(dtype) -> torch.dtype:
    """The compute dtype of a metric from Keras' spellings: ``None`` (floatx, float32), a name
    (``"float32"``, ``"bfloat16"``, ...), a torch or numpy dtype, a dtype policy (anything
    with a ``compute_dtype``) or a policy name (``"mixed_float16"`` computes in float16)."""
    if dtype is None:
        return FLOATX
    dtype = getattr(dtype, "compute_dtype", dtype)
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        dtype = dtype.removeprefix("mixed_")
    return standardize_dtype(dtype, "dtype")


class _Initial:
    """How a variable is (re)initialized: a danlu / Keras initializer, a callable
    ``(shape, dtype) -> tensor`` or a constant value."""

    def __init__(self, initializer, shape, dtype):
        if initializer is None:
            initializer = "zeros"
        if isinstance(initializer, (str, initializers_module.Initializer)) or callable(initializer):
            self.initializer, self.constant = initializers_module.get(initializer), None
            if isinstance(self.initializer, initializers_module.Constant):
                self.constant = float(self.initializer.value)
        else:  # a value: a number, list, array or tensor
            if isinstance(initializer, torch.Tensor):
                value = initializer.detach()
            else:
                value = torch.as_tensor(np.asarray(initializer))
            self.initializer, self.constant = value, float(value) if value.ndim == 0 else None
        self.shape, self.dtype = tuple(shape), dtype

    def value(self, device=None) -> torch.Tensor:
        if isinstance(self.initializer, torch.Tensor):
            value = torch.broadcast_to(self.initializer, self.shape)
        else:
            value = torch.as_tensor(self.initializer(self.shape, dtype=self.dtype))
        return value.to(device=device, dtype=self.dtype).clone()

    def reset(self, variable: torch.Tensor):
        with torch.no_grad():
            if self.constant is not None:
                variable.fill_(self.constant)
            else:
                variable.copy_(self.value(variable.device))


def _reporting_shapes(update):
    import functools

    @functools.wraps(update)
    def update_state(self, *args, **kwargs):
        try:
            return update(self, *args, **kwargs)
        except (RuntimeError, IndexError) as error:
            shapes = [tuple(np.shape(a)) if not isinstance(a, torch.Tensor) else tuple(a.shape) for a in args]
            raise ValueError(
                f"{type(self).__name__} ({self.name!r}) cannot update on inputs of shapes {shapes}"
                f"{' and ' + str({k: tuple(np.shape(v)) for k, v in kwargs.items() if v is not None}) if kwargs else ''}: {error}"
            ) from None

    update_state._reports_shapes = True
    return update_state


class Metric:
    """Base class: ``update_state(...)`` accumulates, ``result()`` reads, ``reset_state()``
    clears; calling the metric updates and returns the result (Keras 3's ``keras.Metric``).

    A subclass creates its state in ``__init__`` with ``add_variable`` and updates it with
    ``assign`` / ``assign_add`` (or in-place tensor operations), exactly as in Keras::

        class BinaryTruePositives(Metric):
            def __init__(self, name="binary_true_positives", **kwargs):
                super().__init__(name=name, **kwargs)
                self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

            def update_state(self, y_true, y_pred, sample_weight=None):
                values = (torch.as_tensor(y_true) != 0) & (torch.as_tensor(y_pred) != 0)
                values = values.to(self.true_positives.dtype)
                if sample_weight is not None:
                    values = values * torch.as_tensor(sample_weight, dtype=values.dtype)
                self.true_positives.assign_add(values.sum())

            def result(self):
                return self.true_positives.value.clone()

    - ``dtype`` (Keras: ``None`` means floatx, "float32"): a name, a torch dtype or a policy;
      ``metric.dtype`` reads back Keras' string. Variables made without a ``dtype`` are
      float32 whatever the metric's dtype, as in Keras.
    - ``variables`` lists the state in creation order, then that of the sub-metrics held as
      attributes (Keras' order). A `Variable` or `Metric` assigned to an attribute is tracked
      (not inside lists); assigning a plain tensor to a state attribute writes into the state.
    - ``reset_state()`` sets every variable back to its initializer (Keras' base resets to
      zeros; with the zeros initializer every built-in metric uses, the two agree).
    - ``state_dict()`` / ``load_state_dict(state)``: the exact state, for resuming mid-epoch.
    - ``merge_state(others)``: combine replicas' states by each variable's ``aggregation``.
    - ``direction``: "up" when larger is better, "down" otherwise (callbacks read it); a
      Keras-style subclass may set ``self._direction``.
    """

    _direction = "down"

    def __init_subclass__(cls, **kwargs):
        """Every ``update_state`` reports data of shapes it cannot combine as a ValueError
        naming the metric and the shapes (not torch's internal error)."""
        super().__init_subclass__(**kwargs)
        update = cls.__dict__.get("update_state")
        if update is not None and not getattr(update, "_reports_shapes", False):
            cls.update_state = _reporting_shapes(update)

    def __init__(self, name=None, dtype=None):
        self._dtype = metric_dtype(dtype)
        self.name = name or snake_case(type(self).__name__)
        self._variables: list[Variable] = []
        self._initials: list[_Initial] = []
        self._metrics: list[tuple[str, Metric]] = []
        self._device = None

    # --- Keras' surface -----------------------------------------------------------------------

    @property
    def dtype(self) -> str:
        """The compute dtype as Keras spells it ("float32", "bfloat16", ...)."""
        return dtype_name(self._dtype)

    @property
    def direction(self) -> str:
        return self._direction

    @direction.setter
    def direction(self, value):
        if value not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down'; received direction={value!r}.")
        self._direction = value

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A non-trainable state `Variable` (Keras' ``Metric.add_variable``): ``initializer`` is a
        name ("zeros", "ones", ...), an initializer, a callable ``(shape, dtype)`` or a value;
        ``dtype=None`` is float32 (Keras' floatx); ``aggregation`` says how replicas combine it
        ("sum", "mean", "only_first_replica" or "none")."""
        self._check_super_called()
        shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(d) for d in shape)
        dtype = FLOATX if dtype is None else standardize_dtype(dtype, "dtype")
        initial = _Initial(initializer, shape, dtype)
        variable = Variable(initial.value(), trainable=False, name=name, aggregation=aggregation)
        variable.path = f"{self.name}/{name}"
        self._variables.append(variable)
        self._initials.append(initial)
        self._device = None  # a new variable starts on the CPU: the next update places it
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras' older spelling of `add_variable` (zeros unless ``initializer`` says otherwise)."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def add_state(self, name, shape=(), initial=0.0):
        """danlu's first spelling: a summed state of the metric's dtype filled with ``initial``."""
        return self.add_variable(shape, initial, dtype=self._dtype, name=name)

    @property
    def variables(self) -> list[Variable]:
        variables = list(self._variables)
        for _, metric in self._metrics:
            variables.extend(metric.variables)
        return variables

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result.")

    def reset_state(self):
        """Set every variable (sub-metrics' included) back to its initial value."""
        for variable, initial in zip(self._variables, self._initials):
            initial.reset(variable)
        for _, metric in self._metrics:
            metric.reset_state()

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    # --- Attribute tracking -------------------------------------------------------------------

    def __setattr__(self, name, value):
        tracked = self.__dict__.get("_variables")
        if tracked is not None:
            current = self.__dict__.get(name, _MISSING)
            if value is current:  # `self.total += x` hands back the same variable
                return
            if isinstance(current, Variable) and isinstance(value, torch.Tensor) and not isinstance(value, Variable) \
                    and any(v is current for v in tracked):
                # `self.count = self.count + 1` writes into the state instead of dropping it
                with torch.no_grad():
                    if value.shape == current.shape:
                        current.copy_(value.detach())
                    else:
                        current.data = value.detach().to(dtype=current.dtype, device=current.device)
                return
            if isinstance(value, Variable) and not any(v is value for v in tracked):
                tracked.append(value)
                self._initials.append(_Initial(value.detach().clone(), value.shape, value.dtype))
                self._device = None
            if isinstance(value, Metric):
                self._metrics[:] = [(n, m) for n, m in self._metrics if n != name] + [(name, value)]
        object.__setattr__(self, name, value)

    def _check_super_called(self):
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() before creating state.")

    # --- Devices ------------------------------------------------------------------------------

    def _to_device(self, device):
        """Move every variable (and the tensors `_move_constants` moves) to ``device``; the
        variables stay the same objects. A no-op (one comparison) when already there."""
        if self._device == device:
            return
        device = torch.device(device)
        for variable in self._variables:
            if variable.device != device:
                variable.data = variable.data.to(device)
        for _, metric in self._metrics:
            metric._to_device(device)
        self._move_constants(device)
        self._device = device

    def _move_constants(self, device):
        """Subclasses move their constant tensors (thresholds, weights) here."""

    # --- Exact state: save, restore, combine --------------------------------------------------

    @property
    def built(self) -> bool:
        """False while a metric that sizes its state from the first batch has not seen one."""
        return getattr(self, "_built", True)

    def _named_variables(self):
        seen = {}
        for index, variable in enumerate(self._variables):
            key = variable.name or f"variable_{index}"
            if key in seen:
                seen[key] += 1
                key = f"{key}_{seen[key]}"
            else:
                seen[key] = 0
            yield key, variable
        for attribute, metric in self._metrics:
            for key, variable in metric._named_variables():
                yield f"{attribute}.{key}", variable

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{variable name: tensor}`` (copies, on the state's device), in `variables` order;
        a sub-metric's entries are prefixed with its attribute name."""
        return {key: variable.detach().clone() for key, variable in self._named_variables()}

    def load_state_dict(self, state: Mapping):
        """Restore what `state_dict` returned, exactly (a lazily built metric is built from
        the saved shapes). Raises ``ValueError`` on missing or unexpected names or shapes that
        differ, naming them; values are cast to each variable's dtype and device."""
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict expects a dict of tensors; received {type(state).__name__}."
            )
        named = dict(self._named_variables())
        if not self.built and any(key not in named for key in state):  # saved after the first batch
            try:
                self._build_from_state(state)
            except KeyError as missing:
                raise ValueError(
                    f"The state does not fit {type(self).__name__}(name={self.name!r}): missing {missing}."
                ) from None
            named = dict(self._named_variables())
        missing, unexpected = [k for k in named if k not in state], [k for k in state if k not in named]
        if missing or unexpected:
            raise ValueError(
                f"The state does not fit {type(self).__name__}(name={self.name!r}): missing {missing}, "
                f"unexpected {unexpected}; its variables are {list(named)}."
            )
        values = {}
        for key, variable in named.items():
            value = state[key]
            value = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"state[{key!r}] has shape {tuple(value.shape)} but {type(self).__name__}(name={self.name!r}) "
                    f"holds {key} with shape {tuple(variable.shape)}."
                )
            values[key] = value
        with torch.no_grad():
            for key, variable in named.items():
                variable.copy_(values[key].to(dtype=variable.dtype, device=variable.device))

    def _build_from_state(self, state: Mapping):
        raise ValueError(f"{type(self).__name__} cannot be built from a saved state.")

    def merge_state(self, others):
        """Fold the states of ``others`` (metrics of the same class and configuration, e.g. one
        per replica) into this one, each variable by its ``aggregation``: "sum" adds, "mean"
        averages, "only_first_replica" keeps this metric's value, "none" cannot be combined.
        Afterwards ``result()`` is the result over all the data the metrics saw."""
        others = [others] if isinstance(others, Metric) else list(others)
        for other in others:
            if type(other) is not type(self):
                raise TypeError(
                    f"{type(self).__name__}.merge_state needs metrics of the same class; "
                    f"received {type(other).__name__}."
                )
        others = [other for other in others if other.built]  # an unbuilt metric saw nothing
        if not others:
            return
        if not self.built:
            self._build_from_state(others[0].state_dict())
        named = dict(self._named_variables())
        states = []
        for other in others:
            theirs = dict(other._named_variables())
            if list(theirs) != list(named) or any(theirs[k].shape != v.shape for k, v in named.items()):
                raise ValueError(
                    f"Cannot merge {type(self).__name__} states of different layouts: {list(named)} and {list(theirs)}."
                )
            states.append(theirs)
        with torch.no_grad():
            for key, variable in named.items():
                if variable.aggregation == "only_first_replica":
                    continue
                if variable.aggregation == "none":
                    raise ValueError(
                        f"Variable {key!r} of {type(self).__name__} has aggregation='none': it cannot be merged."
                    )
                total = variable.detach().clone()
                for theirs in states:
                    total += theirs[key].detach().to(device=variable.device, dtype=variable.dtype)
                if variable.aggregation == "mean":
                    total = total / (len(states) + 1)
                variable.copy_(total)
