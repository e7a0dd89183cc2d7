"""`StringLookup` and `IntegerLookup`: tokens to indices (and back) through a vocabulary,
given or adapted. The shared rules (index layout, adapt order, tf-idf, persistence) are in
`_index_lookup`."""

from __future__ import annotations

from itertools import repeat

import numpy as np
import torch

from danlu.layers.input_layer import STRING
from danlu.layers.preprocessing._index_lookup import IndexLookup
from danlu.layers.preprocessing._inputs import check_encoding, numeric_tensor, string_array
from danlu.layers.preprocessing.hashing import hash_buckets


def _index_tensor(inputs) -> torch.Tensor:
    indices = numeric_tensor(inputs, "inputs of an inverted lookup")
    if indices.dtype.is_floating_point:
        raise TypeError(f"An inverted lookup takes integer indices; received {indices.dtype}.")
    return indices.long()


class StringLookup(IndexLookup):
    """Map strings to integer indices (``invert=True``: indices back to strings).

    Keras 3.15's arguments and defaults: ``max_tokens=None``, ``num_oov_indices=1``,
    ``mask_token=None``, ``oov_token="[UNK]"``, ``vocabulary=None`` (a list / array of str
    or a file path; or learn it with ``adapt``), ``idf_weights=None``, ``invert=False``,
    ``output_mode="int"`` (int64 indices; ``"one_hot"``, ``"multi_hot"``, ``"count"``,
    ``"tf_idf"``: float32 vectors of ``vocabulary_size()`` entries — Keras' torch backend
    returns int64 for the first three, with the same values), ``pad_to_max_tokens=False``,
    ``sparse=False`` (``True`` is rejected), ``encoding="utf-8"`` (for bytes inputs),
    ``salt=None`` (keys the OOV hash).

    Inputs are strings — a list, a nested list or a numpy array of str, e.g. ``(batch,)`` or
    ``(batch, 1)`` as Keras takes them; torch has no string tensors — and the outputs are
    torch tensors. An inverted lookup returns a numpy array of str of the input's shape
    (Keras on torch returns a list). Several OOV indices hash tokens with FarmHash
    Fingerprint64 (SipHash-2-4 with ``salt``) exactly as Keras does. The index layout, the
    adapt order and tf-idf are described in `_index_lookup`.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False, encoding="utf-8",
                 name=None, salt=None, **kwargs):
        check_encoding(encoding)
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token, oov_token=oov_token,
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         sparse=sparse, pad_to_max_tokens=pad_to_max_tokens, salt=salt, name=name, **kwargs)

    @property
    def takes_strings(self):
        return not self.invert

    @property
    def output_dtype(self):
        return STRING if self.invert else super().output_dtype

    def tokens_of(self, values, argument):
        return string_array(values, argument, self.encoding)

    def find(self, inputs):
        tokens = string_array(inputs, f"{type(self).__name__} inputs", self.encoding)
        flat = tokens.reshape(-1)
        found = np.fromiter(map(self._index.get, flat, repeat(-1)), dtype=np.int64, count=flat.size).reshape(tokens.shape)
        is_mask = None if self.mask_token is None else torch.from_numpy(np.asarray(tokens == self.mask_token, dtype=bool))
        return torch.from_numpy(found), is_mask, tokens

    def oov_buckets(self, keys):
        return torch.from_numpy(hash_buckets(keys, self.num_oov_indices, self.salt))

    def invert_lookup(self, inputs):
        indices = _index_tensor(inputs).cpu().numpy()
        vocabulary = np.array(self.get_vocabulary(), dtype=object)
        inside = (indices >= 0) & (indices < len(vocabulary))
        tokens = np.where(inside, vocabulary[np.clip(indices, 0, len(vocabulary) - 1)], self.oov_token)
        return tokens.astype(str)


class IntegerLookup(IndexLookup):
    """Map integer tokens to contiguous indices (``invert=True``: indices back to tokens).

    Keras 3.15's arguments and defaults: ``max_tokens=None``, ``num_oov_indices=1``,
    ``mask_token=None``, ``oov_token=-1``, ``vocabulary=None``, ``vocabulary_dtype="int64"``
    (the only one), ``idf_weights=None``, ``invert=False``, ``output_mode="int"`` (int64
    indices; ``"one_hot"``, ``"multi_hot"``, ``"count"``, ``"tf_idf"``: float32 vectors),
    ``sparse=False`` (``True`` is rejected), ``pad_to_max_tokens=False``,
    ``oov_method="floormod"`` (several OOV indices: ``token % num_oov_indices``;
    ``"farmhash"``: Keras' hash of the decimal string), ``salt=None`` (with ``"farmhash"``).

    Inputs are integer tensors (any device; the lookup is a sorted search on the device),
    arrays or lists; floats are rejected. See `_index_lookup` for the index layout, the
    adapt order and tf-idf.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup supports only vocabulary_dtype='int64'; received vocabulary_dtype={vocabulary_dtype!r}.")
        if salt is not None and oov_method != "farmhash":
            raise ValueError(f"salt is used only with oov_method='farmhash'; received oov_method={oov_method!r}.")
        for argument, token in (("mask_token", mask_token), ("oov_token", oov_token)):
            if token is not None and (isinstance(token, bool) or not isinstance(token, (int, np.integer))):
                raise ValueError(f"IntegerLookup's {argument} must be an int or None; received {argument}={token!r}.")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=None if mask_token is None else int(mask_token),
                         oov_token=None if oov_token is None else int(oov_token), vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)
        if not self._tokens:
            self.vocabulary_changed()

    def tokens_of(self, values, argument):
        array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        if array.dtype.kind not in "iu" and not (array.dtype.kind == "O" and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array.reshape(-1))):
            raise TypeError(f"IntegerLookup {argument} must be integers; received an array of {array.dtype}.")
        return array.astype(np.int64)

    def vocabulary_changed(self):
        keys = torch.tensor(self._tokens, dtype=torch.int64)
        order = torch.argsort(keys)
        self._set_table("lookup_keys", keys[order])
        self._set_table("lookup_indices", order + self.token_start)
        self._set_table("inverse_table", torch.tensor(self.get_vocabulary(), dtype=torch.int64))

    def _set_table(self, name, tensor):
        if name in self._buffers:
            self.set_state(name, tensor)
        else:
            self.register_buffer(name, tensor, persistent=False)

    def find(self, inputs):
        x = numeric_tensor(inputs, "IntegerLookup inputs")
        if x.dtype.is_floating_point or x.dtype == torch.bool:
            raise TypeError(f"IntegerLookup takes integer tokens; received {x.dtype} (cast the tokens to int first).")
        x = x.long()
        keys, values = self.lookup_keys.to(x.device), self.lookup_indices.to(x.device)
        if keys.numel() == 0:
            found = torch.full_like(x, -1)
        else:
            position = torch.searchsorted(keys, x).clamp(max=keys.numel() - 1)
            found = torch.where(keys[position] == x, values[position], torch.tensor(-1, device=x.device))
        is_mask = None if self.mask_token is None else x == self.mask_token
        return found, is_mask, x

    def oov_buckets(self, keys):
        if self.oov_method == "floormod":
            return torch.remainder(keys, self.num_oov_indices)
        return torch.from_numpy(hash_buckets(keys.cpu().numpy(), self.num_oov_indices, self.salt))

    def invert_lookup(self, inputs):
        indices = _index_tensor(inputs)
        table = self.inverse_table.to(indices.device)
        inside = (indices >= 0) & (indices < table.numel())
        fallback = torch.tensor(-1 if self.oov_token is None else self.oov_token, device=indices.device)
        if table.numel() == 0:
            return fallback.expand_as(indices).clone()
        return torch.where(inside, table[indices.clamp(0, table.numel() - 1)], fallback)

    def get_config(self):
        config = super().get_config()
        if config.get("vocabulary") is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
