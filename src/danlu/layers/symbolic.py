"""Symbolic tensors (`KerasTensor`) and the nodes that record a functional graph.

``danlu.Input(shape)`` returns a `KerasTensor`: a shape (batch axis ``None`` unless given)
and a dtype, no data. Calling a layer on symbolic tensors builds the layer for that shape
(weights are created now, not on a first batch), infers the output shape and records a
`Node` (the layer, its arguments, its outputs); ``danlu.Model(inputs, outputs)`` replays the
nodes between them. Torch functions and Python operators applied to symbolic tensors
(``torch.cat([a, b], 1)``, ``a + b``, ``x[:, 0]``) are recorded as nodes too, so a Keras
program's ``keras.ops`` calls become torch calls.

Output shapes come from a layer's ``compute_output_shape`` when it defines one, else from
running the layer on fake tensors (``torch._subclasses.FakeTensorMode``: shapes and dtypes
only, no memory, no computation), with a placeholder batch size.
"""

from __future__ import annotations

import contextlib
import operator

import torch

#: The sizes given to unknown (None) axes of fake inputs: the graph is run twice, with each
#: set, and output axes whose sizes differ between the two runs are unknown too.
FAKE_SIZES = ((2, 16), (3, 19))  # (batch axis, other axes)

class KerasTensor:
    """A symbolic tensor of a functional graph: ``shape`` (``None`` for unknown sizes),
    ``dtype`` (a torch dtype), ``name``; produced by `danlu.Input` or by a recorded call."""

    def __init__(self, shape, dtype=torch.float32, name=None, node=None, index=0):
        open_graph()
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        dtype = str(self.dtype).removeprefix("torch.")
        return f"<KerasTensor shape={self.shape}, dtype={dtype}, name={self.name}>"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError("A symbolic tensor has no value: it cannot be used as a condition while building a model.")

    # Torch functions and operators on symbolic tensors become nodes of the graph.
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if any(isinstance(t, torch.nn.Parameter) for t in flatten((args, kwargs))):
            raise TypeError(
                f"{getattr(func, '__name__', func)} received a symbolic tensor and a module's weights: a torch module "
                "was called on a symbolic tensor after its model was made. Wrap it, "
                "danlu.layers.TorchModuleWrapper(module)(x), or call it before danlu.Model(...)."
            )
        return record_function(func, args, kwargs)

    def _op(name):  # noqa: N805 - builds the operator methods below
        function = getattr(operator, name)

        def method(self, *others):
            return record_function(function, (self, *others), {})

        method.__name__ = f"__{name}__"
        return method

    def _rop(name):  # noqa: N805
        function = getattr(operator, name)

        def method(self, other):
            return record_function(function, (other, self), {})

        method.__name__ = f"__r{name}__"
        return method

    __add__, __sub__, __mul__, __truediv__, __floordiv__ = _op("add"), _op("sub"), _op("mul"), _op("truediv"), _op("floordiv")
    __matmul__, __pow__, __mod__, __getitem__ = _op("matmul"), _op("pow"), _op("mod"), _op("getitem")
    __lt__, __le__, __gt__, __ge__ = _op("lt"), _op("le"), _op("gt"), _op("ge")
    __neg__, __abs__, __invert__ = _op("neg"), _op("abs"), _op("invert")
    __radd__, __rsub__, __rmul__, __rtruediv__ = _rop("add"), _rop("sub"), _rop("mul"), _rop("truediv")
    __rmatmul__, __rpow__ = _rop("matmul"), _rop("pow")
    del _op, _rop

    def __getattr__(self, name):
        # Tensor methods (x.reshape(...), x.mean(1), ...) are recorded as torch functions.
        if name.startswith("_") or not hasattr(torch.Tensor, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        method = getattr(torch.Tensor, name)

        def recorded(*args, **kwargs):
            return record_function(method, (self, *args), kwargs)

        return recorded


class Node:
    """One recorded call: ``operation(*args, **kwargs) -> outputs``, where ``args`` and
    ``kwargs`` hold `KerasTensor`s (and constants)."""

    def __init__(self, operation, args, kwargs, outputs):
        self.operation = operation
        self.args, self.kwargs = args, kwargs
        self.outputs_structure = outputs
        self.outputs = flatten(outputs)
        for index, tensor in enumerate(self.outputs):
            tensor.node, tensor.index = self, index
        self.inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        self.inputs_structure = args[0] if len(args) == 1 and not kwargs else args

    @property
    def parents(self) -> list["Node"]:
        return [t.node for t in self.inputs if t.node is not None]


class TorchFunction:
    """A torch function or operator recorded in a graph (not a layer: no weights)."""

    def __init__(self, function):
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)

    def __call__(self, *args, **kwargs):
        if is_symbolic((args, kwargs)):
            return record_function(self.function, args, kwargs)
        return self.function(*args, **kwargs)

    def __repr__(self):
        return f"<TorchFunction {self.name}>"


