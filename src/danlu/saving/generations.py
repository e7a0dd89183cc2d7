"""Generations of one danlu file in a folder, each checked by a manifest, so that a damaged
newest file falls back to the one before it.

The folder holds ``<stem>-<number>.safetensors`` (the last ``keep`` generations) and
``<stem>.manifest.json``: ``{"format": "danlu.generations/1", "generations": [{"file",
"number", "bytes", "sha256"}, ...]}``, oldest first. A write puts the new file in place
atomically, *then* replaces the manifest atomically, then removes the generations it no
longer lists; a kill at any instant leaves a manifest that lists only complete files. A file
the manifest does not list (a write killed before its manifest) is never read, and is
replaced by the next write of the same number.

Reading verifies the newest listed file (size, SHA-256, then its content); when it fails it
warns, naming the damaged file and the one used instead, and reads the previous generation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings

import torch

from danlu.saving import files
from danlu.saving.atomic import TEMPORARY_PREFIX, atomic_path

FORMAT = "danlu.generations/1"


def manifest_path(folder, stem: str) -> str:
    return os.path.join(folder, f"{stem}.manifest.json")


def _file_name(stem: str, number: int) -> str:
    return f"{stem}-{number:06d}.safetensors"


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(folder, stem: str, tensors: dict[str, torch.Tensor], description: dict, kind: str, keep: int = 2) -> str:
    """Write a new generation of ``stem`` in ``folder`` (atomically, then its manifest entry)
    and drop the generations beyond the last ``keep``; returns the new file's path."""
    listed = _listed(folder, stem)
    number = listed[-1]["number"] + 1 if listed else 1
    name = _file_name(stem, number)
    path = os.path.join(folder, name)
    files.write(path, tensors, description, kind)
    entry = {"file": name, "number": number, "bytes": os.path.getsize(path), "sha256": sha256(path)}
    kept = [*listed, entry][-keep:]
    with atomic_path(manifest_path(folder, stem)) as temporary, open(temporary, "w") as file:
        json.dump({"format": FORMAT, "generations": kept}, file, indent=1)
        file.write("\n")
    _remove_unlisted(folder, stem, {e["file"] for e in kept})
    return path


def read_newest(folder, stem: str, kind: str):
    """``(description, tensors, path)`` of the newest intact generation, or None when the
    folder has none. A damaged newest generation gives a warning naming it and the file read
    instead; when every generation is damaged, a `files.FileFormatError` names each one."""
    listed = _listed(folder, stem, warn=True)
    if not listed:
        return None
    damaged = []
    for entry in reversed(listed):
        path = os.path.join(folder, entry["file"])
        problem = _problem(path, entry)
        if problem is None:
            try:
                description, tensors = files.read(path, kind)
            except (files.FileFormatError, FileNotFoundError) as error:
                problem = str(error)
            else:
                if damaged:
                    names = ", ".join(f"{p!r} ({why})" for p, why in damaged)
                    warnings.warn(f"The newest backup is damaged: {names}; resuming from the previous one, {path!r}.",
                                  stacklevel=3)
                return description, tensors, path
        damaged.append((path, problem))
    names = "; ".join(f"{p!r}: {why}" for p, why in damaged)
    raise files.FileFormatError(f"Every backup generation in {os.fspath(folder)!r} is damaged ({names}). "
                                "Delete the folder to start training from the beginning.")


def listed(folder, stem: str) -> list[str]:
    """The paths of the generations the manifest lists, oldest first (not verified)."""
    return [os.path.join(folder, entry["file"]) for entry in _listed(folder, stem)]


def remove_all(folder, stem: str) -> None:
    """Delete every generation of ``stem`` and its manifest (the manifest first)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(manifest_path(folder, stem))
    _remove_unlisted(folder, stem, set())


def _problem(path, entry) -> str | None:
    """Why the file at ``path`` does not match its manifest entry (None: it does)."""
    if not os.path.exists(path):
        return "missing"
    if entry["bytes"] is None:  # listed from the folder, without a manifest: content checks only
        return None
    size = os.path.getsize(path)
    if size != entry["bytes"]:
        return f"truncated or extended: {size} of {entry['bytes']} bytes"
    if sha256(path) != entry["sha256"]:
        return "its SHA-256 checksum does not match (the bytes were changed)"
    return None


def _listed(folder, stem: str, warn: bool = False) -> list[dict]:
    """The manifest's generations, oldest first ([] without a manifest). An unreadable
    manifest lists the generation files present, newest last, unverified (with a warning)."""
    path = manifest_path(folder, stem)
    if not os.path.exists(path):
        return []
    try:
        with open(path) as file:
            manifest = json.load(file)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
        return [dict(e) for e in manifest["generations"]]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        found = sorted(_generation_files(folder, stem).items())
        if warn:
            warnings.warn(f"The backup manifest {path!r} is damaged ({error}); trying the backups present without "
                          "their checksums.", stacklevel=4)
        return [{"file": name, "number": number, "bytes": None, "sha256": None} for number, name in found]


def _generation_files(folder, stem: str) -> dict[int, str]:
    pattern = re.compile(rf"{re.escape(stem)}-(\d{{6}})\.safetensors")
    found = {}
    for name in os.listdir(folder):
        match = pattern.fullmatch(name)
        if match:
            found[int(match.group(1))] = name
    return found


def _remove_unlisted(folder, stem: str, keep: set[str]) -> None:
    """Remove generation files not in ``keep``, and temporaries left by killed writes."""
    generations = set(_generation_files(folder, stem).values())
    for name in os.listdir(folder):
        stale_temporary = name.startswith(TEMPORARY_PREFIX) and stem in name
        if (name in generations and name not in keep) or stale_temporary:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))
