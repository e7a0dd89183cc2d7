"""danlu files are recognised by content; foreign and damaged files get errors that say what
they are, and nothing is ever unpickled."""

import pickle
import zipfile

import pytest
import torch

from danlu.saving import files


def write_weights(path):
    files.write(path, {"w": torch.arange(6.0).reshape(2, 3)}, {"note": "x"}, files.WEIGHTS)


def test_round_trip_keeps_tensors_and_description(tmp_path):
    write_weights(tmp_path / "a.bin")
    description, tensors = files.read(tmp_path / "a.bin", files.WEIGHTS)
    assert description == {"note": "x", "format": files.WEIGHTS}
    assert torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3))


def test_a_file_of_another_danlu_kind_says_what_it_is_and_how_to_load_it(tmp_path):
    files.write(tmp_path / "m.keras", {}, {}, files.MODEL)
    with pytest.raises(files.FileFormatError, match=r"is a whole-model file \(model.save\), not a weights file.*load_model"):
        files.read(tmp_path / "m.keras", files.WEIGHTS)


def test_a_torch_save_pickle_is_named_and_not_unpickled(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=r"is a PyTorch pickle \(torch.save\); danlu never unpickles.*weights_only=True"):
        files.read(path, files.WEIGHTS)


def test_a_plain_pickle_and_keras_files_are_named(tmp_path):
    (tmp_path / "p.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="is a Python pickle"):
        files.read(tmp_path / "p.safetensors", files.MODEL)
    (tmp_path / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match="is an HDF5 file .*set_weights"):
        files.read(tmp_path / "w.h5", files.WEIGHTS)
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", "")
    with pytest.raises(ValueError, match=r"is a Keras archive \(.keras\)"):
        files.read(tmp_path / "m.keras", files.MODEL)


def test_truncated_files_give_their_sizes(tmp_path):
    path = tmp_path / "w.safetensors"
    write_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError, match=rf"is truncated \({len(data) - 5} of {len(data)} bytes\)"):
        files.read(path, files.WEIGHTS)
    path.write_bytes(data[:20])
    with pytest.raises(ValueError, match="is truncated"):
        files.read(path, files.WEIGHTS)
    path.write_bytes(data[:3])
    with pytest.raises(ValueError, match="is truncated"):
        files.read(path, files.WEIGHTS)


def test_safetensors_files_from_elsewhere_are_told_apart(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="safetensors file that danlu did not write"):
        files.read(tmp_path / "other.safetensors", files.WEIGHTS)


def test_danlu_0_1_weight_files_still_load(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, tmp_path / "old.safetensors", metadata={"format": "danlu"})
    _, tensors = files.read(tmp_path / "old.safetensors", files.WEIGHTS)
    assert torch.equal(tensors["w"], torch.ones(2))


@pytest.mark.parametrize("first_byte", [0x80, ord("P")])
def test_a_header_length_starting_with_another_formats_magic_byte_is_still_safetensors(tmp_path, first_byte):
    # The 8-byte header length of a danlu file can begin with pickle's 0x80 or zip's "P" (the
    # length is a multiple of 8, so HDF5's 0x89 cannot occur): the content check must
    # recognise the safetensors header first.
    path = tmp_path / "weights.safetensors"
    for pad in range(1024):
        files.write(path, {"w": torch.zeros(3)}, {"pad": "x" * pad}, files.WEIGHTS)
        if path.read_bytes()[0] == first_byte:
            break
    else:
        pytest.fail(f"no header length starts with {first_byte:#x}")
    description, tensors = files.read(path, files.WEIGHTS)
    assert len(description["pad"]) == pad and torch.equal(tensors["w"], torch.zeros(3))
