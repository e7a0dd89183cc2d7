"""`Input` and `InputLayer`: the entry points of a functional graph (Keras 3)."""

from __future__ import annotations

import torch

from danlu._dtypes import standardize_dtype
from danlu.layers import symbolic
from danlu.layers.base import Layer

#: Keras' dtype name for string inputs (torch has no string tensors: such inputs are lists
#: or numpy arrays of str, taken by the layers that read text).
STRING = "string"


class InputLayer(Layer):
    """The layer behind `Input`: it has no weights; calling a model feeds its input here.

    Keras arguments: ``shape`` (without the batch axis), ``batch_size=None``,
    ``dtype="float32"``, ``name``; ``batch_shape`` instead of both shape and batch size."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, input_tensor=None,
                 optional=False, **kwargs):
        if "input_shape" in kwargs and shape is None:  # tf.keras 2.x spelling
            shape = kwargs.pop("input_shape")
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("Give shape or batch_shape to Input, not both.")
            batch_shape = tuple(batch_shape)
        else:
            if shape is None:
                raise ValueError("Input needs a shape (without the batch axis), e.g. danlu.Input((784,)).")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        for d in batch_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
                raise ValueError(f"Input shape sizes must be non-negative ints or None; received {batch_shape[1:]!r}.")
        super().__init__(name=name, **kwargs)
        self.batch_shape = batch_shape
        self.input_dtype = STRING if dtype == STRING else standardize_dtype(dtype, "dtype") or torch.float32
        self.sparse, self.optional = bool(sparse), optional
        self.built = True
        tensor = symbolic.KerasTensor(batch_shape, self.input_dtype, name=self.name)
        symbolic.Node(self, (), {}, tensor)
        self._inbound_nodes.append(tensor.node)
        self._output_tensor = tensor

    def get_config(self):
        dtype = self.input_dtype if self.input_dtype == STRING else str(self.input_dtype).removeprefix("torch.")
        return {"batch_shape": list(self.batch_shape), "dtype": dtype, "sparse": self.sparse, "name": self.name}

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None, optional=False):  # noqa: N802 - Keras' name
    """A symbolic input: ``danlu.Input((784,))`` is a `KerasTensor` of shape ``(None, 784)``.

    Keras 3's arguments: ``shape`` (without the batch axis), ``batch_size=None``,
    ``dtype=None`` (float32; ``"int64"`` for token ids, ``"string"`` for text), ``sparse``,
    ``batch_shape``, ``name``. Layers called on it record the graph that
    ``danlu.Model(inputs, outputs)`` runs; their weights are created right away."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape, name=name,
                      optional=optional)._output_tensor
