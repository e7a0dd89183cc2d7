"""`IndexLookup`: the vocabulary machinery of `StringLookup` and `IntegerLookup` (Keras 3.15's
``IndexLookup``), without TensorFlow.

Indices (``output_mode="int"``): ``0`` is the mask token's (when ``mask_token`` is set),
then ``num_oov_indices`` out-of-vocabulary indices, then the vocabulary in order. A token
outside the vocabulary takes the OOV index (with several: ``hash(token) % num_oov_indices``
past the first OOV index; integers use ``token % num_oov_indices`` unless
``oov_method="farmhash"``); with ``num_oov_indices=0`` it is an error. In the other modes
the mask takes no index (masked tokens are dropped) and the outputs have
``vocabulary_size()`` entries (``max_tokens`` with ``pad_to_max_tokens=True``).

``adapt`` counts tokens and keeps the most frequent (``max_tokens`` minus the special
indices), ordered by count, ties by token, both decreasing (Keras' order); the mask and OOV
tokens are never learned. For ``"tf_idf"`` it also counts in how many documents (rows) each
token appears: ``idf = log(1 + num_documents / (1 + document_count))``, the OOV entries
taking the mean idf.

Persistence: the vocabulary travels in ``get_config()`` (with the special tokens, so that
``from_config`` rebuilds the same indices; also after ``adapt``, where Keras writes an asset
file instead), the idf weights as the ``idf_weights`` buffer (``state_dict``) and in the
config. None of these is a Keras weight (``get_weights()`` is empty, as in Keras).
"""

from __future__ import annotations

