"""`Variable`: a ``torch.nn.Parameter`` that also speaks Keras' variable API.

Layer weights and metric states are Variables, so both kinds of programs work on them:
PyTorch's (``torch.autograd.grad(loss, model.trainable_weights)``, ``p.grad``, in-place ops,
``optimizer = Adam(model.parameters())``) and Keras' (``v.assign(...)``, ``v.assign_add``,
``v.numpy()``, ``v.value``, ``v.name``, ``v.path``, ``v.trainable``, ``v.aggregation``).

It is a plain ``Parameter`` subclass without a ``__torch_function__`` of its own: operations on
it return ordinary tensors, cost nothing extra and compile with ``torch.compile``; ``module.to``
keeps the object (it swaps ``.data``).
"""

from __future__ import annotations

import numpy as np
import torch

AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")


def _as_value(value, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        tensor = torch.as_tensor(np.asarray(value))
    if like is not None:
        tensor = tensor.to(device=like.device, dtype=like.dtype)
    elif tensor.dtype == torch.float64 and not isinstance(value, torch.Tensor):
        tensor = tensor.float()  # Keras' floatx for Python floats and float64 arrays
    return tensor


class Variable(torch.nn.Parameter):
    """A tensor with Keras' variable methods (Keras 3: ``keras.Variable``).

    ``Variable(value, trainable=True, name=None, aggregation="none")``: ``value`` is a
    tensor, array, list or number (float64 arrays become float32, as Keras' floatx);
    ``trainable`` sets ``requires_grad``; ``aggregation`` tells a distributed strategy how
    replicas combine it (Keras' names: "none", "mean", "sum", "only_first_replica").
    """

    def __new__(cls, value=None, trainable=True, name=None, aggregation="none"):
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; received aggregation={aggregation!r}.")
        data = torch.empty(0) if value is None else _as_value(value)
        trainable = bool(trainable) and (data.is_floating_point() or data.is_complex())
        variable = torch.Tensor._make_subclass(cls, data, trainable)
        variable._keras_name = name
        variable.path = name
        variable.aggregation = aggregation
        return variable

    def __init__(self, *args, **kwargs):  # everything happens in __new__
        pass

    # --- Keras' variable API ----------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The variable's name (Keras: ``kernel``, ``bias``, ...); ``path`` adds the layer."""
        return self.__dict__.get("_keras_name")

    @name.setter
    def name(self, value):
        self._keras_name = value

    @property
    def value(self) -> torch.Tensor:
        """The tensor itself (Keras on torch: the backing tensor, gradients included)."""
        return self

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool):
        self.requires_grad_(bool(value))

    def assign(self, value):
        """Overwrite the value in place (shape must match); returns the variable."""
        new = _as_value(value, like=self)
        if tuple(new.shape) != tuple(self.shape):
            raise ValueError(
                f"Cannot assign a value of shape {tuple(new.shape)} to variable {self.name!r} of shape {tuple(self.shape)}."
            )
        with torch.no_grad():
            self.copy_(new)
        return self

    def assign_add(self, value):
        with torch.no_grad():
            self.add_(_as_value(value, like=self))
        return self

    def assign_sub(self, value):
        with torch.no_grad():
            self.sub_(_as_value(value, like=self))
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """A numpy copy of the value (detached, on the host)."""
        return self.detach().cpu().numpy().copy()

    # --- Copies keep the class and the Keras attributes ---------------------------------------

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(memory_format=torch.preserve_format), self.requires_grad, self.name, self.aggregation)
        result.path = self.path
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_variable, (self.detach().cpu(), self.requires_grad, self.name, self.aggregation, self.path))

    def __repr__(self):
        return f"<Variable path={self.path!r}, shape={tuple(self.shape)}, dtype={str(self.dtype).removeprefix('torch.')}>"


def _rebuild_variable(data, trainable, name, aggregation, path):
    variable = Variable(data, trainable, name, aggregation)
    variable.path = path
    return variable


class BoundVariable(Variable):
    """A `Variable` whose value lives elsewhere — an optimizer's learning rate or step count:
    reading gives the value at that moment; ``assign`` / ``assign_add`` / ``assign_sub``
    write it back through ``write(value)`` (which validates it). Arithmetic, ``float()``,
    ``numpy()`` work as on any tensor (Keras programs use ``opt.learning_rate`` so)."""

    def __new__(cls, value, write, name=None, dtype=torch.float32):
        variable = super().__new__(cls, torch.tensor(value, dtype=dtype), trainable=False, name=name)
        variable._write = write
        return variable

    def assign(self, value):
        value = value.detach() if isinstance(value, torch.Tensor) else value
        self._write(float(value) if self.is_floating_point() else int(value))
        with torch.no_grad():
            self.copy_(torch.as_tensor(value, dtype=self.dtype))
        return self

    def assign_add(self, value):
        return self.assign(self.detach() + torch.as_tensor(value, dtype=self.dtype))

    def assign_sub(self, value):
        return self.assign(self.detach() - torch.as_tensor(value, dtype=self.dtype))

    def __deepcopy__(self, memo):
        return Variable(self.detach().clone(), False, self.name)

    def __reduce_ex__(self, protocol):
        return (_rebuild_variable, (self.detach().cpu(), False, self.name, "none", self.path))
