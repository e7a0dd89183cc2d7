"""timeseries_dataset_from_array against Keras 3.15.1's own windowing (its grain path on
the torch backend, run on the stand-in of conftest.py): windows, targets, batches, every
argument."""

import numpy as np
import pytest
import torch

from danlu.utils import timeseries_dataset_from_array

RNG = np.random.default_rng(2)
SERIES = RNG.normal(size=(60, 3)).astype("float32")
TARGETS = np.arange(60) * 10

CASES = [
    dict(sequence_length=5),
    dict(sequence_length=10, sampling_rate=2, sequence_stride=3),
    dict(sequence_length=4, sequence_stride=7, batch_size=4),
    dict(sequence_length=3, sampling_rate=5, batch_size=1),
    dict(sequence_length=6, start_index=11),
    dict(sequence_length=6, end_index=40),
    dict(sequence_length=6, start_index=7, end_index=45, sampling_rate=2, sequence_stride=2, batch_size=5),
    dict(sequence_length=60),  # exactly one window
    dict(sequence_length=61),  # none
    dict(sequence_length=5, batch_size=None),
    dict(sequence_length=8, shuffle=True, seed=11, batch_size=6),
    dict(sequence_length=8, sequence_stride=2, shuffle=True, seed=0, start_index=5, batch_size=None),
]


def flatten(batches, with_targets):
    """Every (window, target) pair of a Keras or danlu dataset, in order."""
    pairs = []
    for batch in batches:
        x, y = batch if with_targets else (batch, None)
        x = np.asarray(x)
        if x.ndim == SERIES.ndim:  # unbatched
            pairs.append((x, None if y is None else np.asarray(y)))
        else:
            pairs.extend(zip(x, [None] * len(x) if y is None else np.asarray(y)))
    return pairs


def keras_windows(keras, data, targets, kwargs):
    return keras.utils.timeseries_dataset_from_array(data, targets, format="grain", **kwargs)


@pytest.mark.oracle
@pytest.mark.parametrize("with_targets", [True, False])
@pytest.mark.parametrize("kwargs", CASES)
def test_windows_and_targets_equal_keras(keras_grain, kwargs, with_targets):
    targets = TARGETS if with_targets else None
    theirs = flatten(keras_windows(keras_grain, SERIES, targets, kwargs), with_targets)
    loader = timeseries_dataset_from_array(SERIES, targets, **kwargs)
    ours = flatten([loader.dataset[i] for i in range(len(loader.dataset))], with_targets)  # Keras' order
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        np.testing.assert_array_equal(x, kx)
        if with_targets:
            np.testing.assert_array_equal(y, ky)


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [c for c in CASES if not c.get("shuffle")])
def test_unshuffled_batches_equal_keras(keras_grain, kwargs):
    theirs = list(keras_windows(keras_grain, SERIES, TARGETS, kwargs))
    ours = list(timeseries_dataset_from_array(SERIES, TARGETS, **kwargs))
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
        assert x.dtype == torch.float32 and tuple(x.shape) == tuple(np.shape(kx))
        np.testing.assert_array_equal(x.numpy(), np.asarray(kx))
        np.testing.assert_array_equal(y.numpy(), np.asarray(ky))


@pytest.mark.oracle
def test_one_dimensional_series_and_vector_targets_equal_keras(keras_grain):
    data, targets = np.arange(30, dtype=np.int64), RNG.normal(size=(30, 2))
    kwargs = dict(sequence_length=4, sampling_rate=3, batch_size=4)
    theirs = list(keras_windows(keras_grain, data, targets, kwargs))
    ours = list(timeseries_dataset_from_array(data, targets, **kwargs))
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        assert x.dtype == torch.int64 and y.dtype == torch.float64
        np.testing.assert_array_equal(x.numpy(), np.asarray(kx))
        np.testing.assert_array_equal(y.numpy(), np.asarray(ky))


def test_keras_docstring_example():
    loader = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3)
    windows = torch.cat(list(loader))
    assert windows[0].tolist() == list(range(0, 20, 2))
    assert windows[1].tolist() == list(range(3, 23, 2))
    assert windows[-1].tolist() == list(range(78, 98, 2))


def test_temporal_regression_example():
    data = np.arange(50, dtype=np.float32)
    x, y = next(iter(timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)))
    assert x[0].tolist() == data[:10].tolist() and y[0].item() == 10.0


def test_shuffled_epochs_repeat_for_a_seed_and_differ_between_epochs():
    def epochs(seed):
        loader = timeseries_dataset_from_array(SERIES, TARGETS, sequence_length=3, batch_size=8, shuffle=True, seed=seed)
        return [torch.cat([y for _, y in loader]).tolist() for _ in range(2)]

    first = epochs(4)
    assert first == epochs(4)
    assert first[0] != first[1] and sorted(first[0]) == sorted(first[1])


def test_fit_trains_on_the_loader():
    import danlu

    data = np.sin(np.arange(300, dtype=np.float32) / 5)[:, None]
    loader = timeseries_dataset_from_array(data[:-8], data[8:, 0], sequence_length=8, batch_size=32)
    model = danlu.Sequential([danlu.layers.Flatten(), danlu.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(loader, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [
    dict(sequence_length=3, start_index=-1),
    dict(sequence_length=3, start_index=60),
    dict(sequence_length=3, end_index=60),
    dict(sequence_length=3, start_index=10, end_index=10),
    dict(sequence_length=3, sampling_rate=0),
    dict(sequence_length=3, sampling_rate=60),
    dict(sequence_length=3, sequence_stride=0),
    dict(sequence_length=3, sequence_stride=60),
])
def test_errors_equal_keras(keras_grain, kwargs):
    with pytest.raises(ValueError):
        keras_windows(keras_grain, SERIES, TARGETS, kwargs)
    with pytest.raises(ValueError):
        timeseries_dataset_from_array(SERIES, TARGETS, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sequence_length=0), "sequence_length must be a positive int; received sequence_length=0"),
    (dict(sequence_length=3, batch_size=0), "batch_size must be a positive int or None"),
    (dict(sequence_length=3, sampling_rate=2.0), "sampling_rate must be a positive int"),
    (dict(sequence_length=3, sequence_stride=100), "sequence_stride must be lower than the length of the data \\(60\\)"),
    (dict(sequence_length=3, end_index=0), "end_index must be an int >= 1 or None"),
    (dict(sequence_length=3, start_index=9, end_index=5), "end_index must be higher than start_index"),
    (dict(sequence_length=3, shuffle="yes"), "shuffle must be a bool"),
])
def test_errors_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        timeseries_dataset_from_array(SERIES, TARGETS, **kwargs)


def test_short_targets_are_a_clear_error():
    with pytest.raises(ValueError, match="targets has 12 entries, but the window starting at data\\[14\\]"):
        timeseries_dataset_from_array(SERIES, TARGETS[:12], sequence_length=3, start_index=3)
