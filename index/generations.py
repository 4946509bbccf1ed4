"""The index directory as a small database: generation names, the `CURRENT` pointer, each
generation's file records (size and sha256), and removal of superseded generations.

`CURRENT` holds one generation name (`gen-...`) and nothing else; a generation is a real
folder directly inside the index directory, never a link. Generations are ordered by the
`sequence` their manifest records (older indexes have none: they sort first, by name).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import IndexDamagedError
from qa.core.files import create_text, replace_text

__all__ = ["DOCUMENTS", "POINTER", "UPLOADS", "GenerationDamaged", "Pointer", "file_records",
           "foreign_entries", "generations", "is_index", "new_name", "prune", "read_pointer",
           "sequence_of", "set_pointer", "uploads_owner", "verify_checksums", "verify_sizes"]

POINTER = "CURRENT"
#: the index's own article folders: files uploaded in the browser (`qa serve`), and texts
#: added through LangChain (`qa.vectorstore`). A rebuild reads them again.
UPLOADS = "uploads"
DOCUMENTS = "documents"
#: in the uploads folder: the id of the server whose chat uploads it holds (`uploads_owner`)
UPLOADS_OWNER = ".server-id"
_OWNER_ID = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"gen-[A-Za-z0-9_-]{1,120}")
_LEFTOVER = (".partial", ".deleting")
#: what an index directory holds besides its generations and their leftovers: the pointer,
#: the writer's lock, files uploaded in the browser and texts added through LangChain.
_OWN = {POINTER, ".lock", UPLOADS, DOCUMENTS}
#: a new CURRENT being written (`qa.core.files.replace_text`), left by a crash
_POINTER_TMP = re.compile(rf"\.{POINTER}(\.\w+)?\.tmp")


class GenerationDamaged(Exception):  # internal: open_index turns it into a QAError
    """One generation cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Pointer:
    """What `CURRENT` says: a valid generation `name`, or the `problem` with it."""

    name: str | None
    problem: str | None = None


def new_name() -> str:
    return f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"


def read_pointer(index_dir: Path) -> Pointer:
    """Read and validate `CURRENT`; `Pointer(None)` when there is none."""
    pointer = index_dir / POINTER
    if pointer.is_symlink():
        return Pointer(None, "CURRENT is a link, not the file the index writes")
    try:
        with pointer.open("rb") as f:
            raw = f.read(256)
    except FileNotFoundError:
        held = [g.name for g in generations(index_dir)]  # (folders named so, with a manifest)
        return Pointer(None, "CURRENT is missing" if is_index(index_dir, held) else None)
    except OSError as exc:
        return Pointer(None, f"CURRENT is unreadable ({exc.strerror})")
    name = raw.decode("ascii", "replace").strip()
    if not _NAME.fullmatch(name):
        shown = name[:60] + ("..." if len(name) > 60 else "")
        return Pointer(None, f"CURRENT holds {shown!r}, not the name of a generation")
    if (index_dir / name).is_symlink():
        return Pointer(None, f"CURRENT names {name}, a link, not a generation folder")
    return Pointer(name)


def set_pointer(index_dir: Path, name: str) -> None:
    """Make `name` current atomically and durably (a `CURRENT` that is a link is replaced,
    never written through)."""
    replace_text(index_dir / POINTER, name + "\n", follow_links=False)


def uploads_owner(index_dir: Path, make: bool = False) -> str | None:
    """The id of the server whose chat uploads `<index_dir>/uploads` holds, by which servers
    sharing a PostgreSQL store tell their uploads apart even where their index folders have
    the same path. Made at random by the first writer that needs it (`make`); None before.
    Raises `IndexDamagedError` when the file holds no id."""
    file = index_dir / UPLOADS / UPLOADS_OWNER
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        if not make:
            return None
        file.parent.mkdir(parents=True, exist_ok=True)
        create_text(file, uuid.uuid4().hex + "\n")  # (or another writer's, made just now)
        return uploads_owner(index_dir)
    except OSError as exc:  # a link (ELOOP), unreadable
        text = f"cannot be read ({exc.strerror})"
    else:
        with os.fdopen(fd, "rb") as f:
            held = f.read(64).decode("ascii", "replace").strip()
        if _OWNER_ID.fullmatch(held):
            return held
        text = "holds no server id"
    raise IndexDamagedError(
        f"{file} {text}. Restore it from a backup: the articles uploaded here are recorded "
        "in the store under the id it held. (Deleted, a new id is made, and those articles "
        "stay in the store as another server's uploads, which this server cannot remove.)")


