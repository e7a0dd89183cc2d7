"""What ``image_dataset_from_directory`` and ``text_dataset_from_directory`` share: argument
checks, the file index with its labels and class names, the training / validation split,
and the label encodings, all as Keras 3.15 does them."""

from __future__ import annotations

import os

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_positive_int
from danlu.utils._loader import make_loader

LABEL_MODES = ("int", "categorical", "binary")
SUBSETS = ("training", "validation", "both")


def check_common_arguments(labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset):
    """Keras' checks of the arguments both directory readers take, with danlu's messages."""
    if not (isinstance(labels, str) and labels == "inferred") and labels is not None:
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                "labels must be 'inferred' (from the sub-folder names), None (no labels) or a list / tuple of int "
                f"labels, one per file in sorted path order; received labels={labels!r}."
            )
        if class_names:
            raise ValueError(
                f"class_names can only be given with labels='inferred'; received labels={labels!r} and "
                f"class_names={class_names!r}."
            )
    if label_mode is not None and label_mode not in LABEL_MODES:
        raise unknown_identifier_error("label_mode", str(label_mode), LABEL_MODES)
    if class_names is not None and (
        not isinstance(class_names, (list, tuple)) or not all(isinstance(name, str) for name in class_names)
    ):
        raise TypeError(f"class_names must be a list of sub-folder names (str); received class_names={class_names!r}.")
    check_positive_int("batch_size", batch_size, allow_none=True, message="a positive int or None")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool; received shuffle={shuffle!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None; received seed={seed!r}.")
    if validation_split is not None and (
        isinstance(validation_split, bool) or not isinstance(validation_split, (int, float))
    ):
        raise TypeError(f"validation_split must be a float in (0, 1) or None; received {validation_split!r}.")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1); received validation_split={validation_split}.")
    if subset is not None and subset not in SUBSETS:
        raise unknown_identifier_error("subset", str(subset), SUBSETS)
    if bool(validation_split) != bool(subset):
        raise ValueError(
            "validation_split and subset go together: give both or neither; received "
            f"validation_split={validation_split!r} and subset={subset!r}."
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "With validation_split and shuffle=True, pass a seed: the training and the validation subsets are "
            "drawn in separate calls, and only the same seed keeps them from overlapping."
        )


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False, verbose=True):
    """``(file_paths, labels, class_names)`` for the files under ``directory`` whose name ends
    (case-insensitively) with one of ``formats``.

    With ``labels="inferred"`` each non-hidden sub-folder is a class (sorted by name unless
    ``class_names`` gives the order and selection) and its files (walked recursively, by
    sorted folder path, then sorted file name) get its index. Otherwise the whole tree is
    walked and ``labels`` (one per file, in that order) is taken as given; ``class_names``
    are then the sorted distinct labels as strings. With ``shuffle`` the files and labels are
    permuted together by ``np.random.RandomState(seed).shuffle``, as Keras does.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"directory={directory!r} is not a directory.")
    if isinstance(labels, str) and labels == "inferred":
        folders = [
            name for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")
        ]
        if class_names is not None:
            missing = [name for name in class_names if name not in folders]
            if missing:
                raise ValueError(
                    f"class_names {missing} are not sub-folders of {directory!r}; its sub-folders are {folders} "
                    "(class_names may name a subset of them, in any order)."
                )
            folders = list(class_names)
    else:
        if class_names is not None:
            raise ValueError("class_names can only be given with labels='inferred'.")
        folders = [""]
    file_paths, file_labels = [], []
    for index, folder in enumerate(folders):
        root = os.path.join(directory, folder)
        for path in _walk_files(root, follow_links, tuple(formats)):
            file_paths.append(os.path.join(directory, folder, os.path.relpath(path, root)))
            file_labels.append(index)
    if isinstance(labels, str) and labels == "inferred":
        labels = np.array(file_labels, dtype="int32")
        class_names = folders
    elif labels is None:
        class_names = None
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(f"labels must be a flat list of int labels; received an array of shape {labels.shape} and dtype {labels.dtype}.")
        if len(labels) != len(file_paths):
            raise ValueError(
                f"labels has {len(labels)} entries but {directory!r} holds {len(file_paths)} matching files; "
                "give one label per file, in sorted path order."
            )
        class_names = [str(label) for label in sorted(set(labels.tolist()))]
    if verbose:
        if labels is None:
            print(f"Found {len(file_paths)} files.")
        else:
            print(f"Found {len(file_paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        order = np.arange(len(file_paths))
        np.random.RandomState(seed).shuffle(order)
        file_paths = [file_paths[i] for i in order]
        if labels is not None:
            labels = labels[order]
    return file_paths, labels, class_names


def _walk_files(root, follow_links, formats):
    """Every matching file under ``root``: folders by sorted path, files by sorted name."""
    for folder, _, names in sorted(os.walk(root, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(names):
            if name.lower().endswith(formats):
                yield os.path.join(folder, name)


def training_or_validation(paths, labels, validation_split, subset, verbose=True):
    """Keras' split: the validation subset is the last ``int(validation_split * n)`` files
    (after the shuffle), the training subset the others.

    Where Keras errs, danlu refuses: when ``int(validation_split * n)`` is 0, Keras gives
    every file to validation and none to training; danlu raises ``ValueError``."""
    if not validation_split:
        return paths, labels
    count = int(validation_split * len(paths))
    if count == 0:
        raise ValueError(
            f"validation_split={validation_split} of {len(paths)} files is 0 files (int({validation_split} * "
            f"{len(paths)})); use a larger validation_split or more files."
        )
    part = slice(None, -count) if subset == "training" else slice(-count, None)
    if verbose:
        print(f"Using {len(paths) - count if subset == 'training' else count} files for {subset}.")
    return paths[part], None if labels is None else labels[part]


def encode_labels(labels, label_mode, num_classes) -> torch.Tensor | None:
    """Keras' label tensors, one row per file: ``"int"`` int32 ``(n,)``, ``"binary"`` float32
    ``(n, 1)``, ``"categorical"`` float32 one-hot ``(n, num_classes)``."""
    if label_mode is None:
        return None
    tensor = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if label_mode == "int":
        return tensor.to(torch.int32)
    if label_mode == "binary":
        return tensor.to(torch.float32).unsqueeze(-1)
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= num_classes):
        raise ValueError(
            f"label_mode='categorical' needs labels in [0, {num_classes}) ({num_classes} classes); "
            f"received labels from {int(tensor.min())} to {int(tensor.max())}."
        )
    return torch.nn.functional.one_hot(tensor, num_classes).to(torch.float32)


def subset_loaders(directory, paths, labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                   batch_size, verbose, missing, make_dataset):
    """The DataLoader of ``subset`` (``"training"``, ``"validation"``, None: every file), or
    both as a pair for ``subset="both"``, over the indexed ``paths`` / ``labels``;
    ``make_dataset(paths, encoded_labels)`` makes each Dataset, ``missing`` completes the
    message when a subset has no file (``"images ... Allowed formats: ..."``)."""
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes; received class_names={class_names}.")
    num_classes = len(class_names) if class_names else 0

    def loader(subset_name, shuffled):
        part_paths, part_labels = training_or_validation(paths, labels, validation_split, subset_name, verbose)
        if not part_paths:
            where = f"{subset_name} " if validation_split else ""
            raise ValueError(f"No {where}{missing.format(directory=directory)}")
        dataset = make_dataset(part_paths, encode_labels(part_labels, label_mode, num_classes))
        return make_loader(dataset, batch_size, shuffled, seed, class_names=class_names, file_paths=part_paths)

    if subset == "both":
        return loader("training", shuffle), loader("validation", False)
    return loader(subset, shuffle)
