"""to_categorical and normalize against Keras 3.15.1 (torch backend), and their errors."""

import numpy as np
import pytest
import torch

from danlu.utils import normalize, to_categorical
from tests.oracle import keras, to_numpy

RNG = np.random.default_rng(0)


def same(ours, theirs, exact=True):
    assert type(ours) is type(theirs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == theirs.dtype
    if exact:
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    else:
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-5, atol=1e-7)


CATEGORICAL_CASES = [
    ([0, 2, 1], None),
    ([0, 2, 1], 5),
    ([[0], [2], [1]], None),  # (n, 1) -> (n, num_classes)
    ([[1]], None),
    ([1], None),  # 1-D of length 1 keeps its axis
    (3, None),  # a scalar
    ([1.7, 0.2, 2.9], None),  # floats are truncated
    ([[0, 1], [2, 3]], None),
    (RNG.integers(0, 7, size=(4, 3, 1)), None),
    (RNG.integers(0, 7, size=(5, 2, 3)), 9),
    ([], 3),
    ([1, 0], 0),  # 0 infers, as in Keras
    (np.array([2, 0], dtype=np.int8), None),
]


@pytest.mark.oracle
@pytest.mark.parametrize("x,num_classes", CATEGORICAL_CASES)
def test_to_categorical_of_arrays_equals_keras(x, num_classes):
    same(to_categorical(x, num_classes), keras().utils.to_categorical(x, num_classes))


@pytest.mark.oracle
@pytest.mark.parametrize("x,num_classes", [
    (torch.tensor([0, 2, 1]), 4),
    (torch.tensor([[0], [2], [1]]), 3),
    (torch.tensor([[1, 0], [2, 2]]), 3),
    (torch.tensor([-1, 2]), 4),  # a negative index is a row of zeros on the tensor path
    (torch.tensor([0.5, 2.2]), 4),
    (torch.tensor([3], dtype=torch.int32), 5),
])
def test_to_categorical_of_tensors_equals_keras(x, num_classes):
    same(to_categorical(x, num_classes), keras().utils.to_categorical(x, num_classes))


def test_to_categorical_of_a_tensor_infers_num_classes_where_keras_fails():
    out = to_categorical(torch.tensor([[0], [3], [1]]))
    assert out.dtype == torch.int64 and out.shape == (3, 4)
    assert out.argmax(-1).tolist() == [0, 3, 1]


@pytest.mark.parametrize("x,num_classes,match", [
    ([5, 1], 3, "class index 5 is outside \\[0, 3\\)"),
    ([-1, 1], 3, "class index -1"),
    (torch.tensor([4, 1]), 3, "class index 4"),
])
def test_to_categorical_refuses_indices_outside_the_classes(x, num_classes, match):
    with pytest.raises(ValueError, match=match) as error:
        to_categorical(x, num_classes)
    assert isinstance(error.value, IndexError)  # numpy's error type in Keras, kept catchable


@pytest.mark.parametrize("x,num_classes,error,match", [
    ([], None, ValueError, "empty x"),
    (["a"], None, ValueError, "integer class indices"),
    ([1], -2, ValueError, "num_classes must be a positive int or None; received num_classes=-2"),
    ([1], 2.0, ValueError, "num_classes"),
])
def test_to_categorical_argument_errors(x, num_classes, error, match):
    with pytest.raises(error, match=match):
        to_categorical(x, num_classes)


def matrix(shape, dtype=np.float32):
    x = RNG.normal(size=shape).astype(dtype)
    if x.ndim >= 2:
        x[0] = 0  # a zero vector: kept at zero by both paths
    return x


NUMPY_CASES = [
    (matrix((4, 5)), -1, 2),
    (matrix((4, 5)), 1, 2),
    (matrix((3, 4, 5)), 1, 2),
    (matrix((3, 4, 5)), -1, 1),
    (matrix((3, 4, 5)), 2, 3),
    (matrix((4, 5), np.float64), -1, np.inf),
    (RNG.integers(-5, 5, size=(4, 3)), -1, 2),
]


@pytest.mark.oracle
@pytest.mark.parametrize("x,axis,order", NUMPY_CASES)
def test_normalize_of_numpy_equals_keras(x, axis, order):
    same(normalize(x, axis, order), keras().utils.normalize(x, axis, order), exact=False)


@pytest.mark.oracle
@pytest.mark.parametrize("x,axis,order", [
    (torch.tensor(matrix((4, 5))), -1, 2),
    (torch.tensor(matrix((3, 4, 5))), 1, 2),
    (torch.tensor(matrix((3, 4, 5))), 0, 2),
    (torch.tensor(matrix((3, 4, 5))), (1, 2), 2),
    (torch.tensor(matrix((4, 5))), -1, 1),
    (torch.tensor(matrix((4, 5))), 0, 3),
    (torch.tensor(matrix((4, 5), np.float64)), -1, 2),
    (torch.tensor([[3, 4], [0, 0], [1, 1]]), -1, 2),
    (torch.tensor([[3, 4], [0, 0], [1, 1]]), -1, 1),
    (torch.tensor(1e-9 * matrix((4, 5))), -1, 2),  # norms below epsilon
    (torch.tensor(1e-9 * matrix((4, 5))), -1, 1),
    (torch.tensor(2.5), -1, 2),  # 0-d becomes (1,)
    ([[3.0, 4.0], [1.0, 2.0]], -1, 2),  # lists take Keras' tensor path
])
def test_normalize_of_tensors_equals_keras(x, axis, order):
    same(normalize(x, axis, order), keras().utils.normalize(x, axis, order), exact=False)


def test_normalize_of_numpy_keeps_rank_and_honours_axis_0():
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [0.6, 0.8])  # Keras: shape (1, 2)
    x = matrix((3, 2)) + 5
    np.testing.assert_allclose(normalize(x, axis=0), x / np.linalg.norm(x, axis=0, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("x,kwargs,match", [
    (torch.ones(2, 3), {"order": 1.5}, "order must be an int >= 1"),
    (torch.ones(2, 3), {"order": 0}, "order must be an int >= 1"),
    (np.ones((2, 3)), {"axis": 2}, "axis=2 is out of range"),
    (np.ones((2, 3)), {"axis": None}, "int axis"),
    (np.ones((2, 3)), {"order": "fro"}, "invalid order"),
    (np.array(3.0), {}, "rank >= 1"),
])
def test_normalize_argument_errors(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        normalize(x, **kwargs)
