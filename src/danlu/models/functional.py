"""`Functional`: the model ``danlu.Model(inputs, outputs)`` makes from a recorded graph.

The graph is the nodes between the symbolic ``inputs`` (from `danlu.Input`) and
``outputs``, in an order where every node comes after the nodes it reads. Calling the model
runs the nodes in that order on real tensors (a list walk: no tracing, no per-call
analysis). Layers are registered as submodules (``model.layers``: the input layers first,
then each layer in graph order), so a layer used twice is one set of weights and nested
models are layers like any other. ``get_config`` / ``from_config`` use Keras 3's layout
(each layer with its ``inbound_nodes``) and build *new* layers.
"""

from __future__ import annotations

import operator

import torch

from danlu.layers import symbolic
from danlu.layers.base import Layer
from danlu.layers.input_layer import InputLayer
from danlu.models.model import Model, symbolic_expectation
from danlu.saving import serialization

#: Namespaces whose functions a saved graph may name (nothing else is ever looked up).
FUNCTION_NAMESPACES = {
    "torch": torch, "torch.nn.functional": torch.nn.functional, "torch.special": torch.special,
    "torch.linalg": torch.linalg, "torch.fft": torch.fft, "operator": operator, "torch.Tensor": torch.Tensor,
}


def _topological_nodes(inputs, outputs):
    """The nodes computing ``outputs`` from ``inputs``, each after the nodes it reads; a
    clear error when an output needs an input that is not in ``inputs``."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}

    def visit(tensor, consumer):
        node = tensor.node
        if node is None:
            raise ValueError(f"{tensor} was not made by danlu.Input or a layer call: it cannot be a model's tensor.")
        if id(tensor) in input_ids:
            if node not in state:
                state[node] = "done"
                order.append(node)
            return
        if isinstance(node.operation, InputLayer):
            raise ValueError(
                f"Graph disconnected: the output needs the input {tensor.name!r} (shape {tensor.shape}), which is not "
                f"among the model's inputs ({[t.name for t in inputs]})" + (f"; it reaches layer {consumer!r}." if consumer else ".")
            )
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            raise ValueError("The graph has a cycle.")
        state[node] = "visiting"
        for parent in node.inputs:
            visit(parent, getattr(node.operation, "name", None))
        state[node] = "done"
        order.append(node)

    for output in outputs:
        visit(output, None)
    return order


def _keras_flatten(structure):
    """Keras' ``tree.flatten``: dicts in sorted key order."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _keras_flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in _keras_flatten(value)]
    return [structure]


def _keras_layer_order(nodes, inputs, outputs):
    """The layers in Keras' order (``keras.src.ops.function.map_graph``): by decreasing depth
    (distance to the outputs), ties broken by the order a depth-first walk from the outputs
    first meets them. This order is also the order of ``weights`` / ``get_weights()``, so
    ``model.set_weights(keras_model.get_weights())`` lines up."""
    input_ids = {id(t) for t in inputs}
    first_seen, done = {}, set()

    def walk(tensor):
        node = tensor.node
        if node in done:
            return
        first_seen.setdefault(node.operation, len(first_seen))
        if not isinstance(node.operation, InputLayer) and id(tensor) not in input_ids:
            for parent in node.inputs:
                walk(parent)
        done.add(node)

    for output in outputs:
        walk(output)
    node_depth, operation_depth = {}, {}
    for node in reversed(nodes):  # from the outputs back
        depth = max(node_depth.setdefault(node, 0), operation_depth.get(node.operation, 0))
        operation_depth[node.operation] = node_depth[node] = depth
        for parent in node.parents:
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for tensor in inputs:
        if tensor.node.operation not in operation_depth:  # an input nothing reads
            operation_depth[tensor.node.operation] = 0
            first_seen[tensor.node.operation] = -1
    order = sorted(operation_depth, key=lambda op: (-operation_depth[op], first_seen.get(op, len(first_seen))))
    return [op for op in order if isinstance(op, Layer)]


