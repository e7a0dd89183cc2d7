"""The per-step fast paths of metric updates give the general path's state exactly: the direct
count of `SparseCategoricalAccuracy` and the cached sample counts of `Mean`."""

import pytest
import torch

from danlu import metrics
from danlu.metrics.accuracy import sparse_categorical_accuracy
from danlu.metrics.reduction import sample_count


def general_accuracy(dtype=None):
    """The same metric through the general path (the function's per-sample matches, averaged)."""
    return metrics.MeanMetricWrapper(sparse_categorical_accuracy, name="general", dtype=dtype)


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_sparse_accuracy_direct_count_matches_the_general_path(dtype):
    torch.manual_seed(0)
    fast, general = metrics.SparseCategoricalAccuracy(dtype=dtype), general_accuracy(dtype)
    for batch in (64, 7, 512, 1):
        scores, labels = torch.randn(batch, 10), torch.randint(0, 10, (batch,))
        scores[0, :] = 0.0  # a tie: argmax takes the first, on both paths
        fast.update_state(labels, scores)
        general.update_state(labels, scores)
    assert torch.equal(fast.total, general.total) and torch.equal(fast.count, general.count)
    assert fast.count.item() == 64 + 7 + 512 + 1
    assert torch.equal(fast.result(), general.result())


def test_sparse_accuracy_other_inputs_take_the_general_path():
    scores = torch.randn(6, 4, requires_grad=True)
    cases = [
        (torch.tensor([0, 1, 2, 3, 0, 1]), {"sample_weight": torch.tensor([1.0, 0, 1, 0, 1, 0])}),
        (torch.tensor([[0], [1], [2], [3], [0], [1]]), {}),  # a label column
        (torch.tensor([0.0, 1, 2, 3, 0, 1]), {}),  # float labels
        ([0, 1, 2, 3, 0, 1], {}),  # a list
    ]
    for labels, kwargs in cases:
        fast, general = metrics.SparseCategoricalAccuracy(), general_accuracy()
        fast.update_state(labels, scores, **kwargs)
        general.update_state(labels, scores, **kwargs)
        assert torch.equal(fast.total, general.total) and torch.equal(fast.count, general.count), labels
    half = metrics.SparseCategoricalAccuracy(dtype="float16")
    half.update_state(torch.tensor([0, 1]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert half.total.dtype == torch.float16 and half.result().item() == 0.5


def test_sparse_accuracy_reports_mismatched_shapes():
    metric = metrics.SparseCategoricalAccuracy()
    with pytest.raises(ValueError, match="cannot update on inputs of shapes"):
        metric.update_state(torch.tensor([0, 1, 2]), torch.randn(4, 3))


def test_sample_counts_are_cached_tensors_only_where_exact():
    count = torch.zeros(())
    first, again = sample_count(64, count), sample_count(64, count)
    assert isinstance(first, torch.Tensor) and first is again and first.item() == 64 and first.dtype == torch.float32
    assert sample_count(64, torch.zeros((), dtype=torch.float64)).dtype == torch.float64
    assert sample_count(2049, torch.zeros((), dtype=torch.float16)) == 2049  # a float16 tensor would hold 2048


def test_mean_counts_as_adding_the_number_would():
    for dtype, batch in (("float32", 64), ("float16", 2049), ("float64", 3)):
        mean = metrics.Mean(dtype=dtype)
        mean.update_state(torch.tensor(1.0))  # a scalar counts 1
        expected = torch.ones((), dtype=mean.count.dtype)
        for _ in range(3):
            mean.update_state(torch.ones(batch))
            expected.add_(batch)
        assert torch.equal(mean.count, expected), dtype