def flatten(structure) -> list:
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in flatten(value)]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


def is_symbolic(value) -> bool:
    """Whether ``value`` is (or holds, in a list / tuple / dict) a `KerasTensor`."""
    if isinstance(value, KerasTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(is_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(is_symbolic(v) for v in value.values())
    return False


def shape_of(value):
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else None, value)


# --- Fake execution ---------------------------------------------------------------------------


@contextlib.contextmanager
def _fake_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        yield mode


def _fake_inputs(structure, sizes=FAKE_SIZES[0]):
    batch, other = sizes

    def fake(value):
        if not isinstance(value, KerasTensor):
            return value
        shape = [(batch if i == 0 else other) if d is None else d for i, d in enumerate(value.shape)]
        return torch.empty(shape, dtype=value.dtype)

    return map_structure(fake, structure)


def _to_symbolic(outputs, reference=None):
    """Symbolic tensors for fake ``outputs``; axes whose sizes differ from the same output
    of the ``reference`` run (made with other sizes for the unknown axes) are unknown."""
    flat_reference = None if reference is None else flatten(reference)
    position = iter(range(len(flatten(outputs))))

    def symbolic(value):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"a graph operation returned {type(value).__name__}; only tensors (or lists / dicts of them) can flow")
        shape = list(value.shape)
        i = next(position)
        if flat_reference is not None:
            other = flat_reference[i].shape
            shape = [None if len(other) == len(shape) and other[k] != d else d for k, d in enumerate(shape)]
        return KerasTensor(shape, value.dtype)

    return map_structure(symbolic, outputs)


def _run_fake(function, args, kwargs, modules=()):
    """``function`` on fake versions of the symbolic arguments, once per set of
    `FAKE_SIZES` when some axis is unknown; returns the symbolic outputs. Side effects on
    layers (the ``add_loss`` terms a call records) are undone."""
    saved = [(layer, list(layer._call_losses)) for layer in modules]
    unknown = any(d is None for t in flatten((args, kwargs)) if isinstance(t, KerasTensor) for d in t.shape)
    try:
        runs = []
        for sizes in FAKE_SIZES[: 2 if unknown else 1]:
            with _fake_mode(), torch.no_grad():
                runs.append(function(*_fake_inputs(args, sizes), **_fake_inputs(kwargs, sizes)))
    finally:
        for layer, losses in saved:
            layer._call_losses[:] = losses
    return _to_symbolic(runs[0], runs[1] if len(runs) > 1 else None)


def infer_output(layer, input_shape):
    """A layer's output shape for ``input_shape``, by running it on fake tensors."""
    args = (map_structure(lambda s: KerasTensor(s) if s is not None else None, input_shape) if _is_shape(input_shape) else input_shape,)
    outputs = _infer_layer(layer, args, {})
    return map_structure(lambda t: t.shape, outputs)


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _infer_layer(layer, args, kwargs):
    from danlu.layers.base import Layer

    modules = [m for m in layer.modules() if isinstance(m, Layer)]
    try:
        return _run_fake(layer, args, kwargs, modules)
    except Exception as error:  # noqa: BLE001 - reported with what was being built
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) cannot be called on inputs of shape "
            f"{_describe(args, kwargs)}: {type(error).__name__}: {error}"
        ) from error


def _describe(args, kwargs):
    shapes = [shape_of(a) for a in args] + [f"{k}={shape_of(v)}" for k, v in kwargs.items() if is_symbolic(v)]
    return ", ".join(str(s) for s in shapes)


# --- Recording ----------------------------------------------------------------------------------


