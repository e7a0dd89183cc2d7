"""``model.summary()``: each layer, its output shape and parameter count, as Keras prints them.

Shapes come from the model's graph when it has one (functional models, a Sequential with
an `Input`): known before any data. Otherwise from one sample of the inputs the model has
seen (``model.example_input``), recorded by forward hooks. Counts are Keras' (every weight,
buffers such as moving statistics included); frozen weights count as non-trainable.
"""

from __future__ import annotations

import torch

from danlu.layers.base import Layer, module_weights


def _weights(module) -> list[torch.Tensor]:
    return module.weights if isinstance(module, Layer) else module_weights(module)


def _counts(module) -> tuple[int, int]:
    weights = _weights(module)
    trainable = module.trainable_weights if isinstance(module, Layer) else [w for w in weights if w.requires_grad]
    return sum(w.numel() for w in weights), sum(w.numel() for w in trainable)


def _format_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {_format_shape(v)}" for k, v in shape.items())
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _structure_shape(value):
    if hasattr(value, "shape") and not isinstance(value, (list, tuple, dict)):
        return tuple(value.shape)
    if isinstance(value, dict):
        return {k: _structure_shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_structure_shape(v) for v in value]
    return None


def _graph_rows(model, children):
    """(shape, connected-to names) of each layer from the model's own nodes."""
    nodes = getattr(model, "_nodes", None)
    info = {}
    if nodes is not None:
        for node in nodes:
            operation = node.operation
            if not isinstance(operation, Layer):
                continue
            parents = [t.node.operation.name if isinstance(t.node.operation, Layer) else t.node.operation.name for t in node.inputs]
            shape, connected = info.get(id(operation), ([], []))
            shape.append(_structure_shape(node.outputs_structure))
            connected.extend(f"{p}" for p in parents)
            info[id(operation)] = (shape, connected)
        return {k: (s[0] if len(s) == 1 else s, c) for k, (s, c) in info.items()}
    output = getattr(model, "_symbolic_output", None)
    if output is not None:  # a Sequential built from an Input: each layer's last node
        for child in children:
            layer_nodes = getattr(child, "_inbound_nodes", None)
            if layer_nodes:
                info[id(child)] = (_structure_shape(layer_nodes[-1].outputs_structure), [])
            else:
                from danlu.layers import symbolic

                wrapper = symbolic._WRAPPERS.get(id(child))
                if wrapper is not None and wrapper._inbound_nodes:
                    info[id(child)] = (_structure_shape(wrapper._inbound_nodes[-1].outputs_structure), [])
    return info


def _hooked_shapes(model, children):
    """Each child's output shape, recorded by forward hooks while one sample runs."""
    example = model.example_input
    if example is None:
        for module in model.modules():
            shape = getattr(module, "input_shape_arg", None)
            if shape is not None:
                example = torch.zeros((1, *shape), device=next(model.parameters(), torch.zeros(())).device)
                break
    shapes = {}
    if example is None:
        return shapes

    def record(module, args, output):  # returns None: the output is left as it is
        shapes.setdefault(id(module), (_structure_shape(output), []))

    hooks = [c.register_forward_hook(record) for c in children]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    except Exception:  # noqa: BLE001 - a summary never fails because the example does
        pass
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return {k: ((None, *v[0][1:]) if isinstance(v[0], tuple) and v[0] else v[0], v[1]) for k, v in shapes.items()}


def _size(count: int) -> str:
    size = count * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def summary(model, print_fn=None, show_trainable=False):
    print_fn = print_fn or print
    if isinstance(getattr(model, "layers", None), torch.nn.ModuleList):
        children = list(model.layers)
    else:
        children = [m for _, m in model.named_children()]
    rows_info = _graph_rows(model, children) or _hooked_shapes(model, children)
    functional = getattr(model, "_nodes", None) is not None
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else []) + (["Trainable"] if show_trainable else [])
    rows = []
    for index, layer in enumerate(children):
        name = getattr(layer, "name", None) or f"{type(layer).__name__.lower()}_{index}"
        shape, connected = rows_info.get(id(layer), (None, []))
        total, trainable = _counts(layer)
        row = [f"{name} ({type(layer).__name__})", _format_shape(shape), f"{total:,}"]
        if functional:
            row.append(", ".join(dict.fromkeys(connected)) or "-")
        if show_trainable:
            row.append("Y" if getattr(layer, "trainable", True) and (trainable or not total) else "N")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    widths[0] = max(widths[0], 30)
    line = "─" * sum(widths)
    out = [f'Model: "{getattr(model, "name", type(model).__name__)}"', line, "".join(h.ljust(w) for h, w in zip(header, widths)), line]
    out += ["".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    out.append(line)
    total, trainable = _counts(model)
    out += [
        f" Total params: {total:,} ({_size(total)})",
        f" Trainable params: {trainable:,} ({_size(trainable)})",
        f" Non-trainable params: {total - trainable:,} ({_size(total - trainable)})",
        line,
    ]
    print_fn("\n".join(out))
