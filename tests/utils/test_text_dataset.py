"""text_dataset_from_directory against Keras 3.15.1 on its torch backend (Keras' grain
path, run on the stand-in of conftest.py): class names, file order, texts, labels, counts
per split."""

import numpy as np
import pytest
import torch

from danlu.utils import text_dataset_from_directory

TEXTS = {
    "neg/a.txt": "dull and slow",
    "neg/b.txt": "never again\r\nsecond line",
    "neg/deep/c.txt": "nested review ☹",
    "pos/d.txt": "loved it — ünïcödé",
    "pos/e.TXT": "",
    "pos/f.txt": "great\n" * 20,
    "pos/g.md": "not a text file",
    "zeta/h.txt": "third class",
    "zeta/i.txt": "x" * 300,
    ".cache/j.txt": "hidden",
}


@pytest.fixture
def texts(tmp_path):
    root = tmp_path / "texts"
    for name, text in TEXTS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return str(root)


def keras_samples(dataset, labeled=True):
    samples = []
    for item in dataset:
        x, y = item if labeled else (item, None)
        if isinstance(x, str):
            samples.append((x, None if y is None else np.asarray(y)))
        else:
            samples.extend(zip(x, [None] * len(x) if y is None else np.asarray(y)))
    return samples


def our_samples(loader, labeled=True):
    items = [loader.dataset[i] for i in range(len(loader.dataset))]
    return [(item[0], item[1].numpy()) if labeled else (item, None) for item in items]


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for (text, label), (keras_text, keras_label) in zip(ours, theirs):
        assert isinstance(text, str) and text == keras_text
        if keras_label is not None:
            assert label.dtype == keras_label.dtype
            np.testing.assert_array_equal(label, keras_label)


def both(keras, directory, **kwargs):
    kwargs.setdefault("seed", 13)  # Keras and danlu would each draw their own seed
    keras_kwargs = dict(kwargs, labels=list(kwargs["labels"])) if kwargs.get("labels") else kwargs  # Keras shuffles it in place
    theirs = keras.utils.text_dataset_from_directory(directory, format="grain", verbose=False, **keras_kwargs)
    return text_dataset_from_directory(directory, verbose=False, **kwargs), theirs


@pytest.mark.oracle
@pytest.mark.parametrize("label_mode", ["int", "categorical", None])
@pytest.mark.parametrize("shuffle,seed", [(False, None), (True, 0), (True, 77)])
@pytest.mark.parametrize("max_length", [None, 5])
def test_texts_labels_and_order_equal_keras(keras_grain, texts, label_mode, shuffle, seed, max_length):
    ours, theirs = both(keras_grain, texts, label_mode=label_mode, shuffle=shuffle, seed=seed, max_length=max_length, batch_size=3)
    assert ours.class_names == theirs.class_names == (["neg", "pos", "zeta"] if label_mode else None)
    labeled = label_mode is not None
    assert_same(our_samples(ours, labeled), keras_samples(theirs, labeled))
    if not shuffle:
        batches = list(ours)
        # 8 files in the class folders; without labels the whole tree (.cache too) is read
        assert [len(batch[0] if labeled else batch) for batch in batches] == ([3, 3, 2] if labeled else [3, 3, 3])
        first = batches[0]
        texts_batch = first[0] if labeled else first
        assert isinstance(texts_batch, list) and all(isinstance(t, str) for t in texts_batch)
        if label_mode == "int":
            assert first[1].dtype == torch.int32 and first[1].tolist() == [0, 0, 0]
        if label_mode == "categorical":
            assert first[1].dtype == torch.float32 and first[1].shape == (3, 3)


@pytest.mark.oracle
@pytest.mark.parametrize("subset", ["training", "validation", "both"])
@pytest.mark.parametrize("validation_split,shuffle,seed", [(0.25, True, 4), (0.5, False, None)])
def test_subsets_equal_keras(keras_grain, texts, subset, validation_split, shuffle, seed):
    ours, theirs = both(keras_grain, texts, validation_split=validation_split, subset=subset, shuffle=shuffle, seed=seed)
    if subset != "both":
        ours, theirs = [ours], [theirs]
    assert len(ours) == len(theirs)
    for mine, keras_part in zip(ours, theirs):
        assert mine.class_names == keras_part.class_names
        assert_same(our_samples(mine), keras_samples(keras_part))
    if subset == "both":
        train, validation = ours
        assert len(validation.dataset) == int(validation_split * 8) and len(train.dataset) == 8 - int(validation_split * 8)
        assert not set(train.file_paths) & set(validation.file_paths)


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [
    dict(class_names=["zeta", "neg"]),
    dict(labels=[1, 0, 1, 1, 0, 0, 1, 1, 0], label_mode="binary", shuffle=True, seed=3),
    dict(labels=[2, 0, 1, 1, 0, 2, 1, 1, 0], label_mode="categorical"),
    dict(labels=None, shuffle=True, seed=5),
    dict(batch_size=None, shuffle=True, seed=9),
])
def test_class_names_given_labels_and_unbatched_equal_keras(keras_grain, texts, kwargs):
    ours, theirs = both(keras_grain, texts, **kwargs)
    assert ours.class_names == theirs.class_names
    labeled = kwargs.get("labels", "inferred") is not None
    assert_same(our_samples(ours, labeled), keras_samples(theirs, labeled))


def test_unbatched_loader_yields_single_samples(texts):
    loader = text_dataset_from_directory(texts, batch_size=None, shuffle=False, verbose=False)
    text, label = next(iter(loader))
    assert text == "dull and slow" and label.dtype == torch.int32 and label.ndim == 0


def test_universal_newlines_and_character_cut(texts):
    loader = text_dataset_from_directory(texts, shuffle=False, max_length=14, verbose=False, batch_size=8)
    batch_texts, _ = next(iter(loader))
    assert batch_texts[1] == "never again\nse"
    assert batch_texts[3] == "loved it — ünï"  # 14 characters, not bytes


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(max_length=-1), ValueError, "max_length must be an int >= 0 or None"),
    (dict(label_mode="binary"), ValueError, "exactly 2 classes"),
    (dict(label_mode="one_hot"), ValueError, "Unknown label_mode identifier"),
    (dict(validation_split=0.3, subset="both"), ValueError, "pass a seed"),
    (dict(labels=[0, 1, 2]), ValueError, "labels has 3 entries but .* holds 9"),
    (dict(labels=[0.5] * 9), ValueError, "labels must be a flat list of int labels"),
    (dict(class_names="neg"), TypeError, "class_names must be a list of sub-folder names"),
    (dict(labels=[0, 5, 1, 1, 0, 2, 1, 1, 0], label_mode="categorical"), ValueError, "needs labels in \\[0, 4\\)"),
])
def test_errors_name_the_argument(texts, kwargs, error, match):
    with pytest.raises(error, match=match):
        text_dataset_from_directory(texts, verbose=False, **kwargs)


def test_no_text_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match="No text files found"):
        text_dataset_from_directory(str(tmp_path), verbose=False)
