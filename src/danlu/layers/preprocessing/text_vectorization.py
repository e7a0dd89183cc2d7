"""`TextVectorization`: strings to token indices or bag-of-words vectors."""

from __future__ import annotations

import re

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_int
from danlu.layers.preprocessing._base import PreprocessingLayer
from danlu.layers.preprocessing._inputs import check_encoding, adapt_batches, string_array
from danlu.layers.preprocessing.lookup import StringLookup

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
MODES = ("int", "multi_hot", "count", "tf_idf")
#: TensorFlow's ``tf.strings.lower`` changes ASCII letters only.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
#: Keras' punctuation class, ``[!"#$%&()*+,-./:;<=>?@[\]^_`{|}~']``: all ASCII punctuation.
_PUNCTUATION = str.maketrans("", "", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
#: ``tf.strings.split`` splits on ASCII whitespace only (not on U+00A0, U+3000, ...).
_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")


class TextVectorization(PreprocessingLayer):
    """Standardize, split, make n-grams, then look tokens up in a vocabulary.

    Keras 3.15's arguments and defaults: ``max_tokens=None`` (vocabulary size, the padding
    and OOV indices included), ``standardize="lower_and_strip_punctuation"`` (``"lower"``
    and ``"strip_punctuation"``, ASCII only as TensorFlow; ``None``; or a callable taking a
    numpy array of str and returning one, as Keras on torch does), ``split="whitespace"``
    (runs of ASCII whitespace; ``"character"``: Unicode code points; ``None``: each string
    is one token; or a callable taking a 1-D numpy array of str and returning one token list
    per string), ``ngrams=None`` (an int ``n`` for 1..n-grams, or a tuple of sizes; joined by
    a space, all 1-grams first), ``output_mode="int"`` (``"multi_hot"``, ``"count"``,
    ``"tf_idf"``; Keras fails on ``"one_hot"``, which danlu rejects), ``output_sequence_length=None``
    (int mode: pad with 0 or truncate to this length; else pad to the longest in the batch),
    ``pad_to_max_tokens=False``, ``vocabulary=None``, ``idf_weights=None``, ``sparse=False``,
    ``ragged=False`` (both ``True`` rejected: torch tensors are dense), ``encoding="utf-8"``.

    Index 0 is the padding (the mask token ``""``) and 1 the OOV token ``"[UNK]"`` in int
    mode; in the other modes index 0 is ``"[UNK]"``. ``adapt`` learns the vocabulary with
    Keras' order (by frequency, ties by token, both decreasing). Inputs are a list or numpy
    array of str, ``(batch,)`` or ``(batch, 1)``; outputs are int64 ``(batch, length)`` or
    float32 ``(batch, vocabulary_size)`` tensors. The vocabulary (and idf weights) are in
    ``get_config()``; the idf weights also in ``state_dict``.
    """

    takes_strings = True

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None, idf_weights=None,
                 sparse=False, ragged=False, encoding="utf-8", name=None, has_input_vocabulary=None, vocabulary_size=None,
                 **kwargs):
        if not (standardize is None or callable(standardize) or standardize in STANDARDIZE):
            raise unknown_identifier_error("standardize", str(standardize), STANDARDIZE)
        if not (split is None or callable(split) or split in SPLIT):
            raise unknown_identifier_error("split", str(split), SPLIT)
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode == "one_hot":
            raise ValueError("TextVectorization does not support output_mode='one_hot' (Keras fails on it too); "
                             "use 'multi_hot', 'count', 'tf_idf' or 'int'.")
        if output_mode not in MODES:
            raise unknown_identifier_error("output_mode", str(output_mode), MODES)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1)
                or (isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and n >= 1 for n in ngrams))):
            raise ValueError(f"ngrams must be None, a positive int or a tuple of positive ints; received ngrams={ngrams!r}.")
        if ngrams is not None and split is None:
            raise ValueError("ngrams needs split (n-grams are made of the tokens a split produces); received split=None.")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"output_sequence_length is used only with output_mode='int'; received output_mode={output_mode!r}.")
        check_int("output_sequence_length", output_sequence_length, low=1, allow_none=True)
        if sparse or ragged:
            raise ValueError("sparse=True and ragged=True are not supported: danlu returns dense torch tensors.")
        self.max_tokens, self.standardize, self.split, self.ngrams = max_tokens, standardize, split, ngrams
        check_encoding(encoding)
        self.output_mode, self.output_sequence_length, self.encoding = output_mode, output_sequence_length, encoding
        self._widths = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        super().__init__(name=name, **kwargs)
        self.built = True
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights, pad_to_max_tokens=pad_to_max_tokens,
            mask_token="", output_mode=output_mode, encoding=encoding, has_input_vocabulary=has_input_vocabulary,
            name=f"{self.name}_lookup",
        )

    @property
    def output_dtype(self):
        return torch.int64 if self.output_mode == "int" else None

    # --- Preprocessing ------------------------------------------------------------------------

    def preprocess(self, inputs):
        """Standardized strings: a numpy array (``split=None``) or one token list per string."""
        strings = string_array(inputs, "TextVectorization inputs", self.encoding)
        if callable(self.standardize):
            strings = string_array(self.standardize(strings), "the result of standardize", self.encoding)
        else:
            if self.standardize in ("lower", "lower_and_strip_punctuation"):
                strings = _map(strings, lambda s: s.translate(_ASCII_LOWER))
            if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                strings = _map(strings, lambda s: s.translate(_PUNCTUATION))
        if self.split is None:
            return strings
        if strings.ndim > 1:
            if strings.shape[-1] != 1 or strings.ndim > 2:
                raise ValueError(f"TextVectorization splits strings given as (batch,) or (batch, 1); received shape {strings.shape}.")
            strings = strings[:, 0]
        if strings.ndim == 0:
            strings = strings.reshape(1)
        if self.split == "whitespace":
            documents = [_TOKEN.findall(s) for s in strings]
        elif self.split == "character":
            documents = [list(s) for s in strings]
        else:
            documents = [[str(t) for t in tokens] for tokens in self.split(strings)]
        if self._widths is not None:
            documents = [[" ".join(tokens[i: i + n]) for n in self._widths for i in range(len(tokens) - n + 1)] for tokens in documents]
        return documents

    # --- Vocabulary ---------------------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from strings (a list / array, or an iterable of batches)."""
        lookup = self._lookup_layer
        lookup.reset_state()
        batches, whole = adapt_batches(data, steps)
        for batch in batches:
            processed = self.preprocess(batch)
            if isinstance(processed, list):
                lookup.update_documents(processed)
            else:
                lookup.update_state(processed[:, None] if whole and processed.ndim == 1 else processed)
        lookup.finalize_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    # --- call ---------------------------------------------------------------------------------

    def call(self, inputs):
        processed = self.preprocess(inputs)
        lookup = self._lookup_layer
        if not isinstance(processed, list):
            outputs = lookup(processed)
            if self.output_mode == "int" and self.output_sequence_length is not None:
                outputs = _fit_length(outputs, self.output_sequence_length)
            return outputs
        if self.output_mode != "int":
            width = max((len(d) for d in processed), default=0)
            padded = np.array([d + [""] * (width - len(d)) for d in processed], dtype=object).reshape(len(processed), width)
            return lookup(padded)  # the padding "" is the mask token: it counts for nothing
        # int mode: look every token up at once, then lay the rows out padded with 0 (or cut)
        length = self.output_sequence_length or max((len(d) for d in processed), default=0)
        kept = [d[:length] for d in processed]
        flat = np.array([token for document in kept for token in document], dtype=object)
        ids = lookup(flat).numpy() if flat.size else np.zeros(0, dtype=np.int64)
        outputs = np.zeros((len(kept), length), dtype=np.int64)
        rows = np.repeat(np.arange(len(kept)), [len(d) for d in kept])
        columns = np.concatenate([np.arange(len(d)) for d in kept]) if kept else np.zeros(0, dtype=np.int64)
        outputs[rows, columns] = ids
        return torch.from_numpy(outputs)

    def compute_output_shape(self, input_shape):
        batch = tuple(input_shape)[:1] or (None,)
        if self.output_mode == "int":
            if self.split is None:
                shape = tuple(input_shape)
                return shape if self.output_sequence_length is None else shape[:-1] + (self.output_sequence_length,)
            return batch + (self.output_sequence_length,)
        lookup = self._lookup_layer
        depth = lookup.depth if (lookup.pad_to_max_tokens or lookup._vocabulary_set) else None
        return batch + (depth,)

    def get_config(self):
        config = super().get_config()
        lookup = self._lookup_layer.get_config()
        config.pop("vocabulary_size", None)
        config.update(vocabulary=lookup["vocabulary"], idf_weights=lookup["idf_weights"],
                      has_input_vocabulary=lookup["has_input_vocabulary"], ngrams=self.ngrams)
        return config


def _map(strings: np.ndarray, function) -> np.ndarray:
    out = np.empty(strings.shape, dtype=object)
    out.reshape(-1)[:] = [function(s) for s in strings.reshape(-1)]
    return out


def _fit_length(outputs: torch.Tensor, length: int) -> torch.Tensor:
    outputs = outputs[..., :length]
    missing = length - outputs.shape[-1]
    return torch.nn.functional.pad(outputs, (0, missing)) if missing > 0 else outputs
