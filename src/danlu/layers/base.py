"""The `Layer` base: a ``torch.nn.Module`` with Keras' layer protocol.

- **Building**: ``build(input_shape)`` runs once, on the first call (or at construction with
  ``input_shape=``, or when called on a symbolic `danlu.Input`), and creates weights with
  `add_weight`; new weights land on the input's device.
- **Calling**: ``call(inputs, training=None, mask=None)``. ``training`` is the module's mode:
  ``model.train()`` / ``model.eval()`` (PyTorch) or ``layer(x, training=True)`` (Keras, for
  that call only); ``fit`` trains with ``training=True``, ``evaluate`` / ``predict`` use
  ``False``. Layers are created in inference mode, so a direct call ``model(x)`` is an
  inference call, as in Keras. A ``call`` that names a ``training`` (or ``mask``) argument
  receives it; nested layers follow their parent's mode.
- **Masks** (Keras): a layer with ``supports_masking`` passes the mask of its input on;
  ``compute_mask(inputs, mask)`` makes new ones (``Embedding(mask_zero=True)``,
  ``Masking``). The mask travels on the tensor as ``tensor._keras_mask``.
- **Weights**: `weights` (own trainable, own non-trainable, then each sublayer's — Keras'
  order), `trainable_weights`, `non_trainable_weights`, ``*_variables`` aliases; each weight
  is a `danlu.Variable` (a ``torch.nn.Parameter`` with ``assign`` / ``numpy`` / ``name``).
  `get_weights` / `set_weights` speak **Keras' layout** (a Dense kernel ``(in, out)``, a
  Conv2D kernel ``(kh, kw, in, out)``) so that ``layer.set_weights(keras_layer.get_weights())``
  brings Keras weights over; ``state_dict()`` speaks PyTorch's. Plain torch modules inside
  report their tensors as they are (parameters, then buffers).
- **Losses**: weight regularizers, ``activity_regularizer`` and ``add_loss`` terms make up
  `losses`; terms added during a call are cleared when the next outermost call starts.
"""

from __future__ import annotations

import functools
import inspect
import weakref

import numpy as np
import torch

from danlu import constraints, initializers, mixed_precision, regularizers
from danlu._dtypes import standardize_dtype
from danlu._identifiers import snake_case, unique_name
from danlu._modules import nothing_hooked
from danlu._variables import Variable
from danlu.layers import symbolic

#: Half-precision inputs: a float layer casts them (the dtype policy's part of a call).
_HALF = (torch.float16, torch.bfloat16)


def shape_of(inputs):
    """The shape (or structure of shapes) of a tensor or nested inputs."""
    if isinstance(inputs, (torch.Tensor, symbolic.KerasTensor)):
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


def module_weights(module: torch.nn.Module) -> list[torch.Tensor]:
    """Keras' ``weights`` of any module: a danlu layer's own, or a plain torch module's
    parameters then persistent buffers, recursively."""
    if isinstance(module, Layer):
        return module.weights
    own = [p for p in module._parameters.values() if p is not None]
    own += [b for name, b in module._buffers.items() if b is not None and name not in module._non_persistent_buffers_set]
    return _unique(own + [w for child in module.children() for w in module_weights(child)])


def _unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


class _CallState:
    """How deep the current layer calls are nested (the outermost call clears the
    ``add_loss`` terms of the previous one), and which layers hold such terms (so that calls
    cost nothing for them when no layer adds losses)."""

    depth = 0
    holding: "weakref.WeakSet" = None


