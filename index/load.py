"""Find article files, decode them robustly and parse each format into raw records."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qa.index.generations import is_index
from qa.index.html_text import html_to_record
from qa.index.markdown_text import markdown_to_record
from qa.index.pdf_text import pdf_to_record

from qa.core.errors import InputError, UnusableFileError
from qa.core.text import decode_entities, json_lines

__all__ = ["BODY_FIELDS", "MAX_JSON_DEPTH", "SUPPORTED_SUFFIXES", "Notice", "RawRecord",
           "decode", "find_files", "load_file", "location"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf")
#: the longest path (resolved) an article is indexed from: a database index entry of it must
#: fit in a third of a page.
MAX_PATH_BYTES = 2000
#: JSON nested deeper than this is refused before parsing (an article needs a handful of levels).
MAX_JSON_DEPTH = 64
# (a string's closing quote is optional: an unclosed one is read once, to the end, not once
# per quote in it)
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')
#: Detection must beat the Western reading's chaos by this much to be used instead of it.
_DETECTION_MARGIN = 0.1

#: JSON fields (and a Markdown front matter's) that may hold the article body / the other
#: metadata, in order of preference.
BODY_FIELDS = ("body", "text", "content", "article", "story", "articleBody")
#: where a feed export keeps its list of articles: {"articles": [...]} (NewsAPI), {"items": ...}
FEED_FIELDS = ("articles", "items", "results", "data", "stories", "entries", "posts")
_META_FIELDS = {
    "title": ("title", "headline"),
    "source": ("source", "publisher", "site_name", "site"),
    "author": ("author", "authors", "byline"),
    "published": ("published_at", "published", "date", "publishedAt", "pub_date",
                  "datePublished", "pubDate"),
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
    #: the other files the message names (the chat shows visitors their names only)
    mentions: tuple[str, ...] = ()

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
    """Expand files and folders into article files. Raises `InputError` for a missing path.

    Symbolic links are never followed out of the folder that holds them: such a link, given
    or found, is skipped with a notice. Links to folders inside a folder are not descended
    (their target is indexed on its own)."""
    files: list[Path] = []
    notices: list[Notice] = []
    for given in paths:
        shown = str(given) if str(given).isprintable() else repr(str(given))
        try:
            path = Path(given).expanduser()
            there = "\0" not in str(given) and path.exists()
        except (ValueError, OSError, RuntimeError) as exc:  # too long a name, no such ~user
            raise InputError(f"{shown[:120]}: not a usable path ({exc})") from None
        if not there:
            raise InputError(f"{shown}: no such file or folder")
        if (notice := _link_outside(path, path.parent) or _badly_named(path)) is not None:
            notices.append(notice)
        elif path.is_file():
            files.append(path)
        else:
            found = _walk(path, notices)
            if not found:
                notices.append(Notice(str(path), "skipped", "folder holds no article files "
                                      f"({', '.join(SUPPORTED_SUFFIXES)})"))
            files.extend(found)
    return files, notices


def location(path: Path) -> str:
    """Where a file sits: its folder resolved, the file itself not (a link keeps its own name,
    so that deleting the link removes its article)."""
    return str(Path(os.path.realpath(path.parent)) / path.name)


def _link_outside(path: Path, folder: Path) -> Notice | None:
    """A notice when `path` is a symbolic link whose target lies outside `folder`."""
    if not path.is_symlink():
        return None
    try:
        target, folder = path.resolve(), folder.resolve()
    except (OSError, RuntimeError):  # (Python 3.11 raises RuntimeError for a loop)
        return Notice(str(path), "skipped", "link in a loop of links: it leads to no file")
    if target == folder or folder in target.parents:
        return None
    kind = "folder" if target.is_dir() else "file"
    return Notice(str(path), "skipped", f"link to a {kind} outside {folder} ({target}); links "
                  "are not followed out of the folder being indexed: index the target itself")


def _walk(root: Path, notices: list[Notice]) -> list[Path]:
    """The article files under `root`, without hidden names, without following links out and
    without the files of an index kept among them (`qa index .` with `--index-dir ./index`)."""
    found: list[Path] = []
    others: Counter[str] = Counter()  # files of other types, by suffix
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if is_index(here, dirs + names):
            notices.append(Notice(folder, "skipped", "an article-qa index: its own files are "
                                  "not articles"))
            dirs[:] = []
            continue
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            if notice := _link_outside(here / name, root) or _badly_named(here / name):
                notices.append(notice)
            elif not (here / name).is_symlink():
                kept.append(name)
        dirs[:] = kept
        for name in names:
            path = here / name
            if _transient(name):
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                others[path.suffix.lower() or "(none)"] += 1
                continue
            if (notice := _link_outside(path, root) or _badly_named(path)) is not None:
                notices.append(notice)
            elif path.is_file():
                found.append(path)
    if others:
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(others.items()))
        notices.append(Notice(str(root), "skipped", f"{sum(others.values())} file"
                              f"{'s' if sum(others.values()) > 1 else ''} of other types "
                              f"({kinds}); articles are {' '.join(SUPPORTED_SUFFIXES)}"))
    return sorted(found)


def _transient(name: str) -> bool:
    """Whether a file name is hidden, or an editor's lock or backup file (`~$story.txt`,
    `story.txt~`): never an article."""
    return name.startswith((".", "~$")) or name.endswith("~")


def _badly_named(path: Path) -> Notice | None:
    """A notice when `path` is not valid UTF-8 (a Latin-1 byte from an old zip file, say), or
    longer than `MAX_PATH_BYTES`: such a name cannot be stored with its article or shown."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "replace")
        return Notice(shown, "skipped", "its name is not valid UTF-8: rename it")
    if (size := len(os.fsencode(location(path)))) > MAX_PATH_BYTES:
        return Notice(str(path), "skipped", f"its path is {size:,} bytes long; articles are "
                      f"stored under paths of at most {MAX_PATH_BYTES:,}: move it up")
    return None


