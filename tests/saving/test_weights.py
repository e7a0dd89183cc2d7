"""save_weights / load_weights: safetensors, atomic writes, architecture checks."""

import os

import pytest
import torch

import danlu
from danlu import layers
from danlu.saving import atomic_path


def built_model(units=4):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(units, input_shape=(3,)), layers.BatchNormalization(), layers.Dense(2)])
    model(torch.zeros(2, 3))
    return model


def test_round_trip_restores_parameters_and_buffers(tmp_path):
    model = built_model()
    path = tmp_path / "model.weights.safetensors"
    model.save_weights(path)
    other = built_model()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_weights(path)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), name
    with open(path, "rb") as file:  # a safetensors file: an 8-byte header length, then JSON
        header = file.read(9)
    assert header[8:9] == b"{"


def test_loading_another_architecture_says_what_differs_and_changes_nothing(tmp_path):
    path = tmp_path / "small.safetensors"
    built_model(units=4).save_weights(path)
    other = built_model(units=5)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match="different shapes: layers.0.weight: file \\(4, 3\\), model \\(5, 3\\)"):
        other.load_weights(path)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())


def test_unbuilt_models_and_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="needs a built model"):
        danlu.Sequential([layers.Dense(2)]).save_weights(tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError, match="No file at"):
        built_model().load_weights(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("name", ["w.weights.h5", "w.pt", "w"])
def test_any_file_name_holds_danlu_weights(tmp_path, name):
    model = built_model()
    model.save_weights(tmp_path / name)
    other = built_model(units=4)
    with torch.no_grad():
        for p in other.parameters():
            p.zero_()
    other.load_weights(tmp_path / name)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as file:
                file.write(b"half")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["w.safetensors"]
