"""image_dataset_from_directory against Keras 3.15.1 on its torch backend (Keras' grain
path, run on the stand-in of conftest.py): class names, file order, labels, counts per
split, and pixels equal to Keras' decoded + resized images transposed to channels first."""

import os

import numpy as np
import pytest
import torch

from danlu.utils import image_dataset_from_directory

Image = pytest.importorskip("PIL.Image", reason="Pillow is installed with danlu's test extra")

RNG = np.random.default_rng(3)


def save(path, mode, size, fmt=None):
    height, width = size
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}.get(mode)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if mode == "I;16":
        image = Image.fromarray(RNG.integers(0, 65535, size=(height, width), dtype=np.uint16))
    elif mode == "P":
        image = Image.fromarray(RNG.integers(0, 255, size=(height, width, 3), dtype=np.uint8)).convert("P")
    else:
        pixels = RNG.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
    image.save(path, format=fmt)


@pytest.fixture
def images(tmp_path):
    """Four classes (sorted: birds10 < birds2 < cats < dogs), many formats, modes and shapes."""
    root = tmp_path / "images"
    save(root / "cats" / "a.png", "RGB", (20, 30))
    save(root / "cats" / "b.JPG", "RGB", (17, 13), "JPEG")
    save(root / "cats" / "nested" / "c.png", "RGBA", (9, 9))
    save(root / "dogs" / "d.bmp", "L", (12, 40))
    save(root / "dogs" / "e.gif", "P", (15, 15))
    save(root / "dogs" / "z.jpeg", "L", (33, 21), "JPEG")
    save(root / "birds10" / "f.png", "LA", (8, 11))
    save(root / "birds10" / "g.PNG", "I;16", (10, 8))
    save(root / "birds2" / "h.png", "RGB", (5, 50))
    save(root / "birds2" / "i.png", "RGBA", (26, 26))
    save(root / ".hidden" / "j.png", "RGB", (4, 4))  # hidden folders are not classes
    (root / "dogs" / "notes.txt").write_text("not an image")
    return str(root)


@pytest.fixture
def two_classes(tmp_path):
    root = tmp_path / "binary"
    for i in range(7):
        save(root / ("no" if i % 3 else "yes") / f"{i:02d}.png", "RGB", (6 + i, 9))
    return str(root)


def keras_samples(dataset, labeled=True):
    """(image, label) per sample, in Keras' order, from Keras' (batched or not) output."""
    samples = []
    for item in dataset:
        x, y = item if labeled else (item, None)
        if x.ndim == 3:
            samples.append((np.asarray(x), None if y is None else np.asarray(y)))
        else:
            samples.extend(zip(np.asarray(x), [None] * len(x) if y is None else np.asarray(y)))
    return samples


def our_samples(loader, labeled=True):
    items = [loader.dataset[i] for i in range(len(loader.dataset))]
    return [(x.numpy(), y.numpy()) if labeled else (item.numpy(), None) for item in items for x, y in [item if labeled else (item, None)]]


def assert_same(ours, theirs, to_channels_first=True, exact=False):
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        expected = kx.transpose(2, 0, 1) if to_channels_first else kx
        assert x.dtype == np.float32 and x.shape == expected.shape
        if exact:
            np.testing.assert_array_equal(x, expected)
        else:
            np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)
        if ky is not None:
            assert y.dtype == ky.dtype
            np.testing.assert_array_equal(y, ky)


@pytest.mark.oracle
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect,image_size", [("stretch", (16, 24)), ("crop", (21, 10)), ("pad", 13), ("stretch", (40, 40))])
def test_pixels_equal_keras_transposed_to_channels_first(keras_grain, images, color_mode, interpolation, aspect, image_size):
    kwargs = dict(
        color_mode=color_mode, interpolation=interpolation, image_size=image_size, batch_size=4, shuffle=False,
        crop_to_aspect_ratio=aspect == "crop", pad_to_aspect_ratio=aspect == "pad", verbose=False,
    )
    theirs = keras_grain.utils.image_dataset_from_directory(images, format="grain", data_format="channels_last", **kwargs)
    loader = image_dataset_from_directory(images, **kwargs)
    assert loader.class_names == theirs.class_names == ["birds10", "birds2", "cats", "dogs"]
    assert loader.file_paths == theirs.file_paths
    assert_same(our_samples(loader), keras_samples(theirs), exact=interpolation == "nearest")
    batches = list(loader)  # unshuffled batches: Keras' batches, channels first
    assert [len(y) for _, y in batches] == [4, 4, 2]
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}[color_mode]
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    assert batches[0][0].shape == (4, channels, *size) and batches[0][1].dtype == torch.int32


