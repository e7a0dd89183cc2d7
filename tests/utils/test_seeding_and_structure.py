"""set_random_seed (reproducible draws; the same draws as Keras') and the (x, y,
sample_weight) packing helpers against Keras 3.15.1."""

import random

import numpy as np
import pytest
import torch

from danlu.utils import get_random_seed, pack_x_y_sample_weight, set_random_seed, unpack_x_y_sample_weight
from tests.oracle import keras


def draws():
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        np.random.randint(0, 10**6, size=2).tolist(),
        torch.rand(3).tolist(),
        torch.randperm(10).tolist(),
        torch.nn.init.xavier_uniform_(torch.empty(2, 2)).flatten().tolist(),
    )


def test_same_seed_same_draws_different_seed_different_draws():
    set_random_seed(1234)
    first = draws()
    set_random_seed(1234)
    assert draws() == first
    set_random_seed(1235)
    other = draws()
    assert all(a != b for a, b in zip(first, other))
    assert get_random_seed() == 1235


@pytest.mark.oracle
@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
def test_draws_after_the_seed_equal_keras(seed):
    keras().utils.set_random_seed(seed)
    theirs = draws()
    set_random_seed(seed)
    assert draws() == theirs


def test_seeds_every_cuda_device(monkeypatch):
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded.append)
    set_random_seed(7)
    assert seeded == [7]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_draws_repeat():
    set_random_seed(3)
    first = torch.rand(4, device="cuda").tolist()
    set_random_seed(3)
    assert torch.rand(4, device="cuda").tolist() == first


def test_fit_repeats_under_the_same_seed():
    import danlu

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def run():
        set_random_seed(5)
        model = danlu.Sequential([danlu.layers.Dense(8, activation="relu"), danlu.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return [w.tolist() for w in model.get_weights()]

    assert run() == run()


@pytest.mark.parametrize("seed,match", [
    (1.0, "seed must be an int; received seed=1.0"),
    (True, "seed must be an int"),
    ("3", "seed must be an int"),
    (-1, "seed must be in \\[0, 2\\*\\*32\\)"),
    (2**32, "seed must be in"),
])
def test_set_random_seed_refuses_bad_seeds(seed, match):
    with pytest.raises(ValueError, match=match):
        set_random_seed(seed)


def test_numpy_int_seeds_are_accepted():
    set_random_seed(np.int64(9))
    assert get_random_seed() == 9 and type(get_random_seed()) is int


X, Y, W = torch.ones(2, 3), torch.zeros(2), torch.full((2,), 0.5)

UNPACK_CASES = [X, (X,), (X, Y), (X, Y, W), [X, Y], [X], {"a": X}, ((X, X), Y), (X, None, W)]


@pytest.mark.oracle
@pytest.mark.parametrize("data", UNPACK_CASES)
def test_unpack_equals_keras(data):
    ours = unpack_x_y_sample_weight(data)
    theirs = keras().utils.unpack_x_y_sample_weight(data)
    assert len(ours) == 3 and all(a is b for a, b in zip(ours, theirs))


@pytest.mark.oracle
@pytest.mark.parametrize("data", [(), (X, Y, W, W)])
def test_unpack_refuses_other_tuples_as_keras(data):
    with pytest.raises(ValueError):
        keras().utils.unpack_x_y_sample_weight(data)
    with pytest.raises(ValueError, match="x, \\(x,\\), \\(x, y\\) or \\(x, y, sample_weight\\)"):
        unpack_x_y_sample_weight(data)


@pytest.mark.oracle
@pytest.mark.parametrize("args", [(X,), (X, Y), (X, Y, W), ((X, X),), ([X],), (X, None, W), ((X, X), Y)])
def test_pack_equals_keras(args):
    ours, theirs = pack_x_y_sample_weight(*args), keras().utils.pack_x_y_sample_weight(*args)
    assert type(ours) is type(theirs)
    if isinstance(ours, tuple):
        assert len(ours) == len(theirs) and all(a is b for a, b in zip(ours, theirs))
    else:
        assert ours is theirs


def test_pack_then_unpack_round_trips():
    assert unpack_x_y_sample_weight(pack_x_y_sample_weight(X, Y, W)) == (X, Y, W)
    assert unpack_x_y_sample_weight(pack_x_y_sample_weight((X, X))) == ((X, X), None, None)
