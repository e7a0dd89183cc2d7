"""The `Layer` base: a ``torch.nn.Module`` built lazily from its first input, Keras style.

A layer creates its weights in ``build(input_shape)`` with `add_weight` (initializer and
regularizer by Keras name) and computes in ``call(inputs)``; ``build`` runs once, on the first
call, with the input's shape (batch axis included), and the new weights land on the input's
device. ``input_shape=`` (without the batch axis) builds at construction instead.
Regularization penalties of weights, ``activity_regularizer`` outputs and ``add_loss`` terms
make up `losses`, which the trainer adds to the objective.
"""

from __future__ import annotations

import functools
import inspect

import torch

from danlu import initializers, regularizers
from danlu._identifiers import snake_case


def shape_of(inputs):
    """The shape (or structure of shapes) of a tensor or nested inputs."""
    if isinstance(inputs, torch.Tensor):
        return tuple(inputs.shape)
    if isinstance(inputs, dict):
        return {k: shape_of(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(shape_of(v) for v in inputs)
    return None


def device_of(inputs):
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    values = inputs.values() if isinstance(inputs, dict) else inputs if isinstance(inputs, (list, tuple)) else ()
    for value in values:
        device = device_of(value)
        if device is not None:
            return device
    return None


class Layer(torch.nn.Module):
    """Base class of danlu layers (and of `danlu.Model`).

    A complete layer::

        class Scale(Layer):
            def build(self, input_shape):
                self.alpha = self.add_weight("alpha", (input_shape[-1],), initializer="ones")

            def call(self, inputs):
                return inputs * self.alpha
    """

    def __init_subclass__(cls, **kwargs):
        """Record each layer's constructor arguments, so that `get_config` can return them."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_arguments", False):
            return

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            if "_init_arguments" not in self.__dict__:  # the outermost constructor records
                self.__dict__["_init_arguments"] = (init, args, kw)
            init(self, *args, **kw)

        recording_init._records_arguments = True
        cls.__init__ = recording_init

    def get_config(self) -> dict:
        """The constructor arguments (with their defaults), for `from_config`."""
        init, args, kwargs = self.__dict__.get("_init_arguments", (None, (), {}))
        if init is None:
            return {"name": self.name}
        bound = inspect.signature(init).bind(self, *args, **kwargs)
        bound.apply_defaults()
        config = {}
        for name, value in list(bound.arguments.items())[1:]:
            kind = inspect.signature(init).parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                config[name] = value
        config["name"] = self.name
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __init__(self, input_shape=None, name=None, trainable=True, activity_regularizer=None, **kwargs):
        if "input_dim" in kwargs:
            input_shape = (kwargs.pop("input_dim"),)
        kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        super().__init__()
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.built = False
        self.input_shape_arg = None if input_shape is None else tuple(input_shape)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._weight_regularizers: list[tuple[str, object]] = []
        self._call_losses: list[torch.Tensor] = []
        self._build_handle = self.register_forward_pre_hook(_build_on_first_call)
        if self.activity_regularizer is not None:
            self.register_forward_hook(_activity_penalty)
        if input_shape is not None:
            self.build_from_shape((None, *tuple(input_shape)))
        if not trainable:
            self.trainable = False

    # --- Building ---------------------------------------------------------------------------

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""

    def build_from_shape(self, input_shape, device=None):
        if self.built:
            return
        self.build(input_shape)
        self.built = True
        self._build_handle.remove()
        if device is not None:
            self.to(device)

    def add_weight(self, name, shape, initializer="glorot_uniform", regularizer=None, trainable=True, fans=None):
        """Create, register and return a parameter of ``shape``."""
        init = initializers.get(initializer)
        if isinstance(init, initializers.Initializer):
            value = init(tuple(shape), torch.float32, fans)
        else:  # any callable (shape, dtype) -> tensor
            value = torch.as_tensor(init(tuple(shape), torch.float32), dtype=torch.float32)
        parameter = torch.nn.Parameter(value, requires_grad=trainable and self.trainable)
        self.register_parameter(name, parameter)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._weight_regularizers.append((name, regularizer))
        return parameter

    # --- Calling ----------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs) (or forward).")

    # --- Trainability -----------------------------------------------------------------------

    @property
    def trainable(self) -> bool:
        """Whether the weights train; setting it freezes or unfreezes every weight inside."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool):
        self.__dict__["_trainable"] = bool(value)
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_trainable"] = bool(value)
        for p in self.parameters():
            p.requires_grad_(bool(value))

    # --- Losses -----------------------------------------------------------------------------

    def add_loss(self, value):
        """Add a term to the training objective for the current forward pass."""
        self._call_losses.append(value)

    def own_losses(self) -> list[torch.Tensor]:
        """This layer's weight penalties and the terms added during the last forward pass."""
        penalties = [regularizer(getattr(self, name)) for name, regularizer in self._weight_regularizers]
        return penalties + list(self._call_losses)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Penalties of this layer and every danlu layer inside it."""
        return [loss for layer in self.modules() if isinstance(layer, Layer) for loss in layer.own_losses()]

    def extra_repr(self) -> str:
        return f"name={self.name!r}" + ("" if self.built else ", unbuilt")


class KernelLayer(Layer):
    """A layer with a kernel, an optional bias and an activation (Dense, Conv1D, Conv2D):
    the Keras options they share, stored and applied once."""

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        from danlu import activations

        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        super().__init__(**kwargs)

    def add_kernel_and_bias(self, shape, bias_size, fans):
        """Create ``weight`` of ``shape`` (Keras fans given explicitly) and ``bias``."""
        self.add_weight("weight", shape, self.kernel_initializer, self.kernel_regularizer, fans=fans)
        if self.use_bias:
            self.add_weight("bias", (bias_size,), self.bias_initializer, self.bias_regularizer)
        else:
            self.bias = None


def _build_on_first_call(layer: Layer, args):
    if not layer.built and args:
        layer.build_from_shape(shape_of(args[0]), device=device_of(args[0]))


def _activity_penalty(layer: Layer, args, output):
    if isinstance(output, torch.Tensor):
        layer._call_losses.append(layer.activity_regularizer(output))


_NAME_COUNTS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """Keras' automatic names: ``dense``, ``dense_1``, ``dense_2``, ..."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