def call_symbolically(layer, args, kwargs):
    """``layer(*args, **kwargs)`` on symbolic tensors: build the layer for their shapes,
    infer its outputs, record the node; returns the symbolic outputs."""
    kwargs = dict(kwargs)
    kwargs.pop("training", None)  # decided when the model runs
    if not layer.built:
        try:
            layer.build_from_shape(shape_of(args[0]))
        except Exception as error:  # noqa: BLE001
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) cannot be built for inputs of shape "
                f"{_describe(args, kwargs)}: {type(error).__name__}: {error}"
            ) from error
    try:  # fake tensors give shapes, dtypes and structure exactly as the layer computes them
        outputs = _infer_layer(layer, args, kwargs)
    except ValueError:
        if getattr(layer, "compute_output_shape").__func__ is _default_compute_output_shape():
            raise
        # layers that cannot run on fake tensors (text) say their shapes themselves
        shapes = layer.compute_output_shape(shape_of(args[0]))
        dtype = layer.dtype_policy.torch_compute_dtype
        outputs = KerasTensor(shapes, dtype) if _is_shape(shapes) else map_structure(lambda s: KerasTensor(s, dtype), shapes)
    node = Node(layer, args, kwargs, outputs)
    layer._inbound_nodes.append(node)
    for i, tensor in enumerate(node.outputs):
        tensor.name = layer.name if len(node.outputs) == 1 else f"{layer.name}_{i}"
    return outputs


def _default_compute_output_shape():
    from danlu.layers.base import Layer

    return Layer.compute_output_shape


def record_function(function, args, kwargs):
    """A torch function or operator applied to symbolic tensors, recorded as a node."""
    operation = TorchFunction(function)
    try:
        outputs = _run_fake(function, args, kwargs)
    except Exception as error:  # noqa: BLE001
        raise ValueError(
            f"{operation.name} cannot be applied to symbolic inputs of shape {_describe(args, kwargs)}: "
            f"{type(error).__name__}: {error}"
        ) from error
    Node(operation, args, kwargs, outputs)
    return outputs


def node_of(layer, what: str) -> Node:
    """The layer's only node (``layer.input`` / ``layer.output`` need exactly one)."""
    nodes = layer._inbound_nodes
    if not nodes:
        raise AttributeError(f"Layer {layer.name!r} has no {what}: it has not been called on a symbolic input (danlu.Input).")
    if len(nodes) > 1:
        raise AttributeError(
            f"Layer {layer.name!r} has been called {len(nodes)} times (a shared layer), so its {what} is ambiguous; "
            f"use the tensors its calls returned."
        )
    return nodes[0]


# --- Plain torch modules called on symbolic tensors ---------------------------------------------
#
# While a graph is being built (from the first `danlu.Input` to the `danlu.Model` made of it),
# two global module hooks let any torch.nn.Module be called on symbolic tensors: the pre-hook
# gives its forward fake tensors instead, the post-hook turns the fake outputs into symbolic
# ones and records the call as a node of a `TorchModuleWrapper` (one per module, so a module
# used twice shares its weights). The hooks are removed when the model is made: global hooks
# would slow every module call in the process.

_HOOKS: list = []
_PENDING: dict[int, list] = {}
_WRAPPERS = {}


def open_graph() -> None:
    """Start accepting plain torch modules on symbolic tensors (idempotent)."""
    if not _HOOKS:
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

        _HOOKS.extend([register_module_forward_pre_hook(_before_module), register_module_forward_hook(_after_module)])


def close_graph() -> None:
    """Stop accepting them (a model has been made; training must not pay for the hooks)."""
    while _HOOKS:
        _HOOKS.pop().remove()


def _before_module(module, args):
    from danlu.layers.base import Layer

    if isinstance(module, Layer) or not is_symbolic(args):
        return None
    wrapper = wrapper_for(module)
    _PENDING.setdefault(id(module), []).append(call_symbolically(wrapper, args, {}))
    with _fake_mode():
        return tuple(_fake_inputs(list(args)))  # the forward that follows runs on fake tensors


def _after_module(module, args, outputs):
    stack = _PENDING.get(id(module))
    if not stack:
        return None
    symbolic_outputs = stack.pop()
    if not stack:
        del _PENDING[id(module)]
    return symbolic_outputs


def wrapper_for(module):
    """The `TorchModuleWrapper` of ``module`` (the same one every time)."""
    from danlu.layers.torch_module import TorchModuleWrapper

    wrapper = _WRAPPERS.get(id(module))
    if wrapper is None or wrapper.module is not module:
        wrapper = TorchModuleWrapper(module)
        _WRAPPERS[id(module)] = wrapper
    return wrapper
