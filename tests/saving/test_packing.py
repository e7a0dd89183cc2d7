"""pack / unpack: nested state through JSON and flat tensors, exactly."""

import json

import numpy as np
import torch

from danlu.saving import packing


def test_round_trip_is_exact_for_int_keys_tuples_and_tensors():
    state = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2, 2)}, 1: {}},
        "param_groups": [{"params": [0, 1], "betas": (0.9, 0.999), "lr": 1e-3, "name": None}],
        "danlu": {"iterations": 7, "flag": True, "array": np.arange(3)},
        "10": "a string key that looks like a number",
    }
    structure, tensors = packing.pack(state, "optimizer")
    restored = packing.unpack(json.loads(json.dumps(structure)), tensors)
    assert set(restored["state"]) == {0, 1} and restored["10"] == state["10"]
    assert torch.equal(restored["state"][0]["exp_avg"], torch.ones(2, 2))
    assert restored["param_groups"][0]["betas"] == (0.9, 0.999)
    assert restored["danlu"]["iterations"] == 7 and restored["danlu"]["flag"] is True
    assert torch.equal(restored["danlu"]["array"], torch.arange(3))
    assert all(key.startswith("optimizer/") for key in tensors)


def test_objects_that_cannot_be_stored_are_named():
    import pytest

    with pytest.raises(TypeError, match="Cannot store state/x=<object"):
        packing.pack({"x": object()})
