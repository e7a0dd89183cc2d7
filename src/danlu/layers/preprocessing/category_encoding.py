"""`CategoryEncoding`: integer category ids as one-hot, multi-hot or count vectors."""

from __future__ import annotations

from danlu._identifiers import unknown_identifier_error
from danlu._tensors import as_tensor
from danlu._validation import check_positive_int
from danlu.layers.preprocessing import _encoding
from danlu.layers.preprocessing._base import PreprocessingLayer


class CategoryEncoding(PreprocessingLayer):
    """Encode integer ids in ``[0, num_tokens)`` as float vectors of size ``num_tokens``.

    Keras 3.15's arguments and defaults: ``num_tokens`` (required), ``output_mode="multi_hot"``
    (``"one_hot"``: one vector per value; ``"multi_hot"``: 1 where an id occurs in the sample;
    ``"count"``: how often, weighted by ``count_weights`` if given to the call; ``"binary"``
    is the old name of ``"multi_hot"``), ``sparse=False`` (``True`` is rejected: danlu returns
    dense tensors, as Keras' torch backend). Axes as `_encoding` describes: ``(batch, n)``
    gives ``(batch, num_tokens)``; a 1-D input is one sample for multi_hot / count and one id
    per sample for one_hot. An id outside ``[0, num_tokens)`` raises ``ValueError`` (Keras'
    torch backend gives zeros for negative ids and a torch error for large ones).
    """

    MODES = ("one_hot", "multi_hot", "count")

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in self.MODES:
            raise unknown_identifier_error("output_mode", str(output_mode), self.MODES)
        if num_tokens is None:
            raise ValueError("CategoryEncoding needs num_tokens (the number of categories); use IntegerLookup when it is unknown.")
        check_positive_int("num_tokens", num_tokens)
        if sparse:
            raise ValueError("sparse=True is not supported: danlu's preprocessing layers return dense tensors (as Keras on torch).")
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, sparse
        super().__init__(**kwargs)

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"count_weights is used only with output_mode='count'; this layer's output_mode is {self.output_mode!r}.")
        indices = as_tensor(inputs)
        if indices.dtype.is_floating_point:
            indices = indices.long()
        _encoding.check_index_range(indices, self.num_tokens, "CategoryEncoding inputs", "category ids")
        dtype = self.dtype_policy.torch_compute_dtype
        weights = None if count_weights is None else as_tensor(count_weights).to(dtype)
        if weights is not None and tuple(weights.shape) != tuple(indices.shape):
            raise ValueError(f"count_weights must have the shape of the inputs {tuple(indices.shape)}; received {tuple(weights.shape)}.")
        return _encoding.encode(indices, self.output_mode, self.num_tokens, dtype, weights)

    def compute_output_shape(self, input_shape):
        return _encoding.encoded_shape(input_shape, self.output_mode, self.num_tokens)