def sequence_of(generation: Path) -> int:
    """The generation's sequence number; -1 when its manifest is unreadable, 0 before they."""
    try:
        verify_sizes(generation, {"manifest.json": {}})
        manifest = json.loads((generation / "manifest.json").read_text())
        return int(manifest.get("sequence", 0))
    # OverflowError: a sequence of 1e999; RecursionError: JSON nested past Python's limit
    except (GenerationDamaged, OSError, ValueError, TypeError, AttributeError, OverflowError,
            RecursionError):
        return -1


def _leftover(name: str) -> bool:
    """Whether `name` is an unfinished build or a generation being removed."""
    return name.startswith(".") and name.endswith(_LEFTOVER) and bool(
        _NAME.fullmatch(name[1:].rsplit(".", 1)[0]))


def foreign_entries(index_dir: Path) -> list[str]:
    """What `index_dir` holds that no index writes, when it holds no index (no `CURRENT`
    naming a generation, no generation with a manifest): a folder of other things, which
    writing an index into would mix with generations and prune. [] for an index, a new folder
    or an empty one."""
    try:
        names = sorted(p.name for p in index_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    if is_index(index_dir, names) or read_pointer(index_dir).name is not None:
        return []  # (an index whose generations are all damaged: a rebuild may write there)
    return [n for n in names if not (n in _OWN - {POINTER} or _leftover(n)
                                     or _POINTER_TMP.fullmatch(n))]


def is_index(folder: Path, names: list[str]) -> bool:
    """Whether `folder`, which holds the entries `names`, holds an index's generations (one
    with its manifest and list of articles, or one that `CURRENT` names): a file merely named
    `CURRENT` (a LevelDB's), or a folder merely named `gen-...` holding a `manifest.json` (a
    web app's), does not make an index."""
    held = [n for n in names if _NAME.fullmatch(n)]
    if any((folder / n / "manifest.json").is_file() and (folder / n / "articles.jsonl").is_file()
           for n in held):
        return True
    return POINTER in names and read_pointer(folder).name in held  # (each one damaged)


def generations(index_dir: Path) -> list[Path]:
    """The generation folders, newest first."""
    try:
        found = [p for p in index_dir.iterdir()
                 if _NAME.fullmatch(p.name) and not p.is_symlink() and p.is_dir()]
    except FileNotFoundError:
        return []
    return sorted(found, key=lambda p: (sequence_of(p), p.name), reverse=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_records(generation: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file in a generation being written (the manifest excepted)."""
    return {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(generation.iterdir()) if p.name != "manifest.json"}


def verify_sizes(generation: Path, records: dict[str, dict]) -> None:
    """Raise `GenerationDamaged` unless every recorded file is a regular file of its recorded
    size (records without a size: only that it is a regular file)."""
    for name, record in records.items():
        if not isinstance(record, dict) or not isinstance(name, str) or "/" in name \
                or "\x00" in name or name.startswith("."):
            raise GenerationDamaged(f"manifest.json has a damaged file record ({name!r})")
        try:
            found = (generation / name).lstat()
        except FileNotFoundError:
            raise GenerationDamaged(f"{name} is missing") from None
        if not stat.S_ISREG(found.st_mode):
            raise GenerationDamaged(f"{name} is not a regular file")
        if "size" in record and found.st_size != record["size"]:
            raise GenerationDamaged(f"{name} is {found.st_size} bytes, the manifest says "
                                    f"{record['size']}")


def verify_checksums(generation: Path, records: dict[str, dict]) -> list[str]:
    """What differs from the recorded sha256s (sizes are checked by `verify_sizes`)."""
    return [f"{name} does not match its recorded sha256 (its content changed)"
            for name, record in records.items() if _sha256(generation / name) != record.get(
                "sha256")]


def prune(index_dir: Path, keep: set[str]) -> None:
    """Remove unfinished builds, and the generations older than the newest in `keep` that are
    not in `keep`. Call with the writer lock held, right after a complete generation became
    current. Each one is renamed away first, so a reader sees it whole or not at all."""
    ordered = generations(index_dir)
    kept = [i for i, g in enumerate(ordered) if g.name in keep]
    if not kept:
        return
    for old in ordered[kept[0] + 1:]:
        if old.name not in keep:
            doomed = index_dir / f".{old.name}.deleting"
            try:
                os.rename(old, doomed)
            except OSError:  # (read-only, immutable): the index has changed all the same;
                continue  # a later build removes it
            shutil.rmtree(doomed, ignore_errors=True)
    for leftover in index_dir.iterdir():
        if _leftover(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)