class Functional(Model):
    """A model from symbolic inputs to outputs: ``danlu.Model(inputs, outputs, name=None)``.

    ``inputs`` / ``outputs`` may be one symbolic tensor, a list, or a dict (names -> tensors).
    Call it with the same structure (a dict keyed by input names works for a list of inputs
    too). ``model.inputs`` / ``model.outputs`` list the symbolic tensors, ``input`` /
    ``output`` give them in the structure given, ``output_names`` names each output (the
    dict keys, or the names of the layers that produce them: for ``loss={"name": ...}``,
    and logs such as ``name_loss``)."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        for argument, value in (("inputs", inputs), ("outputs", outputs)):
            leaves = symbolic.flatten(value)
            if not leaves or not all(isinstance(t, symbolic.KerasTensor) for t in leaves):
                raise TypeError(
                    f"Model({argument}=...) takes symbolic tensors (from danlu.Input and layer calls), a list or a dict "
                    f"of them; received {value!r}."
                )
        symbolic.close_graph()
        self._input_structure, self._output_structure = inputs, outputs
        self.inputs, self.outputs = symbolic.flatten(inputs), symbolic.flatten(outputs)
        for tensor in self.inputs:
            if not isinstance(tensor.node.operation, InputLayer):
                raise ValueError(f"Model inputs must come from danlu.Input; {tensor} is the output of {tensor.node.operation!r}.")
        self._nodes = _topological_nodes(self.inputs, self.outputs)
        ordered = _keras_layer_order(self._nodes, _keras_flatten(inputs), _keras_flatten(outputs))
        names = [layer.name for layer in ordered]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Layer names must be unique in a model; {duplicates} appear more than once.")
        self.layers = torch.nn.ModuleList(ordered)
        self.built = True
        self._compile_steps()

    # --- Structure ----------------------------------------------------------------------------

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._input_structure, dict):
            return list(self._input_structure)
        return [t.node.operation.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._output_structure, dict):
            return list(self._output_structure)
        return [t.node.operation.name if len(t.node.outputs) == 1 else f"{t.node.operation.name}_{t.index}" for t in self.outputs]

    def _sublayers(self):
        return list(self.layers)

    def input_expectations(self):
        return symbolic.map_structure(symbolic_expectation, self._input_structure)

    # --- Running the graph ----------------------------------------------------------------------

    def _compile_steps(self):
        """Turn the nodes into steps: (operation, how to gather its arguments, output keys)."""
        steps = []
        for node in self._nodes:
            if isinstance(node.operation, InputLayer):
                continue
            single = len(node.args) == 1 and not node.kwargs and isinstance(node.args[0], symbolic.KerasTensor)
            gather = id(node.args[0]) if single else (node.args, node.kwargs)
            steps.append((node.operation, single, gather, [id(t) for t in node.outputs], len(node.outputs) == 1))
        self._steps = steps
        self._output_ids = symbolic.map_structure(id, self._output_structure)

    def _bind_inputs(self, inputs) -> dict:
        structure = self._input_structure
        if isinstance(structure, symbolic.KerasTensor):
            if isinstance(inputs, dict):
                if len(inputs) == 1:
                    inputs = next(iter(inputs.values()))
                else:
                    raise ValueError(
                        f"Model {self.name!r} has one input ({structure.name!r}); received a dict with keys {sorted(inputs)}."
                    )
            elif isinstance(inputs, (list, tuple)) and len(inputs) == 1:
                inputs = inputs[0]
            return {id(structure): self._check_input(structure, inputs)}
        if isinstance(structure, dict):
            if not isinstance(inputs, dict):
                raise ValueError(f"Model {self.name!r} takes a dict of inputs with keys {sorted(structure)}; received {type(inputs).__name__}.")
            missing = sorted(set(structure) - set(inputs))
            if missing:
                raise ValueError(f"Model {self.name!r} needs inputs {missing}; received keys {sorted(inputs)}.")
            return {id(t): self._check_input(t, inputs[k]) for k, t in structure.items()}
        tensors = list(structure)
        if isinstance(inputs, dict):
            names = self.input_names
            missing = sorted(set(names) - set(inputs))
            if missing:
                raise ValueError(f"Model {self.name!r} needs inputs {names}; the dict given lacks {missing}.")
            inputs = [inputs[n] for n in names]
        if len(tensors) == 1 and not isinstance(inputs, (list, tuple)):
            inputs = [inputs]  # a one-input list model takes the tensor itself too (Keras)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != len(tensors):
            count = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(f"Model {self.name!r} takes {len(tensors)} inputs ({self.input_names}); received {count}.")
        return {id(t): self._check_input(t, x) for t, x in zip(tensors, inputs)}

    @staticmethod
    def _check_input(expected, value):
        if not isinstance(expected.dtype, torch.dtype):  # a "string" input: text goes to its layer as it is
            return value
        if not isinstance(value, torch.Tensor):
            if isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
                value = torch.as_tensor(value)
            else:
                raise TypeError(f"Input {expected.name!r} must be a tensor; received {type(value).__name__}.")
        if value.ndim == len(expected.shape) - 1 and expected.shape[-1] == 1:
            value = value.unsqueeze(-1)  # Keras' rank adjustment: (batch,) for (batch, 1)
        shape = value.shape
        if len(shape) != len(expected.shape) or any(e is not None and e != d for e, d in zip(expected.shape[1:], shape[1:])):
            raise ValueError(
                f"Input {expected.name!r} expects shape {expected.shape} (None: any size); received {tuple(shape)}."
            )
        return value

    def call(self, inputs):
        values = self._bind_inputs(inputs)
        lookup = values.__getitem__
        for operation, single, gather, output_ids, one in self._steps:
            if single:
                outputs = operation(values[gather])
            else:
                args, kwargs = gather
                resolve = lambda v: lookup(id(v)) if isinstance(v, symbolic.KerasTensor) else v  # noqa: E731
                outputs = operation(*symbolic.map_structure(resolve, args), **symbolic.map_structure(resolve, kwargs))
            if one:
                values[output_ids[0]] = outputs
            else:
                for key, value in zip(output_ids, symbolic.flatten(outputs)):
                    values[key] = value
        return symbolic.map_structure(lookup, self._output_ids)

    # --- Configuration -----------------------------------------------------------------------

    def get_config(self) -> dict:
        """Keras 3's layout: each layer's config with the calls (``inbound_nodes``) that
        wire it, and where the model's inputs and outputs are."""
        node_index = {}
        per_operation = {}
        for node in self._nodes:
            key = id(node.operation)
            node_index[node] = len(per_operation.setdefault(key, []))
            per_operation[key].append(node)
        function_names = {}

        def operation_name(operation):
            if isinstance(operation, Layer):
                return operation.name
            return function_names.setdefault(id(operation), f"function_{len(function_names)}")

        def reference(tensor):
            return [operation_name(tensor.node.operation), node_index[tensor.node], tensor.index]

        def encode(value):
            if isinstance(value, symbolic.KerasTensor):
                return {"__keras_tensor__": reference(value)}
            if isinstance(value, torch.Tensor):
                raise ValueError("A graph with tensor constants in its calls cannot be saved as configuration.")
            if isinstance(value, slice):
                return {"__slice__": [encode(value.start), encode(value.stop), encode(value.step)]}
            if value is Ellipsis:
                return {"__ellipsis__": True}
            if isinstance(value, torch.dtype):
                return {"__dtype__": str(value).removeprefix("torch.")}
            if isinstance(value, (list, tuple)):
                return [encode(v) for v in value]
            if isinstance(value, dict):
                return {str(k): encode(v) for k, v in value.items()}
            return serialization.serialize(value, "a call argument")

        entries, seen = [], set()
        for node in self._nodes:
            operation = node.operation
            if id(operation) in seen:
                continue
            seen.add(id(operation))
            if isinstance(operation, Layer):
                entry = serialization.serialize(operation, f"layer {operation.name!r}")
            else:
                entry = {"class_name": "__function__", "config": {"function": _function_name(operation.function)}}
            entry["name"] = operation_name(operation)
            entry["inbound_nodes"] = [
                {"args": encode(list(n.args)), "kwargs": encode(n.kwargs)} for n in per_operation[id(operation)]
                if not isinstance(operation, InputLayer)
            ]
            entries.append(entry)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": entries,
            "input_layers": symbolic.map_structure(reference, self._input_structure),
            "output_layers": symbolic.map_structure(reference, self._output_structure),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the graph with *new* layers (no weights shared with the original)."""
        operations, produced = {}, {}
        pending = []
        for entry in config["layers"]:
            if entry["class_name"] == "__function__":
                operations[entry["name"]] = _resolve_function(entry["config"]["function"])
            else:
                layer = serialization.deserialize({k: entry[k] for k in ("module", "class_name", "config", "registered_name") if k in entry}, custom_objects)
                operations[entry["name"]] = layer
                if isinstance(layer, InputLayer):
                    produced[(entry["name"], 0)] = [layer._output_tensor]
            for index, call in enumerate(entry.get("inbound_nodes", [])):
                pending.append((entry["name"], index, call))

        def decode(value):
            if isinstance(value, dict):
                if "__keras_tensor__" in value:
                    name, node, index = value["__keras_tensor__"]
                    if (name, node) not in produced:
                        raise KeyError((name, node))
                    return produced[(name, node)][index]
                if "__slice__" in value:
                    return slice(*(decode(v) for v in value["__slice__"]))
                if "__ellipsis__" in value:
                    return Ellipsis
                if "__dtype__" in value:
                    return getattr(torch, value["__dtype__"])
                return {k: decode(v) for k, v in value.items()}
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        while pending:
            progressed = False
            for item in list(pending):
                name, index, call = item
                try:
                    args, kwargs = decode(call["args"]), decode(call["kwargs"])
                except KeyError:
                    continue
                outputs = operations[name](*args, **kwargs)
                produced[(name, index)] = symbolic.flatten(outputs)
                pending.remove(item)
                progressed = True
            if not progressed:
                raise ValueError(f"The saved graph cannot be rebuilt: calls of {sorted({p[0] for p in pending})} never get their inputs.")

        def tensor(reference):
            name, node, index = reference
            return produced[(name, node)][index]

        def structure(value):
            if isinstance(value, dict):
                return {k: structure(v) for k, v in value.items()}
            if isinstance(value, list) and not (len(value) == 3 and isinstance(value[0], str)):
                return [structure(v) for v in value]
            return tensor(value)

        return cls(structure(config["input_layers"]), structure(config["output_layers"]), name=config.get("name"),
                   trainable=config.get("trainable", True))


def _function_name(function) -> str:
    for prefix, namespace in FUNCTION_NAMESPACES.items():
        name = getattr(function, "__name__", None)
        if name and getattr(namespace, name, None) is function:
            return f"{prefix}.{name}"
    raise ValueError(f"The graph calls {function!r}, which cannot be saved as configuration (only torch and operator functions).")


def _resolve_function(qualified: str):
    prefix, _, name = qualified.rpartition(".")
    namespace = FUNCTION_NAMESPACES.get(prefix)
    function = getattr(namespace, name, None) if namespace is not None else None
    if function is None or name.startswith("_"):
        raise ValueError(f"The saved graph names the function {qualified!r}, which danlu does not load.")
    return symbolic.TorchFunction(function)