class Layer(torch.nn.Module):
    """Base class of danlu layers (and of `danlu.Model`); see the module docstring.

    A complete layer::

        class Scale(Layer):
            def build(self, input_shape):
                self.alpha = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="alpha")

            def call(self, inputs, training=None):
                return inputs * self.alpha

    Common arguments (Keras): ``name``, ``trainable=True``, ``dtype`` (a dtype name or a
    mixed-precision policy name), ``input_shape`` (without the batch axis; builds at once),
    ``input_dim``, ``activity_regularizer``.
    """

    #: Whether the layer passes the mask of its inputs on unchanged (Keras' attribute).
    supports_masking = False
    #: What the layer computes on, when it is a model's first layer: "float" layers get
    #: integer and boolean inputs cast to float (Keras), "int" layers (embeddings) keep them.
    input_dtype_kind = None
    #: The input rank the layer works on, when fixed (Dense: 2, so ``(batch,)`` inputs get a
    #: trailing axis, as tf.keras expands 1-D data).
    input_rank_hint = None

    def __init_subclass__(cls, **kwargs):
        """Record each layer's constructor arguments (for `get_config`) and which of
        ``training`` / ``mask`` its ``call`` takes."""
        super().__init_subclass__(**kwargs)
        call = cls.call if cls.call is not Layer.call else cls.forward
        parameters = inspect.signature(call).parameters
        cls._call_takes_training = "training" in parameters
        cls._call_takes_mask = "mask" in parameters
        cls._computes_masks = cls.compute_mask is not Layer.compute_mask
        cls._mask_free_call = not (cls._call_takes_mask or cls._computes_masks)  # see __call__'s fast path
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

    def __init__(self, input_shape=None, name=None, trainable=True, activity_regularizer=None, dtype=None,
                 input_dim=None, batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        super().__init__()
        self.training = False  # Keras: a direct call is an inference call
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.built = False
        self.input_shape_arg = None if input_shape is None else tuple(input_shape)
        self.dtype_policy = mixed_precision.get(dtype)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._weight_regularizers: list[tuple[str, object]] = []
        self._call_losses: list[torch.Tensor] = []
        self._inbound_nodes: list = []
        self.__dict__["_trainable"] = bool(trainable)
        if self.activity_regularizer is not None:
            self.register_forward_hook(_activity_penalty)
        if input_shape is not None:
            self.build_from_shape((batch_size, *tuple(input_shape)))
        if not trainable:
            self.trainable = False

    def __setattr__(self, name, value):
        # A module assigned to a layer takes the layer's mode (torch modules start training).
        if isinstance(value, torch.nn.Module) and "_modules" in self.__dict__:
            value.train(self.training)
        elif _is_metric(value):  # metrics assigned as attributes show in the model's metrics
            tracked = self.__dict__.setdefault("_tracked_metrics", [])
            if all(value is not m for m in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    # --- Configuration ------------------------------------------------------------------------

    def get_config(self) -> dict:
        """The constructor arguments (with their defaults), for `from_config`."""
        init, args, kwargs = self.__dict__.get("_init_arguments", (None, (), {}))
        if init is None:
            return {"name": self.name}
        signature = inspect.signature(init)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        config = {}
        for name, value in list(bound.arguments.items())[1:]:
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                config[name] = value
        config["name"] = self.name
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # --- Building ---------------------------------------------------------------------------

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included, ``None``
        when unknown)."""

    def build_from_shape(self, input_shape, device=None):
        if self.built:
            return
        self.build(input_shape)
        self.built = True
        if device is not None:
            self.to(device)

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (batch axis included). The default runs
        ``call`` on fake tensors (no memory, no computation); override it where that cannot
        work (e.g. layers that take strings)."""
        return symbolic.infer_output(self, input_shape)

    def add_weight(self, *args, **kwargs):
        """Create, register (as a parameter) and return a `danlu.Variable`.

        Keras 3's signature: ``add_weight(shape=None, initializer=None, dtype=None,
        trainable=True, regularizer=None, constraint=None, name=None)``; the older
        ``add_weight(name, shape, initializer, regularizer, trainable)`` works too.
        ``initializer`` defaults to ``"glorot_uniform"`` for floating weights (Keras), the
        dtype to the layer's variable dtype, the name to ``variable``, ``variable_1``, ...
        danlu's extra keywords: ``fans`` (Keras' fans when the tensor is not in Keras'
        layout), ``keras_layout`` (the permutation from this tensor to Keras' layout, e.g.
        ``(1, 0)`` for a Dense weight stored ``(out, in)``), ``keras_name`` (the Keras name
        when the attribute name differs). A ``constraint`` is applied after each update."""
        if args and isinstance(args[0], str):
            positional = ("name", "shape", "initializer", "regularizer", "trainable")
        else:
            positional = ("shape", "initializer", "dtype", "trainable", "regularizer", "constraint", "name")
        if len(args) > len(positional):
            raise TypeError(f"add_weight takes at most {len(positional)} positional arguments; received {len(args)}.")
        given = dict(zip(positional, args))
        twice = sorted(set(given) & set(kwargs))
        if twice:
            raise TypeError(f"add_weight got multiple values for {', '.join(twice)}.")
        return self._add_weight(**given, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None, constraint=None,
                    name=None, fans=None, keras_name=None, keras_layout=None, autocast=True, aggregation="none",
                    overwrite_with_gradient=False, synchronization=None):
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = standardize_dtype(dtype, "dtype") or self.dtype_policy.torch_variable_dtype
        name = self._new_weight_name(name)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating_point else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype, fans) if isinstance(init, initializers.Initializer) else init(shape, dtype)
        value = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value).to(dtype)
        if tuple(value.shape) != shape:
            raise ValueError(f"The initializer of weight {name!r} returned shape {tuple(value.shape)}; expected {shape}.")
        variable = Variable(value, trainable=bool(trainable), name=keras_name or name)
        variable.path = f"{self.name}/{keras_name or name}"
        variable._created_trainable = variable.requires_grad
        variable.keras_layout = None if keras_layout is None else tuple(keras_layout)
        variable.constraint = constraints.get(constraint)
        if not self.trainable:
            variable.requires_grad_(False)
        self.register_parameter(name, variable)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._weight_regularizers.append((name, regularizer))
        return variable

    def _new_weight_name(self, name):
        if name is None:
            base, count = "variable", 0
            while (name := base if count == 0 else f"{base}_{count}") in self._parameters or hasattr(self, name):
                count += 1
            return name
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"A weight name must be a valid identifier; received name={name!r}.")
        if name in self._parameters and self._parameters[name] is not None:
            raise ValueError(f"Layer {self.name!r} already has a weight named {name!r}.")
        return name

    # --- Calling ----------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        # --- The fast path: a built layer called on a plain tensor, with nothing for the full
        # path below to do (no training= switch, no mask in or out, no dtype policy or mixed
        # region, no add_loss terms of a previous call to clear). The nesting depth is kept,
        # so the layers inside still see this call as their parent.
        cls = type(self)
        if (
            args and not kwargs and type(args[0]) is torch.Tensor and self.built and cls._mask_free_call
            and (_CallState.depth or not _CallState.holding)
            and not (self.supports_masking and getattr(args[0], "_keras_mask", None) is not None)
            and not self.dtype_policy.changes_computation and mixed_precision.REGION.dtype is None
            and not (cls.input_dtype_kind == "float" and args[0].dtype in _HALF)
        ):
            # torch's own dispatch (hooks, module.compile(), jit tracing) only when something
            # asks for it: else `forward` directly, as `Module.__call__` would reach it.
            call = self.forward if nothing_hooked(self) else functools.partial(torch.nn.Module.__call__, self)
            _CallState.depth += 1
            try:
                if cls._call_takes_training:
                    return call(*args, training=self.training)
                return call(*args)
            finally:
                _CallState.depth -= 1
        if args and symbolic.is_symbolic(args[0]):
            return symbolic.call_symbolically(self, args, kwargs)
        if not self.built and args:
            self.build_from_shape(shape_of(args[0]), device=device_of(args[0]))
        training = kwargs.pop("training", None)
        switch = training is not None and bool(training) != self.training
        if switch:
            self.train(bool(training))
        if _CallState.depth == 0 and _CallState.holding:
            self._clear_call_losses()
        _CallState.depth += 1
        try:
            cls = type(self)
            if cls._call_takes_training:
                kwargs["training"] = self.training
            mask = None
            if cls._call_takes_mask or self.supports_masking or cls._computes_masks:
                mask = kwargs.pop("mask", None)
                if mask is None and args:
                    mask = _mask_of(args[0])
                if cls._call_takes_mask:
                    kwargs["mask"] = mask
            # --- dtype policy (mixed precision): a float32 call outside a mixed region pays two checks ---
            if self.dtype_policy.changes_computation or mixed_precision.REGION.dtype is not None or (
                cls.input_dtype_kind == "float" and mixed_precision.half_inputs(args)
            ):
                context, cast_args = mixed_precision.layer_call(self.dtype_policy, args)
                with context:
                    outputs = super().__call__(*cast_args, **kwargs)
            else:
                outputs = super().__call__(*args, **kwargs)
            # --- end of the dtype policy part ---
            if self.supports_masking or cls._computes_masks:
                _attach_mask(outputs, self.compute_mask(args[0] if args else None, mask))
            return outputs
        finally:
            _CallState.depth -= 1
            if switch:
                self.train(not training)

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs) (or forward).")

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: the input's when ``supports_masking``, else None."""
        return mask if self.supports_masking else None

    # --- Trainability -----------------------------------------------------------------------

    @property
    def trainable(self) -> bool:
        """Whether the weights train; setting it freezes or unfreezes every weight inside
        (weights created non-trainable stay non-trainable)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool):
        value = bool(value)
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_trainable"] = value
        for p in self.parameters():
            p.requires_grad_(value and getattr(p, "_created_trainable", True))

    # --- Weights ----------------------------------------------------------------------------

    def _own_named_weights(self) -> list[tuple[str, torch.Tensor]]:
        """This layer's own tensors in Keras' order: weights created trainable, then the
        others (non-trainable weights, persistent buffers such as moving statistics)."""
        params = [(n, p) for n, p in self._parameters.items() if p is not None]
        trainable = [(n, p) for n, p in params if getattr(p, "_created_trainable", True)]
        fixed = [(n, p) for n, p in params if not getattr(p, "_created_trainable", True)]
        buffers = [(n, b) for n, b in self._buffers.items() if b is not None and n not in self._non_persistent_buffers_set]
        return trainable + fixed + buffers

    def _sublayers(self) -> list[torch.nn.Module]:
        """The modules whose weights follow this layer's own, in order (containers such as
        ``ModuleList`` are looked through)."""
        out = []
        for child in self._modules.values():
            if child is None:
                continue
            if isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)):
                out.extend(c for c in child.children())
            else:
                out.append(child)
        return out

    @property
    def weights(self) -> list[torch.Tensor]:
        """Every weight: own trainable, own non-trainable, then each sublayer's (Keras)."""
        own = [t for _, t in self._own_named_weights()]
        return _unique(own + [w for sub in self._sublayers() for w in module_weights(sub)])

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        return [w for w in self.weights if w.requires_grad] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        return [w for w in self.weights if not w.requires_grad] if self.trainable else self.weights

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        """The number of values in `weights` (Keras)."""
        return sum(w.numel() for w in self.weights)

    def get_own_weights(self) -> list[np.ndarray]:
        """This layer's own weights as numpy arrays in Keras' layout (override with
        `set_own_weights` when the mapping is not a transposition)."""
        arrays = []
        for name, tensor in self._own_named_weights():
            array = tensor.detach().cpu().numpy()
            layout = getattr(tensor, "keras_layout", None)
            arrays.append(np.array(array.transpose(layout) if layout else array, copy=True, order="C"))
        return arrays

    def set_own_weights(self, arrays) -> None:
        """Inverse of `get_own_weights` (shapes already checked by `set_weights`)."""
        with torch.no_grad():
            for (name, tensor), array in zip(self._own_named_weights(), arrays):
                layout = getattr(tensor, "keras_layout", None)
                value = torch.as_tensor(np.asarray(array))
                if layout:
                    value = value.permute(tuple(np.argsort(layout)))
                tensor.copy_(value.to(dtype=tensor.dtype, device=tensor.device))

    def get_weights(self) -> list[np.ndarray]:
        """`weights` as numpy arrays, in Keras' order and layout."""
        arrays = self.get_own_weights()
        for sub in self._sublayers():
            arrays += sub.get_weights() if isinstance(sub, Layer) else [t.detach().cpu().numpy().copy() for t in module_weights(sub)]
        return arrays

    def set_weights(self, weights) -> None:
        """Set every weight from numpy arrays in Keras' order and layout (what a Keras
        layer's ``get_weights()`` returns). Every count and shape is checked before any
        weight changes."""
        arrays = [np.asarray(w) for w in weights]
        expected = self.get_weights()
        if len(arrays) != len(expected):
            raise ValueError(
                f"set_weights on layer {self.name!r} received {len(arrays)} arrays; the layer has {len(expected)} "
                f"weights (shapes {[tuple(e.shape) for e in expected]})."
            )
        for i, (array, reference) in enumerate(zip(arrays, expected)):
            if array.shape != reference.shape:
                raise ValueError(
                    f"set_weights on layer {self.name!r}: weight {i} has shape {tuple(array.shape)}; expected "
                    f"{tuple(reference.shape)} (Keras' layout)."
                )
        self._assign_weights(arrays)

    def _assign_weights(self, arrays) -> list:
        own = len(self.get_own_weights())
        self.set_own_weights(arrays[:own])
        rest = arrays[own:]
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                count = len(sub.get_weights())
                sub._assign_weights(rest[:count])
            else:
                tensors = module_weights(sub)
                count = len(tensors)
                with torch.no_grad():
                    for tensor, array in zip(tensors, rest[:count]):
                        tensor.copy_(torch.as_tensor(array).to(dtype=tensor.dtype, device=tensor.device))
            rest = rest[count:]
        return rest

    # --- Losses -----------------------------------------------------------------------------

    def add_loss(self, value):
        """Add a term to the training objective for the current call (Keras)."""
        self._call_losses.append(value)
        _CallState.holding.add(self)

    def own_losses(self) -> list[torch.Tensor]:
        """This layer's weight penalties and the terms added during the last call."""
        penalties = [regularizer(getattr(self, name)) for name, regularizer in self._weight_regularizers]
        return penalties + list(self._call_losses)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Penalties of this layer and every danlu layer inside it."""
        return [loss for layer in self.modules() if isinstance(layer, Layer) for loss in layer.own_losses()]

    def _clear_call_losses(self):
        """Clear the ``add_loss`` terms of the layers inside this one."""
        inside = {id(m) for m in self.modules()}
        for layer in list(_CallState.holding):
            if id(layer) in inside:
                layer._call_losses.clear()
                _CallState.holding.discard(layer)

    # --- Functional API -----------------------------------------------------------------------

    @property
    def input(self):
        """The symbolic input of the layer's only call in a functional graph."""
        return symbolic.node_of(self, "input").inputs_structure

    @property
    def output(self):
        """The symbolic output of the layer's only call in a functional graph."""
        return symbolic.node_of(self, "output").outputs_structure

    def extra_repr(self) -> str:
        return f"name={self.name!r}" + ("" if self.built else ", unbuilt")


