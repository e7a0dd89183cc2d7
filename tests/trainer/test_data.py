"""Data adapters: slicing, shuffling, partial batches, structures, splits, generators."""

import numpy as np
import pytest
import torch

from danlu.trainer.data import ArrayData, StreamData, adapt


def test_in_memory_batches_slice_whole_tensors_and_keep_the_last_partial_batch():
    x = np.arange(10, dtype="float64").reshape(10, 1)
    data = ArrayData(x, np.arange(10), batch_size=4)
    batches = list(data.batches())
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == torch.float32  # float64 becomes Keras' floatx
    assert batches[2][1].tolist() == [8, 9]


def test_shuffling_draws_a_permutation_from_the_generator():
    data = ArrayData(np.arange(8), np.arange(8), batch_size=8, shuffle=True)
    (x, y), = data.batches(torch.Generator().manual_seed(1))  # (x, y): what was given, as Keras yields
    assert sorted(x.tolist()) == list(range(8)) and x.tolist() != list(range(8))
    assert torch.equal(x, y)  # x and y stay aligned
    (again, _), = data.batches(torch.Generator().manual_seed(1))
    assert torch.equal(x, again)


def test_dict_and_tuple_structures_and_sample_weights():
    data = ArrayData({"a": np.zeros((6, 2)), "b": np.ones((6, 3))}, (np.zeros(6), np.ones(6)), np.arange(6.0), batch_size=4)
    x, y, w = next(data.batches())
    assert x["a"].shape == (4, 2) and x["b"].shape == (4, 3) and isinstance(y, tuple) and w.tolist() == [0, 1, 2, 3]


def test_batches_keep_the_arity_of_the_data():
    assert len(next(ArrayData(np.zeros((4, 2))).batches())) == 1
    assert len(next(ArrayData(np.zeros((4, 2)), np.zeros(4)).batches())) == 2
    assert len(next(ArrayData(np.zeros((4, 2)), np.zeros(4), np.ones(4)).batches())) == 3
    assert len(next(StreamData([torch.zeros(2, 2)]).batches())) == 1


def test_validation_split_takes_the_last_fraction():
    train, validation = ArrayData(np.arange(10), np.arange(10), batch_size=10).split(0.3)
    assert next(train.batches())[0].tolist() == list(range(7))
    assert next(validation.batches())[0].tolist() == [7, 8, 9]


def test_mismatched_structures_are_errors():
    with pytest.raises(ValueError, match="All arrays in x must have the same number of samples"):
        ArrayData({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(ValueError, match="y must be None when x is a Dataset"):
        adapt(torch.utils.data.TensorDataset(torch.zeros(3)), np.zeros(3))


def test_generators_are_one_pass_and_keep_a_peeked_batch():
    stream = StreamData((torch.full((2,), float(i)), torch.zeros(2)) for i in range(3))
    first = stream.first_batch()
    assert first[0].tolist() == [0.0, 0.0]
    assert [b[0][0].item() for b in stream.batches()] == [0.0, 1.0, 2.0]
    assert list(stream.batches()) == []
