"""`PreprocessingLayer`: what every preprocessing layer shares.

- **State as buffers.** Adapted statistics (a mean, bin boundaries, idf weights) are
  persistent buffers, so ``state_dict()`` and model files carry them. Keras reports only
  some of them as weights (Normalization's ``mean`` / ``variance`` / ``count``; a lookup's
  idf weights are not): `keras_weight_names` lists those, and `get_weights` /
  `set_weights` / `weights` speak exactly Keras' list.
- **Shapes that follow the data.** A vocabulary or a set of bin boundaries has the size
  ``adapt`` found; `set_state` replaces such a buffer, and ``load_state_dict`` adopts the
  saved size of those listed in `resizable_state` (a fresh layer loads an adapted layer's
  state).
- **Symbolic outputs with the right dtype.** Text and lookup layers cannot run on fake
  tensors (torch has no strings), so they define ``compute_output_shape``; their
  `output_dtype` (``int64`` token ids, ``"string"`` for an inverted StringLookup, ...) is
  given to the symbolic output, so the functional API sees what the layer returns.
"""

from __future__ import annotations

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu.layers import symbolic
from danlu.layers.base import Layer


class PreprocessingLayer(Layer):
    """Base of danlu's preprocessing layers (see the module docstring)."""

    #: The buffers Keras counts as this layer's weights (in Keras' order); other buffers are
    #: state carried by ``state_dict`` only.
    keras_weight_names: tuple[str, ...] = ()

    @property
    def output_dtype(self):
        """The dtype of the outputs (a torch dtype, or ``"string"``); ``None``: the compute
        dtype of the layer's policy."""
        return None

    #: Buffers whose size follows the data (``load_state_dict`` adopts the saved size);
    #: the others keep torch's size check.
    resizable_state: tuple[str, ...] = ()

    #: Whether the layer reads strings (then lists and numpy arrays reach ``call`` as they
    #: are); numeric layers receive them as tensors (float64 arrays become float32).
    takes_strings = False

    def __call__(self, *args, **kwargs):
        if args and not self.takes_strings and isinstance(args[0], (np.ndarray, list, tuple, int, float, np.generic)):
            args = (as_tensor(args[0]), *args[1:])
        outputs = super().__call__(*args, **kwargs)
        if isinstance(outputs, symbolic.KerasTensor) and self.output_dtype is not None:
            outputs.dtype = self.output_dtype
        return outputs

    # --- State ------------------------------------------------------------------------------

    def _own_named_weights(self):
        named = super()._own_named_weights()
        return [(n, t) for n, t in named if n not in self._buffers or n in self.keras_weight_names]

    def get_own_weights(self):
        # Keep scalar weights 0-d (Normalization's ``count``), as Keras reports them.
        arrays = super().get_own_weights()
        return [a.reshape(t.shape) for a, (_, t) in zip(arrays, self._own_named_weights())]

    def set_state(self, name: str, value) -> torch.Tensor:
        """Replace buffer ``name`` by ``value`` (any shape), on the device it was on."""
        old = self._buffers.get(name)
        tensor = torch.as_tensor(value)
        if old is not None:
            tensor = tensor.to(device=old.device)
        self._buffers[name] = tensor.detach().clone()
        return self._buffers[name]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for name in self.resizable_state:
            buffer, saved = self._buffers.get(name), state_dict.get(prefix + name)
            if buffer is not None and saved is not None and tuple(saved.shape) != tuple(buffer.shape):
                self._buffers[name] = torch.empty(saved.shape, dtype=buffer.dtype, device=buffer.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        self.state_loaded()

    def state_loaded(self) -> None:
        """Called after ``load_state_dict`` filled the buffers (refresh derived tables)."""
