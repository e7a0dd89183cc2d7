"""danlu's files: safetensors containers with a JSON description, written atomically, read
without unpickling anything, recognised by their content (never by their name).

Every file holds tensors and, in the safetensors metadata under ``"danlu"``, a JSON object
whose ``"format"`` names what it is: ``danlu.weights/1`` (`save_weights`), ``danlu.model/1``
(``model.save``), ``danlu.backup/1`` (BackupAndRestore). Reading checks the content first and
explains what a file is when it is not what was asked for: a PyTorch or Python pickle, a
Keras archive or HDF5 file, a truncated file, another danlu kind.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile

import torch

from danlu.saving.atomic import atomic_path

WEIGHTS, MODEL, BACKUP = "danlu.weights/1", "danlu.model/1", "danlu.backup/1"
KINDS = {WEIGHTS: "a weights file (save_weights)", MODEL: "a whole-model file (model.save)", BACKUP: "a BackupAndRestore backup"}
LOADERS = {WEIGHTS: "model.load_weights(path)", MODEL: "danlu.models.load_model(path)", BACKUP: "BackupAndRestore(backup_dir)"}
_MAX_HEADER = 100 * 2**20


class FileFormatError(ValueError):
    """A file that is not the danlu file asked for (a ``ValueError`` naming the path and
    what the file is)."""


def write(path, tensors: dict[str, torch.Tensor], description: dict, kind: str) -> None:
    """Write ``tensors`` and ``description`` (JSON-able; ``"format"`` is set to ``kind``)
    to ``path`` atomically: a crash leaves the previous file or the new one, never half."""
    from safetensors.torch import save_file

    header = json.dumps({**description, "format": kind})
    prepared = {name: value.detach().contiguous().cpu() for name, value in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(prepared, temporary, metadata={"danlu": header})


def read(path, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The description and tensors of the danlu file of ``kind`` at ``path``; a
    `FileFormatError` saying what the file is otherwise (``FileNotFoundError`` when absent)."""
    from safetensors.torch import load_file

    path = os.fspath(path)
    description = read_description(path)
    found = description.get("format")
    if found != kind:
        what = KINDS.get(found, f"a danlu file of format {found!r}")
        advice = f" Load it with {LOADERS[found]}." if found in LOADERS else ""
        raise FileFormatError(f"{path!r} is {what}, not {KINDS[kind]}.{advice}")
    try:
        tensors = load_file(path)
    except Exception as error:  # noqa: BLE001 - any decoding failure is a damaged file
        raise FileFormatError(f"{path!r} is damaged: its tensors cannot be read ({error}).") from None
    return description, tensors


def read_description(path) -> dict:
    """The JSON description of a danlu file, after checking that the file is complete."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file at {path!r}.")
    header = _safetensors_header(path)
    metadata = header.get("__metadata__") or {}
    if "danlu" in metadata:
        try:
            return json.loads(metadata["danlu"])
        except json.JSONDecodeError:
            raise FileFormatError(f"{path!r} is damaged: its danlu description is not valid JSON.") from None
    if metadata.get("format") == "danlu":  # weights files of danlu 0.1
        return {"format": WEIGHTS}
    raise FileFormatError(f"{path!r} is a safetensors file that danlu did not write (no danlu description); "
                          "load its tensors with safetensors.torch.load_file and model.load_state_dict.")


def _safetensors_header(path) -> dict:
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(8)
        if len(head) < 8:
            raise FileFormatError(f"{path!r} is truncated ({size} bytes): not even a file header.")
        (length,) = struct.unpack("<Q", head)
        # A safetensors header (a length, then JSON) is recognised before any other format:
        # its length's first byte may well be a pickle's or a zip's magic byte.
        looks_like_safetensors = length <= _MAX_HEADER and file.read(1) == b"{"
        file.seek(8)
        foreign = None if looks_like_safetensors else _foreign(path, head)
        if foreign is not None:
            raise FileFormatError(foreign)
        if length > _MAX_HEADER:
            raise FileFormatError(f"{path!r} is not a danlu file (it does not start with a safetensors header).")
        if 8 + length > size:
            raise FileFormatError(f"{path!r} is truncated ({size} of at least {8 + length} bytes).")
        raw = file.read(length)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FileFormatError(f"{path!r} is not a danlu file (unreadable header).") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{path!r} is not a danlu file (unreadable header).")
    end = max((entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"), default=0)
    expected = 8 + length + end
    if size < expected:
        raise FileFormatError(f"{path!r} is truncated ({size} of {expected} bytes).")
    return header


def _foreign(path, head: bytes) -> str | None:
    """What a file that is not safetensors is, with what to do about it."""
    never = "danlu never unpickles files"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            names = []
        if any(n.endswith("config.json") for n in names) and any(n.endswith(".weights.h5") for n in names):
            return (f"{path!r} is a Keras archive (.keras). danlu cannot read Keras files: load it in Keras and copy "
                    "the weights over with model.set_weights(keras_model.get_weights()).")
        if any(n.endswith("data.pkl") for n in names):
            return (f"{path!r} is a PyTorch pickle (torch.save); {never}. Load it yourself with "
                    "torch.load(path, weights_only=True) and call model.load_state_dict.")
        return f"{path!r} is a zip archive, not a danlu file."
    if head.startswith(b"\x80"):
        return (f"{path!r} is a Python pickle (torch.save or pickle); {never}. Load it yourself with "
                "torch.load(path, weights_only=True) and call model.load_state_dict.")
    if head.startswith(b"\x89HDF"):
        return (f"{path!r} is an HDF5 file (Keras .h5 weights). danlu cannot read Keras files: load it in Keras "
                "and copy the weights over with model.set_weights(keras_model.get_weights()).")
    return None