import collections
import math
import os

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_int
from danlu.layers.preprocessing import _encoding
from danlu.layers.preprocessing._base import PreprocessingLayer
from danlu.layers.preprocessing._inputs import adapt_batches

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(PreprocessingLayer):
    """Base of `StringLookup` and `IntegerLookup` (see the module docstring). A subclass
    gives `tokens_of` (values as a numpy array of tokens), `find` (indices of the
    vocabulary, -1 when absent), `oov_buckets` and `invert_lookup`."""

    resizable_state = ("idf_weights",)

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None, vocabulary=None, idf_weights=None,
                 invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False, oov_method="floormod", salt=None,
                 has_input_vocabulary=None, vocabulary_size=None, **kwargs):
        if max_tokens is not None:
            check_int("max_tokens", max_tokens, low=2, message="an int greater than 1 (or None)")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("pad_to_max_tokens=True needs max_tokens.")
        check_int("num_oov_indices", num_oov_indices, low=0)
        if oov_method not in ("floormod", "farmhash"):
            raise unknown_identifier_error("oov_method", str(oov_method), ("floormod", "farmhash"))
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in OUTPUT_MODES:
            raise unknown_identifier_error("output_mode", str(output_mode), OUTPUT_MODES)
        if invert and output_mode != "int":
            raise ValueError(f"invert=True needs output_mode='int'; received output_mode={output_mode!r}.")
        if sparse:
            raise ValueError("sparse=True is not supported: danlu's preprocessing layers return dense tensors (as Keras on torch).")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"idf_weights is used only with output_mode='tf_idf'; received output_mode={output_mode!r}.")
        self.max_tokens, self.num_oov_indices, self.invert = max_tokens, int(num_oov_indices), bool(invert)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.output_mode, self.sparse, self.pad_to_max_tokens = output_mode, sparse, bool(pad_to_max_tokens)
        self.oov_method, self.salt = oov_method, self._check_salt(salt)
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None else bool(has_input_vocabulary)
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError("With output_mode='tf_idf', a vocabulary needs its idf_weights.")
        super().__init__(**kwargs)
        self.built = True
        self._tokens: list = []
        self._index: dict = {}
        self._vocabulary_set = False
        if output_mode == "tf_idf":
            self.register_buffer("idf_weights", torch.zeros(0, dtype=torch.float32))
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def _check_salt(self, salt):
        from danlu.layers.preprocessing.hashing import check_salt

        return check_salt(salt)

    # --- Subclass hooks ---------------------------------------------------------------------

    def tokens_of(self, values, argument) -> np.ndarray:
        raise NotImplementedError

    def find(self, inputs):
        """``(indices, is_mask, keys)``: int64 indices of ``inputs`` in the vocabulary (-1 when
        absent), a bool mask of the mask token (or None), and what `oov_buckets` hashes."""
        raise NotImplementedError

    def oov_buckets(self, keys) -> torch.Tensor:
        raise NotImplementedError

    def invert_lookup(self, indices: torch.Tensor):
        raise NotImplementedError

    def vocabulary_changed(self) -> None:
        """Called after the vocabulary changed (rebuild lookup tables)."""

    # --- Vocabulary -------------------------------------------------------------------------

    @property
    def oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    @property
    def token_start(self) -> int:
        return self.oov_start + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: special ones (mask, OOV) and the vocabulary."""
        return self.token_start + len(self._tokens)

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The token of each index (``include_special_tokens=False``: the vocabulary only)."""
        special = [self.mask_token] * self.oov_start + [self.oov_token] * self.num_oov_indices
        return (special if include_special_tokens else []) + list(self._tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary: a list / array / tensor of tokens, with or without the
        special tokens at its start (in order: mask, OOV), or the path of a text file with one
        token per line; ``idf_weights`` (tf_idf only, required there) of the same length."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("With output_mode='tf_idf', set_vocabulary() needs idf_weights.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"idf_weights is used only with output_mode='tf_idf'; this layer's output_mode is {self.output_mode!r}.")
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = self._read_vocabulary_file(vocabulary)
        tokens = self.tokens_of(vocabulary, "vocabulary").reshape(-1)
        if tokens.size == 0:
            raise ValueError("Cannot set an empty vocabulary.")
        special = [self.mask_token] * self.oov_start + [self.oov_token] * self.num_oov_indices
        given = tokens.tolist()
        found_special = given[: self.token_start] == special
        learned = given[self.token_start:] if found_special else given
        repeated = sorted((t for t, n in collections.Counter(learned).items() if n > 1), key=str)
        if repeated:
            raise ValueError(f"The vocabulary has repeated tokens: {repeated[:10]}. Give each token once.")
        for name, token, applies in (("mask_token", self.mask_token, True), ("oov_token", self.oov_token, self.invert)):
            if applies and token is not None and token in learned:
                raise ValueError(
                    f"The {name} {token!r} is in the vocabulary at index {given.index(token)}: leave the special tokens "
                    f"out of the vocabulary, or put all of them first, in this order: {special}."
                )
        if self.max_tokens is not None and self.token_start + len(learned) > self.max_tokens:
            raise ValueError(f"The vocabulary has {self.token_start + len(learned)} entries (with the special tokens); "
                             f"max_tokens is {self.max_tokens}.")
        if self.output_mode == "tf_idf":
            self._set_idf(idf_weights, len(given), found_special)
        self._set_tokens(learned)

    def _set_idf(self, idf_weights, vocabulary_length, found_special):
        weights = idf_weights.detach().cpu().numpy() if isinstance(idf_weights, torch.Tensor) else np.asarray(idf_weights)
        if weights.ndim != 1 or len(weights) != vocabulary_length:
            raise ValueError(f"idf_weights must be 1-D with one weight per vocabulary entry ({vocabulary_length}); "
                             f"received shape {weights.shape}.")
        front = 0 if found_special else self.token_start
        front_value = 0 if found_special else np.average(weights)
        back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
        padded = np.pad(weights, (front, back), "constant", constant_values=(front_value, 0))
        self.set_state("idf_weights", torch.as_tensor(padded.astype(np.float32)))

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        self._index = {token: self.token_start + i for i, token in enumerate(self._tokens)}
        self._vocabulary_set = True
        self.vocabulary_changed()

    def _read_vocabulary_file(self, path):
        if self.output_mode == "tf_idf":
            raise ValueError("output_mode='tf_idf' cannot read its vocabulary from a file (the idf weights are needed).")
        if not os.path.exists(path):
            raise ValueError(f"The vocabulary file {str(path)!r} does not exist.")
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    # --- adapt ------------------------------------------------------------------------------

    def adapt(self, data, steps=None):
        """Learn the vocabulary from ``data``: an array / tensor / list of tokens (each row, or
        each token of a 1-D input, is a document for tf_idf) or an iterable of batches (each
        1-D batch is one document, as in Keras)."""
        self.reset_state()
        batches, whole = adapt_batches(data, steps)
        for batch in batches:
            tokens = self.tokens_of(batch, "adapt data")
            if whole and tokens.ndim == 1:
                tokens = tokens[:, None]
            self.update_state(tokens)
        self.finalize_state()

    def reset_state(self):
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    def update_state(self, data):
        """Count the tokens of one batch (its rows are documents)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Layer {self.name!r} was given its vocabulary; it cannot be adapted.")
        tokens = self.tokens_of(data, "adapt data") if not isinstance(data, np.ndarray) else data
        if tokens.ndim < 2:
            tokens = tokens.reshape(1, -1)
        self.update_documents(tokens.reshape(tokens.shape[0], -1).tolist())

    def update_documents(self, documents):
        """Count the tokens of ``documents`` (a list of token lists; rows may differ in length)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Layer {self.name!r} was given its vocabulary; it cannot be adapted.")
        for document in documents:
            self._counts.update(document)
        if self.output_mode == "tf_idf":
            for document in documents:
                self._document_counts.update(set(document))
            self._num_documents += len(documents)

    def finalize_state(self):
        """Turn the counts into the vocabulary (and idf weights)."""
        if self._has_input_vocabulary or not self._counts:
            self._vocabulary_set = self._vocabulary_set or not self._has_input_vocabulary
            return
        for special in (self.mask_token, self.oov_token):
            self._counts.pop(special, None)
        ordered = sorted(self._counts, key=lambda token: (self._counts[token], token), reverse=True)
        if self.max_tokens:
            ordered = ordered[: self.max_tokens - self.token_start]
        if self.output_mode == "tf_idf":
            counts = np.array([self._document_counts[t] for t in ordered], dtype=np.float64)
            idf = np.log(1 + self._num_documents / (1 + counts)).astype(np.float32)
            mean = float(idf.mean(dtype=np.float64)) if idf.size else math.nan
            back = self.max_tokens - self.token_start - len(idf) if self.pad_to_max_tokens else 0
            padded = np.pad(idf, (self.token_start, back), "constant", constant_values=(mean, 0))
            self.set_state("idf_weights", torch.as_tensor(padded.astype(np.float32)))
        self._set_tokens(ordered)
        self.reset_state()

    # --- call -------------------------------------------------------------------------------

    @property
    def depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def call(self, inputs):
        if self.invert:
            return self.invert_lookup(inputs)
        if self.output_mode != "int" and not self.pad_to_max_tokens and not self._vocabulary_set:
            raise ValueError(f"Layer {self.name!r} with output_mode={self.output_mode!r} needs its vocabulary before it is called: "
                             "pass vocabulary= or call adapt() first (or set pad_to_max_tokens=True).")
        if self.output_mode == "tf_idf" and self.idf_weights.numel() != self.depth:
            raise ValueError(f"Layer {self.name!r} has no idf weights for its vocabulary: adapt it or give idf_weights.")
        indices, is_mask, keys = self.find(inputs)
        depth = self.depth
        if is_mask is not None:
            indices = torch.where(is_mask, torch.tensor(0 if self.output_mode == "int" else depth, device=indices.device), indices)
        absent = indices < 0
        if self.num_oov_indices == 0:
            self._check_no_oov(absent, keys)
        elif self.num_oov_indices == 1:
            indices = torch.where(absent, torch.tensor(self.oov_start, device=indices.device), indices)
        else:
            indices = torch.where(absent, self.oov_buckets(keys).to(indices.device) + self.oov_start, indices)
        if self.output_mode == "int":
            return indices
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        outputs = _encoding.encode(indices, mode, depth, self.dtype_policy.torch_compute_dtype)
        if self.output_mode == "tf_idf":
            outputs = outputs * self.idf_weights.to(device=outputs.device, dtype=outputs.dtype)
        return outputs

    def _check_no_oov(self, absent, keys):
        if absent.device.type != "cpu":
            torch._assert_async(~absent.any(), "With num_oov_indices=0 every input must be in the vocabulary.")
            return
        if bool(absent.any()):
            values = np.asarray(keys.cpu() if isinstance(keys, torch.Tensor) else keys)[absent.cpu().numpy()]
            raise ValueError(f"With num_oov_indices=0 every input must be in the vocabulary; found {values.tolist()[:10]} "
                             "(set num_oov_indices=1 to map unknown tokens to an OOV index).")

    @property
    def output_dtype(self):
        return torch.int64 if self.output_mode == "int" else None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.depth if (self.pad_to_max_tokens or self._vocabulary_set) else None
        return _encoding.encoded_shape(input_shape, "count" if self.output_mode == "tf_idf" else self.output_mode, depth)

    def get_config(self):
        config = super().get_config()
        config.pop("vocabulary_size", None)
        known = self._vocabulary_set and self._tokens
        config["vocabulary"] = self.get_vocabulary() if known else None
        config["idf_weights"] = self.idf_weights[: self.vocabulary_size()].tolist() if known and self.output_mode == "tf_idf" else None
        config["has_input_vocabulary"] = self._has_input_vocabulary
        return config
