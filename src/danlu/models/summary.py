"""``model.summary()``: layers, output shapes and parameter counts, as Keras prints them."""

from __future__ import annotations

import torch


def _count(module, trainable=None):
    params = [p for p in module.parameters() if trainable is None or p.requires_grad == trainable]
    return sum(p.numel() for p in params)


def _format_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return ", ".join(_format_shape(s) for s in shape)
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {_format_shape(v)}" for k, v in shape.items())
    return "(None, " + ", ".join(str(d) for d in shape[1:]) + ")" if len(shape) else "()"


def _example(model):
    """One sample to run through the model: the first training input seen, or zeros of the
    first layer's ``input_shape``."""
    example = model.example_input
    if example is not None:
        return example
    for module in model.modules():
        shape = getattr(module, "input_shape_arg", None)
        if shape is not None:
            return torch.zeros((1, *shape), device=next(model.parameters(), torch.zeros(())).device)
    return None


def _output_shapes(model, children):
    """Each child's output shape, recorded by forward hooks while the example runs."""
    shapes = {}
    example = _example(model)
    if example is None:
        return shapes

    def record(module, args, output):  # returns None: the output is left as it is
        shapes.setdefault(id(module), _shape(output))

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
    return shapes


def _shape(output):
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (list, tuple)):
        return [_shape(o) for o in output]
    if isinstance(output, dict):
        return {k: _shape(v) for k, v in output.items()}
    return None


def summary(model, print_fn=None):
    print_fn = print_fn or print
    children = list(model.layers) if hasattr(model, "layers") and isinstance(model.layers, torch.nn.ModuleList) else [
        m for _, m in model.named_children()
    ]
    shapes = _output_shapes(model, children)
    rows = []
    for index, layer in enumerate(children):
        name = getattr(layer, "name", None) or f"{type(layer).__name__.lower()}_{index}"
        shape = shapes.get(id(layer))
        rows.append((f"{name} ({type(layer).__name__})", _format_shape(shape), f"{_count(layer):,}"))
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(3)]
    widths[0] = max(widths[0], 30)
    line = "─" * sum(widths)
    title = f'Model: "{getattr(model, "name", type(model).__name__)}"'
    out = [title, line, "".join(h.ljust(w) for h, w in zip(header, widths)), line]
    for row in rows:
        out.append("".join(v.ljust(w) for v, w in zip(row, widths)))
    out.append(line)
    total, trainable = _count(model), _count(model, True)
    out += [f" Total params: {total:,}", f" Trainable params: {trainable:,}", f" Non-trainable params: {total - trainable:,}", line]
    print_fn("\n".join(out))