def _opened_inside(descriptor: int, path: Path, folder: Path) -> bool:
    """Whether the file open as `descriptor` is the one `path` leads to now, and that lies in
    `folder` (a link swapped after it was opened leads to another file: refused too)."""
    target = Path(os.path.realpath(path))
    opened, there = os.fstat(descriptor), os.stat(target)
    folder = folder.resolve()
    return (opened.st_dev, opened.st_ino) == (there.st_dev, there.st_ino) and (
        target == folder or folder in target.parents)


#: byte-order marks of the wider Unicode encodings (UTF-32 first: its LE mark starts like
#: UTF-16's); "Unicode" text saved by Windows Notepad is UTF-16 LE with a mark.
_UNICODE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                 (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


#: the encoding an HTML page declares: `<meta charset="...">`, or `content="text/html;
#: charset=..."`.
_DECLARED_CHARSET = re.compile(rb"(?i)<meta[^>]+charset\s*=\s*[\"']?\s*([a-z0-9_.:-]{2,40})")


def decode(data: bytes, path: str, html: bool = False) -> tuple[str, Notice | None]:
    """Bytes to text: UTF-8, else (`html`) the encoding the page declares in a `<meta>`
    charset, else Western (cp1252, or latin-1 where cp1252 has no character) unless detection
    is clearly more plausible; UTF-16 and UTF-32 by their byte-order mark. Raises
    `UnusableFileError` for binary."""
    for mark, encoding in _UNICODE_BOMS:
        if data.startswith(mark):
            try:
                return data[len(mark):].decode(encoding), Notice(path, "decoded",
                                                                 f"read as {encoding}")
            except UnicodeDecodeError:
                raise UnusableFileError(path, "refused",
                                        f"starts like {encoding} but is not") from None
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
        raise UnusableFileError(path, "refused", "binary file, not text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    if html and (declared := _DECLARED_CHARSET.search(data[:4096])):
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            encoding = codecs.lookup(declared[1].decode("ascii")).name
            encoding = "cp1252" if encoding in ("iso8859-1", "ascii") else encoding  # (as
            # browsers read them)
            return data.decode(encoding), Notice(path, "decoded", f"not UTF-8; read as "
                                                                   f"{encoding}, as it declares")
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    best = from_bytes(data).best()
    if best is not None and best.encoding is not None and str(best) != text:
        # charset-normalizer reads short Latin-1 text as cp1250 as readily as cp1252
        # ("naïve" -> "naďve"): only take its guess when the Western reading is garbled
        western_chaos = mess_ratio(text[:200_000], 1.0)
        if best.chaos + _DETECTION_MARGIN <= western_chaos:
            text, encoding = str(best), best.encoding
    return text, Notice(path, "decoded", f"not UTF-8; read as {encoding}")


def _megabytes(size: int, limit: int) -> tuple[str, str]:
    """`size` and `limit` in MB, to the first decimal that tells them apart."""
    for digits in (1, 2, 3, 6):
        if round(size / 1e6, digits) > round(limit / 1e6, digits):
            break
    return f"{size / 1e6:.{digits}f}", f"{limit / 1e6:.{digits}f}"


def load_file(path: Path, max_bytes: int, within: Path | None = None,
              cache_dir: Path | None = None) -> tuple[list[RawRecord], list[Notice]]:
    """Read one file into raw records. Raises `UnusableFileError` when it cannot be used.

    With `within`, the file read must lie in that folder, links resolved, as `find_files`
    checked: a link changed since then to lead out of it is refused, not followed. With
    `cache_dir`, what a PDF was found to hold is kept there (see `pdf_to_record`)."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnusableFileError(name, "skipped",
                                f"unsupported file type {suffix or '(none)'} "
                                f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        with path.open("rb") as handle:
            if within is not None and not _opened_inside(handle.fileno(), path, within):
                raise UnusableFileError(name, "skipped", "it became a link out of "
                                        f"{within} while being indexed; links are not followed "
                                        "out of the folder being indexed")
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(max_bytes + 1) if size <= max_bytes else b""
        if max(size, len(data)) > max_bytes:
            found, limit = _megabytes(max(size, len(data)), max_bytes)
            raise UnusableFileError(name, "refused", f"{found} MB is over the {limit} MB limit "
                                    "(set QA_MAX_FILE_MB to raise it)")
    except OSError as exc:
        raise UnusableFileError(name, "skipped", f"cannot read it ({exc.strerror})") from None
    if suffix == ".pdf":
        body, fields, partly = pdf_to_record(data, name, cache_dir)
        return [RawRecord(name, body, fields)], [Notice(name, "partly read", partly)] \
            if partly else []
    text, notice = decode(data, name, html=suffix in (".html", ".htm"))
    notices = [notice] if notice else []
    if not text.strip():
        raise UnusableFileError(name, "skipped", "empty file")
    if suffix in (".json", ".jsonl"):
        records, untexted = _json_records(text, name, jsonl=suffix == ".jsonl")
        notices += untexted
    elif suffix in (".html", ".htm"):
        body, fields = html_to_record(text)
        records = [RawRecord(name, body, fields)]
    elif suffix == ".md":
        body, front_matter = markdown_to_record(text)
        records = [RawRecord(name, body, _metadata(front_matter))]
    else:
        records = [RawRecord(name, text)]
    records = [r for r in records if r.text.strip()]
    if not records:
        raise UnusableFileError(name, "skipped", "no article text found" + (
            f" (no record has a {_BODY_NAMES} field with text)" if suffix in (".json", ".jsonl")
            else ""))
    return records, notices


_BODY_NAMES = "/".join(BODY_FIELDS)


def _json_records(text: str, name: str, jsonl: bool) -> tuple[list[RawRecord], list[Notice]]:
    """A JSON file's records (one object, a list of them, a feed's `FEED_FIELDS` list, or one
    per line), and a notice for each that holds no article text."""
    if jsonl:
        objects = [_parse_json(line, name, f"on line {lineno}")
                   for lineno, line in enumerate(json_lines(text), 1) if line.strip()]
    else:
        data = _parse_json(text, name)
        if isinstance(data, dict) and not _body(data):
            data = next((data[f] for f in FEED_FIELDS if isinstance(data.get(f), list)), data)
        objects = data if isinstance(data, list) else [data]
    many = len(objects) > 1
    records, notices = [], []
    for n, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            raise UnusableFileError(name, "refused", f"item {n} is not a JSON object")
        where = f"{name}#{n}" if many else name
        if body := _body(obj):
            records.append(RawRecord(where, body, _metadata(obj)))
        elif many:
            notices.append(Notice(where, "skipped", f"record {n} has no {_BODY_NAMES} field "
                                  "with text"))
    return records, notices


def _body(record: Mapping[str, object]) -> str:
    """A JSON record's article text: its first body field holding text, or a list of
    paragraphs (joined by blank lines)."""
    for field_name in BODY_FIELDS:
        value = record.get(field_name)
        if isinstance(value, list):
            value = "\n\n".join(v for v in value if isinstance(v, str) and v.strip())
        if isinstance(value, str) and value.strip():
            if not _MARKUP.search(value):
                return value
            if not _HTML_BLOCKS.search(value):  # text with inline tags only (WordPress's
                # post_content): its blank lines are its paragraphs, which HTML reads as spaces
                value = "<p>" + re.sub(r"\n\s*\n", "</p><p>", value) + "</p>"
            return html_to_record(value, dateline=False)[0]
    return ""


#: a tag that sets a body's paragraphs apart, when it is written as HTML.
_HTML_BLOCKS = re.compile(r"<(?:p|br|div|h[1-6]|ul|ol|li|blockquote|table|section|article)\b",
                          re.I)


#: a body written as HTML, as content management systems and feeds export it.
_MARKUP = re.compile(r"</?(?:p|br|div|span|strong|b|em|i|a|h[1-6]|ul|ol|li|blockquote|figure|"
                     r"img|table)\b[^>]*>|&(?:nbsp|amp|quot|lt|gt|#\d+|#x[0-9a-f]+);", re.I)


def _metadata(record: Mapping[str, object]) -> dict[str, str]:
    """Title, publisher, author... from a JSON record's or a front matter's fields
    (`_META_FIELDS`): an object by its name (`{"name": "Reuters"}`), several authors
    joined with "and"."""
    return {key: next((text for f in names if (text := _plain(record.get(f)))), "")
            for key, names in _META_FIELDS.items()}


def _plain(value: object) -> str:
    """A metadata value as text: a string or number as written, an object by its name (or
    title), a list item by item joined with "and"; anything else is no value."""
    if isinstance(value, str):
        return decode_entities(value).strip()  # (feeds write "Tom &amp; Jerry")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Mapping):
        return _plain(value.get("name") or value.get("title"))
    if isinstance(value, list):
        return " and ".join(text for v in value if (text := _plain(v)))
    return ""


def _parse_json(text: str, name: str, where: str = "") -> object:
    """`json.loads` for untrusted files: nesting deeper than `MAX_JSON_DEPTH` is refused first
    (the parser would otherwise recurse until Python gives up)."""
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise UnusableFileError(name, "refused",
                                        f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
                                        f"{' ' + where if where else ''}")
        elif bracket in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnusableFileError(name, "refused", "malformed JSON "
                                f"{where or f'at line {exc.lineno}'} ({exc.msg})") from None
    except ValueError as exc:  # a number of more than 4,300 digits
        raise UnusableFileError(name, "refused", f"unreadable JSON{' ' + where if where else ''}"
                                f" ({str(exc)[:80]})") from None
