"""Hugging Face datasets in fit through danlu.utils.huggingface.from_huggingface: the column
conventions, batched reads, the same training as on arrays, images, streaming, and clear
errors (the `huggingface` extra, which .ci/run installs). All data is made here."""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers, losses
from danlu.utils.huggingface import from_huggingface, is_huggingface_dataset

datasets = pytest.importorskip("datasets")


def table(n=96, **extra):
    rng = np.random.default_rng(0)
    columns = {"features": rng.standard_normal((n, 6)).astype("float32"), "label": rng.integers(0, 3, n)}
    columns.update(extra)
    return datasets.Dataset.from_dict(columns)


def classifier(seed=0):
    danlu.utils.set_random_seed(seed)
    model = danlu.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)), layers.Dense(3)])
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"])
    return model


def test_label_column_becomes_y_and_the_rest_x():
    data = from_huggingface(table())
    x, y = data[0]
    assert isinstance(data, torch.utils.data.Dataset) and len(data) == 96
    assert x.shape == (6,) and x.dtype == torch.float32 and y.dtype == torch.int64 and y.ndim == 0


def test_labels_is_the_second_convention_and_no_label_gives_inputs_only():
    renamed = table().rename_column("label", "labels")
    assert len(from_huggingface(renamed)[0]) == 2
    (x,) = from_huggingface(table(), label=None)[0]          # for predict: the label column is dropped
    assert x.shape == (6,)
    unlabeled = table().remove_columns("label")
    assert len(from_huggingface(unlabeled)[0]) == 1


def test_several_input_columns_make_a_dict_and_a_label_list_makes_a_dict_of_targets():
    data = table(extra=np.ones((96, 2), dtype="float32"), odd=np.arange(96) % 2)
    x, y = from_huggingface(data, label=["label", "odd"])[0]
    assert sorted(x) == ["extra", "features"] and sorted(y) == ["label", "odd"]
    x, y = from_huggingface(data, inputs="features", label="odd")[0]
    assert x.shape == (6,) and int(y) == 0


def test_a_sample_weight_column_is_the_third_part():
    weights = np.linspace(0.5, 1.5, 96).astype("float32")
    x, y, w = from_huggingface(table(sample_weight=weights))[5]
    assert float(w) == pytest.approx(weights[5])
    x, y, w = from_huggingface(table(importance=weights), sample_weight="importance")[0]
    assert float(w) == pytest.approx(0.5)


def test_fit_on_the_dataset_trains_exactly_as_on_the_arrays():
    data = table()
    arrays = data.with_format("numpy")[:]
    on_arrays = classifier()
    on_arrays.fit(arrays["features"], arrays["label"], batch_size=16, epochs=2, shuffle=False, verbose=0)
    on_table = classifier()
    history = on_table.fit(from_huggingface(data), batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(on_arrays.get_weights(), on_table.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert sorted(history.history) == ["acc", "loss"]
    predicted = on_table.predict(from_huggingface(data, label=None), batch_size=32, verbose=0)
    np.testing.assert_allclose(predicted, on_arrays.predict(arrays["features"], verbose=0), rtol=1e-5, atol=1e-6)
    assert on_table.evaluate(from_huggingface(data), verbose=0)[0] == pytest.approx(
        on_arrays.evaluate(arrays["features"], arrays["label"], verbose=0)[0], rel=1e-5)


def test_each_batch_is_one_read_of_the_table():
    data = from_huggingface(table())
    reads = []

    class Counting:
        def __init__(self, dataset):
            self.dataset = dataset

        def __len__(self):
            return len(self.dataset)

        def __getitem__(self, key):
            reads.append(key)
            return self.dataset[key]

    data.dataset = Counting(data.dataset)
    batches = list(torch.utils.data.DataLoader(data, batch_size=32, shuffle=True))
    assert len(batches) == 3 and len(reads) == 3 and all(isinstance(r, list) and len(r) == 32 for r in reads)
    assert batches[0][0].shape == (32, 6) and batches[0][1].shape == (32,)


def test_a_functional_model_takes_the_columns_by_input_name_and_sample_weights_weight():
    rng = np.random.default_rng(1)
    columns = {
        "a": rng.standard_normal((64, 3)).astype("float32"), "b": rng.standard_normal((64, 2)).astype("float32"),
        "label": rng.integers(0, 2, 64), "sample_weight": np.r_[np.ones(32), np.zeros(32)].astype("float32"),
    }
    data = datasets.Dataset.from_dict(columns)
    a, b = danlu.Input((3,), name="a"), danlu.Input((2,), name="b")
    model = danlu.Model({"a": a, "b": b}, layers.Dense(2)(layers.Concatenate()([a, b])))
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    weighted = model.evaluate(from_huggingface(data), batch_size=64, verbose=0)
    first_half = model.evaluate({"a": columns["a"][:32], "b": columns["b"][:32]}, columns["label"][:32], verbose=0)
    assert weighted == pytest.approx(first_half / 2, rel=1e-5)  # zero weights drop the second half, mean over 64
    model.fit(from_huggingface(data), epochs=1, verbose=0)


def test_image_columns_arrive_channels_first_and_user_formats_are_kept():
    from PIL import Image

    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)) for _ in range(8)]
    photos = datasets.Dataset.from_dict({"image": pictures, "label": [0, 1] * 4}).cast_column("image", datasets.Image())
    image, label = from_huggingface(photos)[0]
    assert image.shape == (3, 5, 7) and image.dtype == torch.uint8
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), np.asarray(pictures[0]))
    scaled = photos.with_transform(lambda batch: {
        "image": [np.asarray(p, dtype="float32").transpose(2, 0, 1) / 255 for p in batch["image"]], "label": batch["label"]})
    image, _ = from_huggingface(scaled)[0]
    assert image.dtype == np.float32 and image.max() <= 1.0
    cnn = danlu.Sequential([layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(), layers.Dense(2)])
    cnn.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    cnn.fit(from_huggingface(scaled), batch_size=4, epochs=1, verbose=0)


def test_a_streaming_dataset_becomes_an_iterable_dataset():
    stream = table(40).to_iterable_dataset()
    data = from_huggingface(stream)
    assert isinstance(data, torch.utils.data.IterableDataset)
    x, y = next(iter(data))
    assert x.shape == (6,) and y.dtype == torch.int64
    model = classifier()
    history = model.fit(data, batch_size=16, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_bad_input_is_named():
    data = table()
    with pytest.raises(TypeError, match=r"one split.*dataset\['train'\]"):
        from_huggingface(datasets.DatasetDict({"train": data, "test": data}))
    with pytest.raises(TypeError, match="datasets.Dataset"):
        from_huggingface({"features": [1, 2]})
    with pytest.raises(ValueError, match="lable.*label"):
        from_huggingface(data, label="lable")
    with pytest.raises(ValueError, match="needs labels"):
        from_huggingface(data, label=None, sample_weight="features")
    with pytest.raises(ValueError, match="No column is left"):
        from_huggingface(data.remove_columns("features"))
    with pytest.raises(ValueError, match="both inputs and labels"):
        from_huggingface(data, inputs=["features", "label"])


def test_is_huggingface_dataset_knows_them_without_importing_anything():
    assert is_huggingface_dataset(table()) and is_huggingface_dataset(table().to_iterable_dataset())
    assert not is_huggingface_dataset(torch.utils.data.TensorDataset(torch.zeros(2)))
    assert not is_huggingface_dataset(from_huggingface(table()))
