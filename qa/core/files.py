"""Writing a file so that a crash leaves either the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_dir", "replace_file", "replace_text"]


def replace_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically and durably (see `_replace`)."""
    _replace(path, lambda f: f.write(text.encode("utf-8")))


def replace_file(path: Path, source: Path) -> None:
    """Copy `source` over `path` atomically and durably (see `_replace`)."""
    def copy(f: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)

    _replace(path, copy)


def _replace(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a temporary file beside `path` (removed if the write fails) and rename it over
    `path`: a crash leaves the old content or the new, never half. A link is followed, and
    the file keeps its mode."""
    path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
