"""split_dataset against Keras 3.15.1 (torch backend): sizes for every kind of left / right
size, the shuffled contents for a seed, and the errors."""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, Subset

from danlu.utils import split_dataset
from tests.oracle import keras


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.tensor([float(i)]), i * i


SIZES = [
    (0.8, None), (None, 0.25), (0.5, 0.5), (3, None), (None, 7), (6, 4), (0.3, 7), (2, 0.8),
    (0.333, None), (0.25, None), (0.35, None), (0.01, None),  # round() of fraction * n, 0 -> empty part
    (None, None), (0, 0.5), (10, None), (-1, None), (1.0, None), (0.0, 0.5), (0.7, 0.6), (8, 5),
    ("3", None), (np.int64(3), None), (None, True), (None, [2]),
]


def outcome(fn):
    try:
        left, right = fn()
    except (TypeError, ValueError) as error:
        return type(error)
    return len(left), len(right)


@pytest.mark.oracle
@pytest.mark.parametrize("left_size,right_size", SIZES)
def test_sizes_and_errors_equal_keras(left_size, right_size):
    data = np.arange(10)
    theirs = outcome(lambda: keras().utils.split_dataset(data, left_size, right_size, shuffle=True, seed=0))
    ours = outcome(lambda: split_dataset(data, left_size, right_size, shuffle=True, seed=0))
    assert ours == theirs


def elements(subset):
    return [tuple(np.asarray(part).tolist() for part in subset[i]) for i in range(len(subset))]


@pytest.mark.oracle
@pytest.mark.parametrize("make", [
    lambda: np.arange(40, dtype=np.float32).reshape(20, 2),
    lambda: (np.arange(20), np.arange(20) * 10.0),
    lambda: [np.arange(60).reshape(20, 3), np.arange(20) % 2],
    lambda: Squares(20),
])
@pytest.mark.parametrize("left_size,right_size,seed", [(0.75, None, 0), (None, 6, 123), (11, 0.45, 7)])
def test_shuffled_contents_equal_keras(make, left_size, right_size, seed):
    ours = split_dataset(make(), left_size, right_size, shuffle=True, seed=seed)
    theirs = keras().utils.split_dataset(make(), left_size, right_size, shuffle=True, seed=seed)
    for mine, keras_part in zip(ours, theirs):
        assert isinstance(mine, Subset)
        assert elements(mine) == elements(keras_part)


def test_unshuffled_split_keeps_the_order():  # Keras' torch path shuffles even here
    left, right = split_dataset(np.arange(10), left_size=0.7)
    assert [int(left[i][0]) for i in range(len(left))] == list(range(7))
    assert [int(right[i][0]) for i in range(len(right))] == [7, 8, 9]


def test_sizes_below_the_total_leave_a_gap():  # Keras' TensorFlow path; its torch path fails
    left, right = split_dataset(np.arange(10), left_size=3, right_size=2)
    assert [int(left[i][0]) for i in range(3)] == [0, 1, 2]
    assert [int(right[i][0]) for i in range(2)] == [8, 9]
    left, right = split_dataset(np.arange(10), left_size=3, right_size=2, shuffle=True, seed=4)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(4)).tolist()
    assert left.indices == perm[:3] and right.indices == perm[-2:]


def test_splits_keep_dtypes_and_pair_the_arrays():
    x, y = np.arange(12, dtype=np.float64).reshape(6, 2), np.arange(6)
    left, right = split_dataset((x, y), right_size=2, shuffle=True, seed=1)
    for part in (left, right):
        for i in range(len(part)):
            features, label = part[i]
            assert features.dtype == torch.float64 and features.tolist() == x[int(label)].tolist()
    assert sorted(left.indices + right.indices) == list(range(6))


def test_torch_tensors_and_datasets_split_too():
    left, right = split_dataset(torch.arange(8), left_size=0.5)
    assert len(left) == len(right) == 4
    left, right = split_dataset(Squares(5), right_size=1)
    assert right[0] == (torch.tensor([4.0]), 16)


def test_seeded_shuffles_repeat_and_unseeded_ones_vary():
    a = split_dataset(np.arange(100), left_size=0.5, shuffle=True, seed=3)[0].indices
    assert split_dataset(np.arange(100), left_size=0.5, shuffle=True, seed=3)[0].indices == a
    b = split_dataset(np.arange(100), left_size=0.5, shuffle=True)[0].indices
    c = split_dataset(np.arange(100), left_size=0.5, shuffle=True)[0].indices
    assert b != c


@pytest.mark.parametrize("dataset,kwargs,error,match", [
    (np.arange(10), {}, ValueError, "needs left_size or right_size"),
    (np.arange(10), {"left_size": 10}, ValueError, "left_size as a count must be in \\(0, 10\\)"),
    (np.arange(10), {"right_size": 1.5}, ValueError, "right_size as a fraction must be in \\(0, 1\\)"),
    (np.arange(10), {"left_size": "0.5"}, TypeError, "left_size must be an int, a float or None"),
    (np.arange(10), {"left_size": 0.6, "right_size": 0.6}, ValueError, "left_size \\+ right_size must be <= 1"),
    (np.arange(10), {"left_size": 6, "right_size": 5}, ValueError, "6 \\+ 5 samples, more than the 10"),
    (np.arange(10), {"left_size": 0.01}, ValueError, "leave the left part empty"),
    ((np.arange(10), np.arange(9)), {"left_size": 2}, ValueError, "same number of samples; received lengths \\[10, 9\\]"),
    ([[1, 2], [3, 4]], {"left_size": 1}, TypeError, "dataset\\[0\\] must be a numpy array or a torch tensor"),
    ((), {"left_size": 1}, ValueError, "empty list / tuple"),
    ({"x": np.arange(3)}, {"left_size": 1}, TypeError, "dataset must be a numpy array"),
    (np.arange(10), {"left_size": 2, "shuffle": 1}, TypeError, "shuffle must be a bool"),
    (np.arange(10), {"left_size": 2, "shuffle": True, "seed": 1.5}, TypeError, "seed must be an int or None"),
])
def test_errors_name_the_argument(dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        split_dataset(dataset, **kwargs)
