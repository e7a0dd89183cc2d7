"""`Hashing`: strings or integers hashed into a fixed number of bins."""

from __future__ import annotations

import numpy as np
import torch

from danlu._dtypes import standardize_dtype
from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_positive_int
from danlu.layers.preprocessing import _encoding, _hashes
from danlu.layers.preprocessing._base import PreprocessingLayer
from danlu.layers.preprocessing._inputs import string_array


def as_hash_strings(values: np.ndarray) -> np.ndarray:
    """What Keras hashes: strings as they are, integers in decimal, floats truncated to
    int64 first (``tf.as_string(tf.cast(x, "int64"))``), booleans as ``"true"`` / ``"false"``."""
    if values.dtype == object:
        return values
    if values.dtype.kind == "b":
        return np.where(values, "true", "false").astype(object)
    if values.dtype.kind == "f":
        values = values.astype(np.int64)
    return values.astype(str).astype(object)


def hash_buckets(values: np.ndarray, num_buckets: int, salt=None) -> np.ndarray:
    """``hash(value) % num_buckets`` for each value of ``values`` (see `as_hash_strings`):
    FarmHash Fingerprint64 without ``salt``, SipHash-2-4 keyed by the pair ``salt``; each
    distinct value is hashed once."""
    strings = as_hash_strings(values).reshape(-1).tolist()
    if salt is None:
        buckets = {s: _hashes.fingerprint64(s.encode("utf-8")) % num_buckets for s in dict.fromkeys(strings)}
    else:
        buckets = {s: _hashes.siphash24(salt[0], salt[1], s.encode("utf-8")) % num_buckets for s in dict.fromkeys(strings)}
    return np.fromiter(map(buckets.__getitem__, strings), dtype=np.int64, count=len(strings)).reshape(values.shape)


def hash_inputs(inputs) -> tuple[np.ndarray, torch.device | None]:
    """``inputs`` (strings, or numbers in a tensor / array / list) as a numpy array, and the
    device to return results on."""
    if isinstance(inputs, torch.Tensor):
        return inputs.detach().cpu().numpy(), inputs.device
    array = np.asarray(inputs) if not isinstance(inputs, np.ndarray) else inputs
    if array.dtype.kind in "USO":
        return string_array(array), None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Hashing takes strings or numbers; received an array of {array.dtype}.")
    return array, None


def check_salt(salt):
    if salt is None:
        return None
    if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(isinstance(s, (int, np.integer)) for s in salt):
        return [int(s) for s in salt]
    raise ValueError(f"salt must be an int or a pair of ints; received salt={salt!r}.")


class Hashing(PreprocessingLayer):
    """Hash each value into one of ``num_bins`` bins: ``bin = hash(value) % num_bins``.

    Keras 3.15's arguments and defaults: ``num_bins``, ``mask_value=None`` (when given, bin 0
    is kept for it and the other values hash into bins ``1 .. num_bins - 1``), ``salt=None``
    (an int or a pair of ints: a keyed, "strong" hash), ``output_mode="int"`` (``"one_hot"``,
    ``"multi_hot"``, ``"count"`` encode the bins as `CategoryEncoding` does), ``sparse=False``
    (``True`` is rejected), ``dtype`` (``"int64"`` by default in int mode, or ``"int32"``;
    float32 otherwise).

    The hashes are Keras' exactly (TensorFlow's ``to_hash_bucket_fast`` is FarmHash
    Fingerprint64, ``to_hash_bucket_strong`` SipHash-2-4; both reimplemented here in Python, no
    TensorFlow needed): the same inputs fall in the same bins as in Keras, for strings and
    for numbers (integers are hashed as their decimal strings, floats truncated to integers
    first). Inputs are strings (a list or numpy array of str) or numbers (tensors, arrays,
    lists). Hashing runs on the host: a tensor on an accelerator is copied to the CPU.
    """

    takes_strings = True
    MODES = _encoding.OUTPUT_MODES

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, dtype=None, **kwargs):
        check_positive_int("num_bins", num_bins)
        if output_mode not in self.MODES:
            raise unknown_identifier_error("output_mode", str(output_mode), self.MODES)
        if sparse:
            raise ValueError("sparse=True is not supported: danlu's preprocessing layers return dense tensors (as Keras on torch).")
        if output_mode == "int":
            int_dtype = standardize_dtype(dtype or "int64", "dtype")
            if int_dtype not in (torch.int32, torch.int64):
                raise ValueError(f"With output_mode='int', dtype must be 'int32' or 'int64'; received dtype={dtype!r}.")
            self._int_dtype, policy = int_dtype, None
        else:
            self._int_dtype, policy = None, dtype
        self.num_bins, self.mask_value, self.output_mode, self.sparse = num_bins, mask_value, output_mode, sparse
        self.salt = check_salt(salt)
        super().__init__(dtype=policy, **kwargs)
        self.built = True

    @property
    def output_dtype(self):
        return self._int_dtype

    def call(self, inputs):
        values, device = hash_inputs(inputs)
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = values == self.mask_value
        indices = hash_buckets(values, bins, self.salt)
        if mask is not None:
            indices = np.where(mask, 0, indices + 1)
        indices = torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)).to(device or "cpu")
        if self.output_mode == "int":
            return indices.to(self._int_dtype)
        return _encoding.encode(indices, self.output_mode, self.num_bins, self.dtype_policy.torch_compute_dtype)

    def compute_output_shape(self, input_shape):
        return _encoding.encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        config = super().get_config()
        config["salt"] = self.salt
        return config