@pytest.mark.oracle
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_data_format_gives_keras_layout(keras_grain, images, data_format):
    kwargs = dict(image_size=(11, 7), shuffle=True, seed=5, data_format=data_format, verbose=False)
    theirs = keras_grain.utils.image_dataset_from_directory(images, format="grain", **kwargs)
    ours = image_dataset_from_directory(images, **kwargs)
    assert ours.file_paths == theirs.file_paths
    theirs_first = data_format == "channels_first"
    assert_same(our_samples(ours), keras_samples(theirs), to_channels_first=False)
    if theirs_first:
        assert next(iter(ours))[0].shape[1] == 3
    else:
        assert next(iter(ours))[0].shape[-1] == 3


@pytest.mark.oracle
@pytest.mark.parametrize("label_mode", ["int", "categorical", None])
@pytest.mark.parametrize("shuffle,seed", [(False, None), (True, 1), (True, 1234)])
@pytest.mark.parametrize("batch_size", [3, None])
def test_labels_and_order_equal_keras(keras_grain, images, label_mode, shuffle, seed, batch_size):
    kwargs = dict(label_mode=label_mode, shuffle=shuffle, seed=seed, batch_size=batch_size, image_size=(8, 8), verbose=False)
    theirs = keras_grain.utils.image_dataset_from_directory(images, format="grain", data_format="channels_last", **kwargs)
    ours = image_dataset_from_directory(images, **kwargs)
    assert ours.file_paths == theirs.file_paths and ours.class_names == theirs.class_names
    labeled = label_mode is not None
    assert_same(our_samples(ours, labeled), keras_samples(theirs, labeled))


@pytest.mark.oracle
@pytest.mark.parametrize("subset", ["training", "validation", "both"])
@pytest.mark.parametrize("validation_split,shuffle,seed", [(0.2, True, 3), (0.5, False, None), (0.35, True, 99)])
def test_subsets_equal_keras(keras_grain, images, subset, validation_split, shuffle, seed):
    kwargs = dict(validation_split=validation_split, subset=subset, shuffle=shuffle, seed=seed, image_size=(6, 9), verbose=False)
    theirs = keras_grain.utils.image_dataset_from_directory(images, format="grain", data_format="channels_last", **kwargs)
    ours = image_dataset_from_directory(images, **kwargs)
    if subset != "both":
        ours, theirs = [ours], [theirs]
    assert len(ours) == len(theirs)
    for mine, keras_part in zip(ours, theirs):
        assert mine.file_paths == keras_part.file_paths
        assert_same(our_samples(mine), keras_samples(keras_part))
    if subset == "both":
        train, validation = ours
        assert not set(train.file_paths) & set(validation.file_paths)
        assert len(train.file_paths) + len(validation.file_paths) == 10
        assert len(validation.file_paths) == int(validation_split * 10)


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [
    dict(class_names=["dogs", "birds2"]),  # a subset of the classes, in the given order
    dict(labels=[0, 1, 1, 0, 2, 2, 1, 0, 1, 2, 0]),  # one per file in sorted path order (.hidden too)
    dict(labels=[3, 1, 1, 3, 1, 3, 3, 1, 1, 1, 3], label_mode="binary"),
    dict(labels=None),
    dict(labels=[0, 1, 1, 0, 2, 2, 1, 0, 1, 2, 1], label_mode="categorical", shuffle=True, seed=8),
])
def test_class_names_and_given_labels_equal_keras(keras_grain, images, kwargs):
    kwargs = dict(dict(image_size=(5, 5), verbose=False, shuffle=False), **kwargs)
    keras_kwargs = dict(kwargs, labels=list(kwargs["labels"])) if kwargs.get("labels") else kwargs  # Keras shuffles it in place
    theirs = keras_grain.utils.image_dataset_from_directory(images, format="grain", data_format="channels_last", **keras_kwargs)
    ours = image_dataset_from_directory(images, **kwargs)
    assert ours.class_names == theirs.class_names and ours.file_paths == theirs.file_paths
    labeled = kwargs.get("labels", "inferred") is not None
    assert_same(our_samples(ours, labeled), keras_samples(theirs, labeled))


