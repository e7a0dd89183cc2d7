"""Atomic file writes: a temporary file in the same folder, flushed, fsynced, renamed, and
the folder fsynced, so that after a crash the path holds the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import tempfile

#: Temporary files start with this prefix; nothing danlu reads ever has it.
TEMPORARY_PREFIX = ".danlu-tmp-"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one
    rename, on failure it is removed and ``path`` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {path!r}: the folder {folder!r} does not exist.")
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=os.path.basename(path), dir=folder)
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