class KernelLayer(Layer):
    """A layer with a kernel, an optional bias and an activation (Dense, Conv1D, Conv2D):
    the Keras options they share, stored and applied once."""

    input_dtype_kind = "float"

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        from danlu import activations

        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        super().__init__(**kwargs)

    def add_kernel_and_bias(self, shape, bias_size, fans, keras_layout=None):
        """Create ``weight`` of ``shape`` (Keras name ``kernel``; Keras fans given
        explicitly, ``keras_layout`` its permutation to Keras' layout) and ``bias``."""
        self.add_weight(shape=shape, initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name="weight", fans=fans, keras_name="kernel", keras_layout=keras_layout)
        if self.use_bias:
            self.add_weight(shape=(bias_size,), initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None


def _is_metric(value) -> bool:
    """A Keras-style metric (danlu's or anyone's): update_state, result and reset_state
    (looked up on the class: attribute sets stay cheap)."""
    cls = type(value)
    return (
        cls.__module__ != "torch" and not isinstance(value, (torch.Tensor, torch.nn.Module, type))
        and hasattr(cls, "update_state") and hasattr(cls, "result") and hasattr(cls, "reset_state")
    )


def _mask_of(inputs):
    """The mask an input carries; for a list of inputs (merge layers), the list of their
    masks, or None when none has one."""
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in inputs]
        return masks if any(m is not None for m in masks) else None
    return getattr(inputs, "_keras_mask", None)


def _attach_mask(outputs, mask):
    if mask is None:
        return
    if isinstance(outputs, torch.Tensor):
        outputs._keras_mask = mask
    elif isinstance(outputs, (list, tuple)) and isinstance(mask, (list, tuple)):
        for output, m in zip(outputs, mask):
            _attach_mask(output, m)


def _activity_penalty(layer: Layer, args, output):
    """Keras 3: the activity penalty of the outputs, divided by the batch size."""
    if isinstance(output, torch.Tensor):
        batch = output.shape[0] if output.ndim else 1
        layer.add_loss(layer.activity_regularizer(output) / max(batch, 1))


_CallState.holding = weakref.WeakSet()