@pytest.mark.oracle
def test_binary_labels_equal_keras(keras_grain, two_classes):
    kwargs = dict(label_mode="binary", image_size=(4, 4), shuffle=True, seed=2, batch_size=2, verbose=False)
    theirs = keras_grain.utils.image_dataset_from_directory(two_classes, format="grain", data_format="channels_last", **kwargs)
    ours = image_dataset_from_directory(two_classes, **kwargs)
    assert ours.class_names == ["no", "yes"]
    assert_same(our_samples(ours), keras_samples(theirs))
    x, y = next(iter(ours))
    assert y.dtype == torch.float32 and y.shape == (2, 1)


def test_prints_what_it_found(images, capsys):
    image_dataset_from_directory(images, validation_split=0.2, subset="training", seed=1, image_size=4)
    assert capsys.readouterr().out.splitlines() == ["Found 10 files belonging to 4 classes.", "Using 8 files for training."]
    image_dataset_from_directory(images, verbose=False, image_size=4)
    assert capsys.readouterr().out == ""


def test_shuffled_epochs_repeat_for_a_seed(images):
    def epochs():
        loader = image_dataset_from_directory(images, image_size=4, batch_size=10, seed=6, verbose=False)
        return [next(iter(loader))[1].tolist() for _ in range(3)]

    first = epochs()
    assert first == epochs() and len({tuple(e) for e in first}) > 1


def test_fit_trains_on_the_loader(two_classes):
    import danlu

    loader = image_dataset_from_directory(two_classes, label_mode="binary", image_size=(8, 8), batch_size=4, seed=0, verbose=False)
    model = danlu.Sequential([danlu.layers.Flatten(), danlu.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(loader, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}


def test_follow_links(images, tmp_path):
    os.symlink(os.path.join(images, "cats"), os.path.join(images, "birds2", "linked"))
    plain = image_dataset_from_directory(images, image_size=4, shuffle=False, verbose=False)
    linked = image_dataset_from_directory(images, image_size=4, shuffle=False, follow_links=True, verbose=False)
    assert len(linked.file_paths) == len(plain.file_paths) + 3


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(label_mode="sparse"), ValueError, "Unknown label_mode identifier 'sparse'"),
    (dict(color_mode="RGB"), ValueError, 'Unknown color_mode identifier .*Did you mean "rgb"'),
    (dict(interpolation="area"), ValueError, "only on Keras' TensorFlow backend"),
    (dict(interpolation="bilinar"), ValueError, 'Did you mean "bilinear"'),
    (dict(image_size=(3, 0)), ValueError, "image_size must be \\(height, width\\)"),
    (dict(image_size=(3, 4, 5)), ValueError, "image_size"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError, "Only one of"),
    (dict(data_format="channels_middle"), ValueError, "Unknown data_format"),
    (dict(validation_split=0.2, subset="training"), ValueError, "pass a seed"),
    (dict(validation_split=0.2), ValueError, "give both or neither"),
    (dict(subset="training"), ValueError, "give both or neither"),
    (dict(validation_split=1.5, subset="training", seed=1), ValueError, "validation_split must be in \\(0, 1\\)"),
    (dict(validation_split=0.05, subset="training", seed=1), ValueError, "is 0 files"),
    (dict(subset="test", validation_split=0.2, seed=1), ValueError, "Unknown subset identifier"),
    (dict(labels="folders"), ValueError, "labels must be 'inferred'"),
    (dict(labels=[0, 1]), ValueError, "labels has 2 entries but .* holds 11"),
    (dict(labels=[0] * 10, class_names=["a"]), ValueError, "class_names can only be given with labels='inferred'"),
    (dict(class_names=["cats", "cows"]), ValueError, "class_names \\['cows'\\] are not sub-folders"),
    (dict(label_mode="binary"), ValueError, "exactly 2 classes"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive int or None"),
    (dict(seed=1.5), TypeError, "seed must be an int or None"),
])
def test_errors_name_the_argument(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        image_dataset_from_directory(images, verbose=False, **kwargs)


def test_empty_or_missing_directory(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="No images found in directory"):
        image_dataset_from_directory(str(tmp_path / "empty"), verbose=False)
    with pytest.raises(ValueError, match="is not a directory"):
        image_dataset_from_directory(str(tmp_path / "nowhere"), verbose=False)


def test_missing_pillow_names_the_extra(images, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    with pytest.raises(ImportError, match="pip install 'danlu\\[images\\]'"):
        image_dataset_from_directory(images, verbose=False)
