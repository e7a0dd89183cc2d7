"""``text_dataset_from_directory``: a folder of ``.txt`` files (one sub-folder per class) as a
``DataLoader`` of ``(texts, labels)`` batches."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from danlu._validation import check_int
from danlu.utils import _directory


def text_dataset_from_directory(
    directory, labels="inferred", label_mode="int", class_names=None, batch_size=32, max_length=None, shuffle=True,
    seed=None, validation_split=None, subset=None, follow_links=False, verbose=True,
):
    """A ``DataLoader`` over the ``.txt`` files under ``directory``, yielding ``(texts, labels)``.

    Keras' ``keras.utils.text_dataset_from_directory`` with its defaults, returning a torch
    ``DataLoader`` (instead of a ``tf.data.Dataset``). torch tensors cannot hold strings, so
    a batch's ``texts`` is a **list of str** (Keras' backend-neutral ``format="grain"``
    output), and its ``labels`` a tensor:

    - ``labels``: ``"inferred"`` (one class per sub-folder), ``None`` (texts only: the loader
      yields lists of str), or a list of int labels, one per file in sorted path order.
    - ``label_mode``: ``"int"`` (int32 ``(batch,)``), ``"categorical"`` (float32 one-hot
      ``(batch, num_classes)``), ``"binary"`` (float32 ``(batch, 1)``, exactly 2 classes) or
      ``None``.
    - ``class_names``: the sub-folders to read and their order (default: all, sorted).
    - ``batch_size=32``; ``None`` yields single ``(text, label)`` samples.
    - ``max_length=None``: texts longer than this many characters are cut to it.
    - ``shuffle=True``, ``seed=None``, ``validation_split``, ``subset`` (``"training"``,
      ``"validation"``, ``"both"``), ``follow_links=False``, ``verbose=True``: as in
      `danlu.utils.image_dataset_from_directory` (Keras' shuffle of the file list, a seeded
      reshuffle every epoch, the validation subset the last ``int(validation_split * n)``
      files).

    Files are read as UTF-8 text with universal newlines (``\\r\\n`` -> ``\\n``), as Python's
    ``open`` reads them in Keras' grain path; TensorFlow's path keeps raw bytes and cuts
    ``max_length`` in bytes instead. The loader carries ``class_names`` (and ``file_paths``).
    """
    _directory.check_common_arguments(labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset)
    check_int("max_length", max_length, low=0, allow_none=True, message="an int >= 0 or None")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1e6))
    paths, labels, class_names = _directory.index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose
    )
    return _directory.subset_loaders(
        directory, paths, labels, label_mode, class_names, validation_split, subset, shuffle, seed, batch_size, verbose,
        "text files found in directory {directory!r}. Allowed format: .txt.",
        lambda part_paths, encoded: TextFiles(part_paths, encoded, max_length),
    )


class TextFiles(Dataset):
    """Text files read on access: item ``i`` is ``(text, label)``, or the text alone."""

    def __init__(self, paths, labels, max_length=None):
        self.paths, self.labels, self.max_length = list(paths), labels, max_length

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        with open(self.paths[index], encoding="utf-8") as file:
            text = file.read()
        if self.max_length is not None:
            text = text[: self.max_length]
        return text if self.labels is None else (text, self.labels[index])
