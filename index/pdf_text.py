"""PDF articles: their text as paragraphs, read by pdfminer.six in a child process.

A PDF is a program for drawing a page, and a hostile one can make a parser spin or swell:
so it is read in a child process (`main`) with a time and memory limit, and whatever
goes wrong there costs one file, never the build or the server. What the child finds (or why
it failed) is kept in the cache under the file's sha256, so an unchanged PDF is read once.

The child prints the document's title and paragraphs as JSON; pdfminer's layout analysis
gives the paragraphs (text boxes), from which the page furniture in the top and bottom bands
of each page is dropped: lines repeated on several pages, addresses, page counts, print dates,
the document's own title as a running header, page numbers. A paragraph's lines are
joined, and so is a paragraph cut by a page break; a word broken over two lines is joined
without its hyphen only where the document spells it whole elsewhere. The title is the
largest type of the first page (the PDF's recorded title when no type stands out); the PDF's
recorded author is not used (it is most often the account that made the file), the byline is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from qa.core.errors import UnusableFileError

__all__ = ["pdf_to_record"]

#: one PDF may take this long to read, and this much memory (the child is stopped past them).
READ_SECONDS = 60
READ_MEMORY_BYTES = 2 * 1024**3
#: a PDF that took too long or too much memory (or whose reader was stopped) is not read
#: again for this long: every build would wait for it again.
RETRY_SECONDS = 24 * 3600
#: pages read from one PDF (an article has a few; a whole newspaper issue is not one).
MAX_PAGES = 100
#: what pdfminer's layout analysis may join into one line: justified text in narrow columns
#: has wide gaps between words (the default, 2 characters, split such lines mid-sentence).
_CHAR_MARGIN = 8.0
#: the widest gap between two lines of one paragraph, in multiples of their type size
#: (line-height 1.5 leaves 0.5; a blank line between paragraphs is 1 and more).
_LINE_GAP = 0.8
#: what the reading gives: a cached outcome of another version is read again.
_LAYOUT_VERSION = 3
#: a paragraph of the text's type this long starts the article's text: a headline is above it.
_LONG_PARAGRAPH_WORDS = 20
#: lines of at most this many words above a PDF's headline are page furniture.
_ABOVE_HEADLINE_WORDS = 12
#: the top and bottom share of a page where running headers and footers sit.
_BAND = 0.07
#: ligatures some fonts draw as one glyph ("ﬁ"), written as their letters; soft hyphens
#: (a browser prints them where it may break a word) dropped.
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
                            "ﬅ": "st", "ﬆ": "st"})
_SOFT_HYPHEN = "\u00ad"
_PAGE_NUMBER = re.compile(r"(?i)^(page\s+)?\d{1,4}(\s*(/|of)\s*\d{1,4})?$")
#: furniture a browser or printer puts in a page's margins: an address, a print date and time.
_FURNITURE = re.compile(r"(?i)^(?:\S*://\S*|\d{1,2}/\d{1,2}/\d{2,4},?\s+\d{1,2}:\d{2}"
                        r"(?:\s*[ap]\.?m\.?)?)$")
_BROKEN_WORD = re.compile(r"(\w+)-$")
#: what pdfminer writes for a glyph its font maps to no character.
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")
_PLACEHOLDER_TITLE = re.compile(r"(?i)^(untitled|microsoft word - .*|document\d*|.*\.(docx?|pdf|"
                                r"indd|html?))$")
#: signals that stop the program as a whole (Ctrl+C, a service stopped), which the reader gets
#: too: no verdict on the PDF.
_STOPPING_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
#: the child process's program (`main`).
_CHILD = "from qa.index.pdf_text import main; main()"
#: what pdfminer says of a file that is not a whole PDF, in words a user knows.
_NOT_A_PDF = ("No /Root object", "PSEOF", "PDFSyntaxError", "PDFNoValidXRef", "PSSyntaxError")


def pdf_to_record(data: bytes, name: str, cache_dir: Path | None = None
                  ) -> tuple[str, dict[str, str], str | None]:
    """The article text of PDF `data` (paragraphs separated by blank lines), its metadata
    fields (title) and a note when only part of it was read. Raises `UnusableFileError` when
    it holds no text (a scan) or cannot be read. With `cache_dir`, each file's outcome is
    kept there by content."""
    digest = hashlib.sha256(data).hexdigest()
    cached = cache_dir / "pdf-text" / f"{digest}.v{_LAYOUT_VERSION}.json" \
        if cache_dir is not None else None
    try:
        found = json.loads(cached.read_text()) if cached is not None else None
    except (OSError, ValueError):
        found = None
    if not _well_formed(found) or found.get("retry_after", math.inf) < time.time():
        found = _read_in_child(data)  # not cached yet, damaged, or a while since it failed
        interrupted = found.pop("interrupted", False)  # Ctrl+C, a service stopped: not kept
        if found.pop("transient", False):  # the machine's doing maybe: tried again later
            found["retry_after"] = time.time() + RETRY_SECONDS
        if cached is None or interrupted or not _keep(cached, found):
            found.pop("retry_after", None)  # not kept: read again next time
    if "refused" in found or "skipped" in found:
        action = "refused" if "refused" in found else "skipped"
        again = "; it is read again a day after it failed" if "retry_after" in found else ""
        raise UnusableFileError(name, action, f"{found[action]}{again}")
    if not found["pages"]:
        raise UnusableFileError(name, "skipped", "the PDF has no pages")
    text = "\n\n".join(found["paragraphs"])
    if len("".join(_UNMAPPED_GLYPH.findall(text))) * 2 > len(text):
        raise UnusableFileError(name, "skipped", "the PDF's fonts do not say which letters "
                                "they draw, so its text cannot be read (print it to PDF again, "
                                "or save it as text)")
    if not found["paragraphs"]:
        raise UnusableFileError(name, "skipped", "the PDF holds no text (a scanned page? its "
                                "text would need OCR)")
    note = None
    if found["pages"] > MAX_PAGES:
        note = f"only its first {MAX_PAGES} of {found['pages']} pages were read"
    title = _UNMAPPED_GLYPH.sub("\ufffd", found["title"])
    return _UNMAPPED_GLYPH.sub("\ufffd", text), {"title": title} if title else {}, note


def _well_formed(found: object) -> bool:
    """Whether a cached outcome is one `_read_in_child` could have given."""
    if not isinstance(found, dict):
        return False
    if not isinstance(found.get("retry_after", 0.0), int | float):
        return False
    if isinstance(found.get("refused") or found.get("skipped"), str):
        return True
    return isinstance(found.get("title"), str) and isinstance(found.get("pages"), int) and \
        isinstance(found.get("paragraphs"), list) and \
        all(isinstance(p, str) for p in found["paragraphs"])


def _read_in_child(data: bytes) -> dict[str, Any]:
    """What the child process makes of `data`: title, pages and paragraphs, or why it is
    refused or skipped ("transient" when the machine, not the file, may be why)."""
    try:  # (-I: nothing from the current folder or the environment is imported instead)
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=data,
                              capture_output=True, timeout=READ_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return {"refused": f"reading the PDF took over {READ_SECONDS} s", "transient": True}
    if done.returncode < 0:  # stopped by a signal: the machine's doing (out of memory), or
        stopped = {"refused": f"the PDF reader was stopped (signal {-done.returncode})",
                   "transient": True}  # the whole program being stopped: not the PDF's
        return {**stopped, "interrupted": -done.returncode in _STOPPING_SIGNALS}
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["stopped"])[-1]
        if "PDFPasswordIncorrect" in last:
            return {"skipped": "the PDF is locked with a password: save an unlocked copy to "
                               "index it"}
        if "MemoryError" in last:
            return {"refused": f"reading the PDF took over {READ_MEMORY_BYTES >> 30} GB",
                    "transient": True}
        if any(sign in last for sign in _NOT_A_PDF):
            return {"refused": "not a readable PDF: cut short, damaged, or another kind of "
                               "file named .pdf"}
        return {"refused": f"not a readable PDF ({last[:160]})"}
    return json.loads(done.stdout)


def _keep(cached: Path, found: dict[str, Any]) -> bool:
    """Write `found` to `cached` whole or not at all (the cache is only a speed-up); whether
    it was written."""
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(found))
        partial.replace(cached)
    except OSError:
        partial.unlink(missing_ok=True)
        return False
    return True


def _read(data: bytes) -> dict[str, Any]:
    """Title, page count and paragraphs of a PDF (run in the child process)."""
    from io import BytesIO
    from itertools import islice

    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTChar, LTTextBox
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    document = PDFDocument(PDFParser(BytesIO(data)))  # parsed once: metadata, then pages
    info = (document.info or [{}])[0]
    recorded_title = _meta(info, "Title")
    try:  # what the page tree says it holds (a damaged one may say anything)
        pages_count = int(resolve1(resolve1(document.catalog.get("Pages", {})) or {})
                          .get("Count", 0) or 0)
    except (TypeError, ValueError, AttributeError):
        pages_count = 0
    resources = PDFResourceManager()
    device = PDFPageAggregator(resources, laparams=LAParams(char_margin=_CHAR_MARGIN))
    interpreter = PDFPageInterpreter(resources, device)
    pages = []
    for source in islice(PDFPage.create_pages(document), MAX_PAGES):
        interpreter.process_page(source)
        page = device.get_result()
        boxes = []
        for box in page:
            if not isinstance(box, LTTextBox):
                continue
            lines = [line.get_text().strip().translate(_LIGATURES) for line in box]
            sizes = [c.size for line in box for c in line if isinstance(c, LTChar)]
            in_band = box.y0 > page.height * (1 - _BAND) or box.y1 < page.height * _BAND
            boxes.append(_Box([x for x in lines if x], round(max(sizes, default=0.0), 1),
                              in_band, box.x0, box.x1, list(box)[-1].x1, box.y0, box.y1))
        pages.append(boxes)
    repeated = _repeated_lines(pages)
    furniture = {_key(recorded_title)} if recorded_title else set()
    paragraphs: list[tuple[list[str], float]] = []
    for boxes in pages:
        above = None  # the box the last paragraph ends with, on this page
        for box in boxes:
            lines, size = box.lines, box.size
            if not lines or _is_furniture(" ".join(lines), box.in_band, repeated | furniture):
                continue
            same = bool(paragraphs) and paragraphs[-1][1] == size and \
                _runs_on(paragraphs[-1][0][-1])
            if same and (above is None or _next_line(above, box, boxes)):
                paragraphs[-1][0].extend(lines)  # cut by a page break, or a wide line gap
            else:
                paragraphs.append((lines, size))
            above = box
    words = Counter(w.lower() for lines, _ in paragraphs for line in lines
                    for w in re.findall(r"\w+", line))
    title = _title(pages[0] if pages else [], paragraphs, recorded_title)
    if title:  # short lines above the headline: a masthead, a section label, a menu
        first = next(n for n, (lines, _) in enumerate(paragraphs) if lines is title)
        paragraphs = [p for n, p in enumerate(paragraphs)
                      if n >= first or len(" ".join(p[0]).split()) > _ABOVE_HEADLINE_WORDS]
    return {"title": _joined(title, words) if title else recorded_title,
            # fewer pages than the limit were there: all were read, whatever the tree said
            "pages": len(pages) if len(pages) < MAX_PAGES else max(pages_count, len(pages)),
            "paragraphs": [_joined(lines, words) for lines, _ in paragraphs]}


class _Box(NamedTuple):
    """A text box of a page: its lines, largest type, whether it is in the top or bottom band,
    its left and right edges, where its last line ends, and its bottom and top (PDF points,
    from the foot of the page)."""

    lines: list[str]
    size: float
    in_band: bool
    left: float
    right: float
    last_line_end: float
    bottom: float
    top: float


def _next_line(above: _Box, below: _Box, page: list[_Box]) -> bool:
    """Whether `below` is the next line of `above`'s paragraph, which pdfminer split off
    where the lines are spaced wide (line-height 1.5 and more): it starts right under it,
    within a line's height, at its left edge (or left of it, under an indented first line),
    and `above` ends where the column does, but for the room `below`'s first word would
    have needed (not a short line: a byline, a table row, a paragraph's end)."""
    gap = above.bottom - below.top
    if not (0 <= gap <= _LINE_GAP * below.size
            and -1 <= above.left - below.left <= 3 * below.size):
        return False
    column_end = max(box.right for box in page if abs(box.left - below.left) <= 3 * below.size)
    first_word = len(below.lines[0].split(maxsplit=1)[0])
    return column_end - above.last_line_end <= (first_word + 2) * 0.6 * below.size


def _title(first_page: list[_Box],
           paragraphs: list[tuple[list[str], float]], recorded: str) -> list[str]:
    """The headline, above the text's first long paragraph (not a pull quote, a figure or a
    heading set large further down): the paragraph the PDF's recorded title names; else the
    one of the first page in the largest type, when that is larger than the text's, with two
    words or more (not a drop cap or a lone number)."""
    body: Counter[float] = Counter()
    for lines, size in paragraphs:
        body[size] += sum(len(x) for x in lines)
    if not body:
        return []
    text_size = body.most_common(1)[0][0]
    text_starts = next((n for n, (lines, size) in enumerate(paragraphs) if size == text_size
                        and len(" ".join(lines).split()) >= _LONG_PARAGRAPH_WORDS),
                       len(paragraphs))
    above = [lines for lines, _ in paragraphs[:text_starts]]
    named = [lines for lines in above if recorded and _key(" ".join(lines)) == _key(recorded)]
    if named:
        return named[0]
    on_first = [(box.size, box.lines) for box in first_page
                if any(box.lines is k for k in above) and len(" ".join(box.lines).split()) > 1]
    if on_first:
        size, lines = max(on_first, key=lambda box: box[0])  # (the first of the largest)
        if size > text_size:
            return lines
    return []


def _is_furniture(text: str, in_band: bool, running: set[str]) -> bool:
    """Whether a box in a page's top or bottom band is page furniture, not article text."""
    return in_band and (_key(text) in running or bool(_PAGE_NUMBER.match(text))
                        or bool(_FURNITURE.match(text)))


def _runs_on(last_line: str) -> bool:
    """Whether a page's last line stops mid-sentence, so that the next page goes on with it."""
    return not last_line.rstrip("\"'”’)»").endswith((".", "!", "?", ":"))


def _repeated_lines(pages: list[list[_Box]]) -> set[str]:
    """Header and footer lines: in the top or bottom band on more than one page, digits aside."""
    seen: Counter[str] = Counter()
    for boxes in pages:
        seen.update({_key(" ".join(box.lines)) for box in boxes if box.in_band})
    return {key for key, n in seen.items() if n > 1}


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _joined(lines: list[str], words: Counter[str]) -> str:
    """A paragraph's lines as one line; a word hyphenated at a line's end loses its hyphen
    when the document spells it whole elsewhere ("exam-" "ple"), or when the hyphen is a
    soft one (where a browser broke the word), else keeps it ("day-" "trippers"); a dash
    that ends a line right after a word joins the next line without a space too."""
    text = ""
    for line in lines:
        broken = _BROKEN_WORD.search(text)
        first = re.match(r"\w+", line)
        whole = broken and first and words[(broken[1] + first[0]).lower()] > 0
        if text.endswith(_SOFT_HYPHEN) or whole:  # a word broken at a soft hyphen, "exam-"
            text = text[:-1] + line
        elif text.endswith(("-", "—", "–")) and len(text) > 1 and not text[-2].isspace():
            text += line  # "day-" "trippers", "U.S.-" "based", "costs—" "which"
        else:
            text = f"{text} {line}" if text else line
    return re.sub(r"\s+", " ", text.replace(_SOFT_HYPHEN, "")).strip()


def _meta(info: dict[str, Any], key: str) -> str:
    """A document information field as text ("" when missing or a placeholder)."""
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    value = resolve1(info.get(key, b""))
    if isinstance(value, bytes):
        value = decode_text(value)
    value = " ".join(value.split()) if isinstance(value, str) else ""
    return "" if _PLACEHOLDER_TITLE.match(value) else value


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # not on Windows
        return
    resource.setrlimit(resource.RLIMIT_AS, (READ_MEMORY_BYTES, READ_MEMORY_BYTES))


def main() -> None:
    """The child: a PDF's bytes on stdin, what `_read` makes of them as JSON on stdout."""
    _limit_memory()
    json.dump(_read(sys.stdin.buffer.read()), sys.stdout)
