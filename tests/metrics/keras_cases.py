"""Shared pieces of the metric oracle tests: input makers and a side-by-side comparison of a
danlu metric with the Keras 3.15 metric of the same name (torch backend)."""

import numpy as np

from tests.oracle import keras, to_numpy

RTOL, ATOL = 1e-5, 1e-6


def binary(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float32)


def probabilities(rng, shape):
    return rng.uniform(0, 1, size=shape).astype(np.float32)


def edged_probabilities(rng, shape):
    """Probabilities with exact 0, 1 and 0.5 in them (threshold and bucket edges)."""
    p = probabilities(rng, shape)
    flat = p.reshape(-1)
    flat[0], flat[-1], flat[flat.size // 2], flat[1] = 0.0, 1.0, 0.5, 1.0
    return p


def tied(rng, shape):
    """Scores from {0, 0.5, 1}: many ties with the k-th largest and with the thresholds."""
    return (rng.integers(0, 3, size=shape) / 2).astype(np.float32)


def normal(rng, shape):
    return rng.normal(size=shape).astype(np.float32)


def one_hot(rng, shape):
    return np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], size=shape[:-1])]


def sparse(rng, shape):
    return rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int64)


def weights(rng, shape):
    return rng.uniform(0, 2, size=shape[:1]).astype(np.float32)


def zero_weights(rng, shape):
    return np.zeros(shape[:1], np.float32)


def keras_metric(name, kwargs):
    return getattr(keras().metrics, name)(**kwargs)


def feed(ours, theirs, batches):
    """``batches``: ``(y_true, y_pred, sample_weight)`` triples, given to both metrics."""
    for y_true, y_pred, sample_weight in batches:
        ours.update_state(y_true, y_pred, sample_weight=sample_weight)
        theirs.update_state(y_true, y_pred, sample_weight=sample_weight)


def random_batches(rng, true_kind, pred_kind, shape=(8, 4), count=3, weight_kind=weights):
    """``count`` batches; the first without weights, the others with ``weight_kind``."""
    return [
        (true_kind(rng, shape), pred_kind(rng, shape),
         None if i == 0 or weight_kind is None else weight_kind(rng, shape))
        for i in range(count)
    ]


def assert_same_state_and_result(ours, theirs, rtol=RTOL, atol=ATOL):
    """Same result (value and dtype) and the same variables: names, shapes, dtypes, values."""
    ours_result, theirs_result = ours.result(), theirs.result()
    np.testing.assert_allclose(to_numpy(ours_result), to_numpy(theirs_result), rtol=rtol, atol=atol)
    assert str(ours_result.dtype) == str(theirs_result.dtype)
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    for mine, reference in zip(ours.variables, theirs.variables):
        assert tuple(mine.shape) == tuple(reference.shape), mine.name
        assert str(mine.dtype).removeprefix("torch.") == reference.dtype, mine.name
        np.testing.assert_allclose(to_numpy(mine), keras().ops.convert_to_numpy(reference), rtol=rtol, atol=atol,
                                   err_msg=mine.name)
