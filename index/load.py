"""Find article files, decode them robustly and parse each format into raw records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import InputError
from index.html_text import html_to_record

__all__ = ["SUPPORTED_SUFFIXES", "Notice", "RawRecord", "decode", "find_files", "load_file"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")

#: JSON fields that may hold the article body / the other metadata, in order of preference.
_BODY_FIELDS = ("body", "text", "content", "article", "story")
_META_FIELDS = {
    "title": ("title", "headline"),
    "source": ("source", "publisher", "site_name", "site"),
    "author": ("author", "authors", "byline"),
    "published": ("published_at", "published", "date", "publishedAt", "pub_date"),
    "url": ("url", "link"),
    "section": ("section", "category"),
}
_BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF")


@dataclass(frozen=True)
class Notice:
    """One line of the report of a build: what happened to which file, and why."""

    path: str
    action: str  # "skipped", "decoded", "refused", "duplicate", ...
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.action}: {self.message}"


@dataclass
class RawRecord:
    """An article as found in a file, before cleaning. `path` names the file (plus `#n` for
    the n-th record of a JSON file)."""

    path: str
    text: str
    fields: dict[str, str] = field(default_factory=dict)


def find_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Notice]]:
    """Expand files and folders into article files. Raises `InputError` for a missing path."""
    files: list[Path] = []
    notices: list[Notice] = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise InputError(f"{given}: no such file or folder")
        if path.is_file():
            files.append(path)
            continue
        found = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not found:
            notices.append(Notice(str(path), "skipped", "folder holds no article files "
                                  f"({', '.join(SUPPORTED_SUFFIXES)})"))
        files.extend(found)
    return files, notices


def decode(data: bytes, path: str) -> tuple[str, Notice | None]:
    """Bytes to text: UTF-8 first, then a detected encoding. Raises `InputError` for binary."""
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
        raise InputError(f"{path}: refused: binary file, not text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise InputError(f"{path}: refused: not text in any known encoding")
    return str(best), Notice(path, "decoded", f"not UTF-8; read as {best.encoding}")


def load_file(path: Path, max_bytes: int) -> tuple[list[RawRecord], list[Notice]]:
    """Read one file into raw records. Raises `InputError` when the file cannot be used."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: skipped: unsupported file type {suffix or '(none)'} "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{name}: refused: {size / 1e6:.1f} MB is over the "
                         f"{max_bytes / 1e6:.1f} MB limit (set QA_MAX_FILE_MB to raise it)")
    data = path.read_bytes()
    text, notice = decode(data, name)
    notices = [notice] if notice else []
    if not text.strip():
        raise InputError(f"{name}: skipped: empty file")
    if suffix in (".json", ".jsonl"):
        records = list(_json_records(text, name, jsonl=suffix == ".jsonl"))
    elif suffix in (".html", ".htm"):
        body, fields = html_to_record(text)
        records = [RawRecord(name, body, fields)]
    else:
        records = [RawRecord(name, text)]
    records = [r for r in records if r.text.strip()]
    if not records:
        raise InputError(f"{name}: skipped: no article text found")
    return records, notices


def _json_records(text: str, name: str, jsonl: bool) -> Iterator[RawRecord]:
    if jsonl:
        objects = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    objects.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{name}: refused: malformed JSON on line {lineno} "
                                     f"({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: refused: malformed JSON at line {exc.lineno} "
                             f"({exc.msg})") from None
        objects = data if isinstance(data, list) else [data]
    many = len(objects) > 1
    for n, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            raise InputError(f"{name}: refused: item {n} is not a JSON object")
        body = next((obj[f] for f in _BODY_FIELDS if isinstance(obj.get(f), str)), "")
        fields = {}
        for key, names in _META_FIELDS.items():
            value = next((obj[f] for f in names if obj.get(f)), "")
            if isinstance(value, list):
                value = " and ".join(str(v) for v in value)
            fields[key] = str(value)
        yield RawRecord(f"{name}#{n}" if many else name, body, fields)
