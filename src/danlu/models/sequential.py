"""`Sequential`: a stack of layers (danlu layers or any ``torch.nn.Module``)."""

from __future__ import annotations

import torch

from danlu.layers import symbolic
from danlu.layers.base import Layer
from danlu.layers.input_layer import Input, InputLayer
from danlu.models.model import Model, first_layer_expectation, symbolic_expectation


class Sequential(Model):
    """``Sequential([layer, ...])`` or ``.add(layer)``: each layer's output feeds the next.

    Layers may be danlu layers or plain ``torch.nn.Module``s. When the input shape is known —
    ``Sequential([danlu.Input((8,)), ...])``, or ``input_shape=`` on the first layer — every
    layer is built as it is added (``summary()`` shows each output shape before any data);
    otherwise the model builds on its first input. ``model.layers`` excludes the input, as
    in Keras."""

    _builds_its_own_graph = True  # Sequential([Input(...), ...]) is not Model(inputs, outputs)

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or "sequential", trainable=trainable)
        self.layers = torch.nn.ModuleList()
        self._input_tensor = None
        self._symbolic_output = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (an `Input` or `InputLayer` may come first)."""
        if isinstance(layer, (symbolic.KerasTensor, InputLayer)):
            if len(self.layers) or self._input_tensor is not None:
                raise ValueError("Sequential: an Input can only be the first entry.")
            tensor = layer if isinstance(layer, symbolic.KerasTensor) else layer._output_tensor
            self._input_tensor = self._symbolic_output = tensor
            symbolic.close_graph()
            return
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(f"Sequential.add takes a layer (torch.nn.Module); received {type(layer).__name__}.")
        if self._input_tensor is None and not len(self.layers) and getattr(layer, "input_shape_arg", None) is not None:
            self._input_tensor = self._symbolic_output = Input(layer.input_shape_arg)
        layer.train(self.training)
        if self._symbolic_output is not None:
            symbolic.open_graph()
            try:
                self._symbolic_output = layer(self._symbolic_output)
            finally:
                symbolic.close_graph()
        self.layers.append(layer)
        self._layer_cache = None
        self.built = all(not isinstance(m, Layer) or m.built for m in self.layers)

    def pop(self):
        if not len(self.layers):
            raise ValueError("Sequential.pop: there are no layers to remove.")
        layer = self.layers[-1]
        del self.layers[-1]
        self._layer_cache = None
        if self._input_tensor is not None:
            previous = self.layers[-1] if len(self.layers) else None
            self._symbolic_output = self._input_tensor if previous is None else previous._inbound_nodes[-1].outputs_structure
        return layer

    @property
    def inputs(self):
        return None if self._input_tensor is None else [self._input_tensor]

    @property
    def input(self):
        return self._input_tensor

    @property
    def outputs(self):
        return None if self._symbolic_output is None else [self._symbolic_output]

    @property
    def output(self):
        return self._symbolic_output

    def input_expectations(self):
        if self._input_tensor is not None:
            return symbolic_expectation(self._input_tensor)
        return first_layer_expectation(self.layers[0]) if len(self.layers) else None

    def get_config(self):
        layers = list(self.layers)
        if self._input_tensor is not None:
            layers = [self._input_tensor.node.operation, *layers]
        return {"layers": layers, "name": self.name}

    def call(self, inputs):
        # The ModuleList from the module table: ``self.layers`` reaches it only after a
        # failed attribute lookup (~0.5 us a call).
        for layer in self._modules["layers"]._modules.values():
            inputs = layer(inputs)
        return inputs
