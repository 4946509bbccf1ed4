"""Store uploaded article files under `<index_dir>/uploads/` with safe names and limits;
keep only those the index took."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from qa.index.generations import UPLOADS
from qa.index.load import SUPPORTED_SUFFIXES as ALLOWED_SUFFIXES
from qa.index.load import location

from qa.core.errors import InputError
from qa.core.settings import Settings

__all__ = [
    "ALLOWED_SUFFIXES",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_FILES",
    "UploadError",
    "cached_uploads",
    "drop_unindexed",
    "removing_uploads",
    "safe_name",
    "store_uploads",
    "uploaded_names",
]

MAX_UPLOAD_FILES = 20
MAX_UPLOAD_BYTES = Settings.max_file_bytes


class UploadError(InputError):
    """An upload was refused; the message says why, in one line."""


def safe_name(name: str) -> str:
    """A plain file name from an uploaded one: no directories, only letters (of any script,
    accents kept: "Zürich.txt"), digits and `._-`, never starting with a dot, at most 200
    bytes."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r"\.{2,}", ".", re.sub(r"[^\w.-]+", "_", stem)).strip("._-")
    stem = stem.encode()[:200].decode(errors="ignore").rstrip("._-") \
        or "article"  # inner dots stay: "ferry.html.bak" is refused under its own name
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:8]
    return f"{stem}.{suffix}" if suffix else stem


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _target(folder: Path, name: str, digest: str, taken: Collection[str]) -> Path:
    """`folder/name`, or `name-2`, `name-3`… if a different file already has that name, or
    the name is `taken`."""
    stem, dot, suffix = name.rpartition(".")
    for i in range(1, 1000):
        candidate = folder / (name if i == 1 else f"{stem}-{i}{dot}{suffix}")
        if candidate.name in taken:
            continue
        if not candidate.exists() or _digest(candidate) == digest:
            return candidate
    raise UploadError(f"{name}: too many uploads with this name")


def store_uploads(paths: list[str], index_dir: str | Path,
                  max_files: int = MAX_UPLOAD_FILES, max_bytes: int = MAX_UPLOAD_BYTES,
                  max_total: int = Settings.max_uploads_bytes, taken: Collection[str] = ()
                  ) -> tuple[list[Path], list[str]]:
    """Copy uploaded files into `<index_dir>/uploads/`, under names not `taken` (by another
    server's uploads, `names_uploaded_elsewhere`); returns the stored paths and why each
    other file was refused (too large, empty, not an article format, gone, or past what the
    uploads may hold together, `max_total` bytes).

    Raises `UploadError` when there are too many files, or when every one is refused."""
    if len(paths) > max_files:
        raise UploadError(f"Too many files: {len(paths)} (at most {max_files} per upload).")
    checked: list[tuple[Path, str, int]] = []
    refused: list[str] = []
    for raw in paths:
        src = Path(raw)
        name = safe_name(src.name)
        try:
            size = src.stat().st_size
        except FileNotFoundError:  # expired, or taken by another session's same upload
            size = -1
        if not name.endswith(ALLOWED_SUFFIXES):
            refused.append(f"{name}: not an article file (use {', '.join(ALLOWED_SUFFIXES)}).")
        elif size < 0:
            refused.append(f"{name}: the upload is no longer on the server; add it again.")
        elif size > max_bytes:
            refused.append(f"{name}: too large ({size / 1048576:.1f} MB; the limit is "
                           f"{max_bytes / 1048576:.0f} MB).")
        elif size == 0:
            refused.append(f"{name}: the file is empty.")
        else:
            checked.append((src, name, size))
    folder = Path(index_dir) / UPLOADS
    room = max_total - _uploaded_bytes(folder)
    fitting = []
    for src, name, size in checked:
        if size > room:
            refused.append(f"{name}: the articles uploaded here are at their limit "
                           f"({max_total / 1048576:.0f} MB together); whoever runs this "
                           "server can remove some or raise QA_MAX_UPLOADS_MB.")
            continue
        room -= size
        fitting.append((src, name, size))
    checked = fitting
    if not checked:
        raise UploadError(" ".join(refused))
    folder.mkdir(parents=True, exist_ok=True)
    stored: list[Path] = []
    created: list[Path] = []
    for src, name, _ in checked:
        tmp = None
        try:
            target = _target(folder, name, _digest(src), taken)
            if not target.exists():
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(src, tmp)
                tmp.replace(target)
                created.append(target)
        except OSError as exc:  # the disk is full, the cached copy went meanwhile
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            for done in created:  # (not the files uploaded before: they are articles)
                done.unlink(missing_ok=True)
            raise UploadError(f"{name}: could not be stored ({exc.strerror}).") from None
        stored.append(target)
    return stored, refused


def _uploaded_bytes(folder: Path) -> int:
    """What the files uploaded to `folder` hold together."""
    total = 0
    for name in uploaded_names(folder.parent):
        with contextlib.suppress(OSError):  # (removed meanwhile)
            total += (folder / name).stat().st_size
    return total


def drop_unindexed(stored: Iterable[Path], kept_files: set[str],
                   held_before: Collection[Path]) -> list[Path]:
    """Delete the stored uploads whose articles the index did not take (`kept_files`, see
    `BuildReport.kept_files`): refused, empty and duplicate files; but not those already
    `held_before` the upload (the same file uploaded again: its article may be stored from
    another place now, this file being the copy it falls back to). Returns the others."""
    kept = []
    for path in stored:
        if location(path) in kept_files or path in held_before:
            kept.append(path)
        else:
            path.unlink(missing_ok=True)
    return kept


def uploaded_names(index_dir: str | Path) -> list[str]:
    """The files stored in `<index_dir>/uploads/` (the articles uploaded here), by name."""
    folder = Path(index_dir) / UPLOADS
    try:
        return sorted(p.name for p in folder.iterdir()
                      if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
    except OSError:  # none uploaded yet
        return []


@contextlib.contextmanager
def removing_uploads(names: Iterable[str], index_dir: str | Path) -> Iterator[list[Path]]:
    """Take the uploaded files named `names` out of `<index_dir>/uploads/` (hidden beside
    them, where indexing does not look) for the block, which drops their articles
    (`QA.add_files` on that folder); yields their paths. They are deleted if the block ends
    well, else put back. Raises `UploadError` for a name that is not an uploaded file there
    (nothing is touched then)."""
    folder = Path(index_dir) / UPLOADS
    held = set(uploaded_names(index_dir))
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in held]  # (so never "../" or a folder)
    if unknown:
        raise UploadError(f"{', '.join(map(repr, unknown[:3]))}: not an uploaded article "
                          "(it may have been removed already).")
    aside = {folder / name: folder / f".{name}.removing" for name in names}
    moved: list[tuple[Path, Path]] = []
    try:
        for path, hidden in aside.items():  # one that cannot be moved puts the rest back
            path.rename(hidden)
            moved.append((path, hidden))
        yield list(aside)
    except BaseException:
        for path, hidden in moved:
            hidden.rename(path)
        raise
    for hidden in aside.values():
        hidden.unlink(missing_ok=True)


def cached_uploads(paths: set[str]) -> tuple[int, int]:
    """(bytes, files) of the files in `paths` (Gradio's upload cache) that still exist;
    the others are dropped from `paths`."""
    size = files = 0
    for name in list(paths):
        try:
            size += os.stat(name).st_size
            files += 1
        except OSError:
            paths.discard(name)
    return size, files
