"""`Sequential`: a stack of layers (danlu layers or any ``torch.nn.Module``)."""

from __future__ import annotations

import torch

from danlu.layers.base import Layer
from danlu.models.model import Model


class Sequential(Model):
    """``Sequential([layer, ...])`` or ``.add(layer)``: each layer's output feeds the next.

    Layers may be danlu layers or plain ``torch.nn.Module``s. Give the first layer
    ``input_shape=`` to build at once; otherwise the model builds on its first input."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name or "sequential")
        self.layers = torch.nn.ModuleList()
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(f"Sequential.add takes a layer (torch.nn.Module); received {type(layer).__name__}.")
        self.layers.append(layer)
        self._layer_cache = None
        self.built = all(not isinstance(m, Layer) or m.built for m in self.layers)

    def pop(self):
        if not len(self.layers):
            raise ValueError("Sequential.pop: there are no layers to remove.")
        layer = self.layers[-1]
        del self.layers[-1]
        self._layer_cache = None
        return layer

    def get_config(self):
        return {"layers": list(self.layers), "name": self.name}

    def call(self, inputs):
        for layer in self.layers:
            inputs = layer(inputs)
        return inputs
