"""Writing a file so that a crash leaves either the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["create_text", "fsync_dir", "replace_file", "replace_text"]


def replace_text(path: Path, text: str, follow_links: bool = True) -> None:
    """Write `text` to `path` atomically and durably (see `_replace`)."""
    _replace(path, lambda f: f.write(text.encode("utf-8")), follow_links)


def replace_file(path: Path, source: Path) -> None:
    """Copy `source` over `path` atomically and durably (see `_replace`)."""
    def copy(f: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)

    _replace(path, copy)


def create_text(path: Path, text: str) -> bool:
    """Create `path` holding `text`, whole or not at all, unless something is there already;
    whether it was created here (another process may have created it first)."""
    tmp = _written_beside(path, lambda f: f.write(text.encode("utf-8")))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return True


def _replace(path: Path, write: Callable[[BinaryIO], object], follow_links: bool = True
             ) -> None:
    """Write a temporary file beside `path` and rename it over `path`: a crash leaves the old
    content or the new, never half. A link is followed (or, without `follow_links`, replaced
    by the file); the file keeps its mode (a new one gets the umask's)."""
    path = Path(os.path.realpath(path)) if follow_links \
        else Path(os.path.realpath(path.parent)) / path.name
    tmp = _written_beside(path, write)
    try:
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _written_beside(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """A new hidden temporary file beside `path`, written by `write` and flushed to disk
    (removed if the write fails)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
