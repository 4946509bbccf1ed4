"""Writing a file so that a crash leaves either the old content or the new, never half."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "replace_text"]


def replace_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically and durably (a temporary file beside it, renamed)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
