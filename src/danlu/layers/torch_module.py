"""`TorchModuleWrapper`: any ``torch.nn.Module`` as a danlu layer (Keras 3's name)."""

from __future__ import annotations

import torch

from danlu.layers.base import Layer


class TorchModuleWrapper(Layer):
    """A plain ``torch.nn.Module`` inside a danlu model: its weights are the model's, its
    ``forward`` is the layer's call. Modules called on symbolic tensors while a functional
    model is built are wrapped automatically; wrap by hand to call one later. Its weights
    keep PyTorch's layout in `get_weights`. It has no configuration (rebuild it in code)."""

    def __init__(self, module, name=None, **kwargs):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"TorchModuleWrapper wraps a torch.nn.Module; received {type(module).__name__}.")
        super().__init__(name=name, **kwargs)
        self.module = module
        self.built = True

    def call(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def get_config(self):
        raise ValueError(
            f"Layer {self.name!r} wraps a plain {type(self.module).__name__} module, which has no configuration: "
            "save the weights (save_weights) and rebuild the model in code."
        )
