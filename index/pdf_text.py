"""PDF articles: their text as paragraphs, read by pdfminer.six in a child process.

A PDF is a program for drawing a page, and a hostile one can make a parser spin or swell:
so it is read by `python -m qa.index.pdf_text` with a time and memory limit, and whatever
goes wrong there costs one file, never the build or the server. The child prints the
document's title, author and paragraphs as JSON; pdfminer's layout analysis gives the
paragraphs (text boxes), from which the page furniture is dropped: running headers and
footers (small print in the top or bottom band of the page, or the same line on several
pages) and page numbers. A paragraph's lines are joined; a word broken over two lines is
joined without its hyphen only where the document spells it whole elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from typing import Any

from qa.core.errors import UnusableFileError

__all__ = ["pdf_to_record"]

#: one PDF may take this long to read, and this much memory (the child is stopped past them).
READ_SECONDS = 60
READ_MEMORY_BYTES = 2 * 1024**3
#: pages read from one PDF (an article has a few; a whole newspaper issue is not one).
MAX_PAGES = 100
#: the top and bottom share of a page where running headers and footers sit.
_BAND = 0.07
#: ligatures some fonts draw as one glyph ("ﬁ"), written as their letters.
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
                            "ﬅ": "st", "ﬆ": "st"})
_PAGE_NUMBER = re.compile(r"(?i)^(page\s+)?\d{1,4}(\s*(/|of)\s*\d{1,4})?$")
_BROKEN_WORD = re.compile(r"(\w+)-$")
_PLACEHOLDER_TITLE = re.compile(r"(?i)^(untitled|microsoft word - .*|document\d*|.*\.(docx?|pdf|"
                                r"indd|html?))$")


def pdf_to_record(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """The article text of PDF `data` (paragraphs separated by blank lines) and its metadata
    fields (title, author). Raises `UnusableFileError` when it holds no text (a scan) or
    cannot be read."""
    try:
        done = subprocess.run([sys.executable, "-m", "qa.index.pdf_text"], input=data,
                              capture_output=True, timeout=READ_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise UnusableFileError(name, "refused", f"reading the PDF took over {READ_SECONDS} s"
                                ) from None
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["stopped"])[-1]
        if "PDFPasswordIncorrect" in last:
            raise UnusableFileError(name, "skipped", "the PDF is locked with a password: save "
                                    "an unlocked copy to index it")
        raise UnusableFileError(name, "refused", f"not a readable PDF ({last[:160]})")
    found = json.loads(done.stdout)
    if not found["paragraphs"]:
        raise UnusableFileError(name, "skipped", "the PDF holds no text (a scanned page? its "
                                "text would need OCR)")
    fields = {key: found[key] for key in ("title", "author") if found[key]}
    return "\n\n".join(found["paragraphs"]), fields


def _read(data: bytes) -> dict[str, Any]:
    """Title, author and paragraphs of a PDF (run in the child process)."""
    from io import BytesIO

    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextBox
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser

    info = (PDFDocument(PDFParser(BytesIO(data))).info or [{}])[0]
    pages = []
    for page in extract_pages(BytesIO(data), maxpages=MAX_PAGES, laparams=LAParams()):
        boxes = []
        for box in page:
            if not isinstance(box, LTTextBox):
                continue
            lines = [line.get_text().strip() for line in box]
            sizes = [c.size for line in box for c in line if isinstance(c, LTChar)]
            in_band = box.y0 > page.height * (1 - _BAND) or box.y1 < page.height * _BAND
            boxes.append(([x for x in lines if x], max(sizes, default=0.0), in_band))
        pages.append(boxes)
    body_size = _body_size(pages)
    repeated = _repeated_lines(pages)
    paragraphs: list[list[str]] = []
    title: list[str] = []
    title_size = body_size
    for boxes in pages:
        page_starts = True
        for lines, size, in_band in boxes:
            text = " ".join(lines)
            if not lines or _PAGE_NUMBER.match(text) or (in_band and size < body_size - 0.5) \
                    or _key(text) in repeated:
                continue
            if page_starts and paragraphs and _runs_on(paragraphs[-1][-1], lines[0]):
                paragraphs[-1] = paragraphs[-1] + lines  # a paragraph broken by the page
            else:
                paragraphs.append(lines)
            page_starts = False
            if not title and size > title_size:
                title, title_size = lines, size
    words = Counter(w.lower() for lines in paragraphs for line in lines
                    for w in re.findall(r"\w+", line.translate(_LIGATURES)))
    text_paragraphs = [_joined(lines, words) for lines in paragraphs]
    return {"title": _joined(title, words) if title else _meta(info, "Title"),
            "author": _meta(info, "Author"), "paragraphs": text_paragraphs}


def _runs_on(last_line: str, next_line: str) -> bool:
    """Whether a page's first line continues the sentence its previous page ended in."""
    return not last_line.rstrip("\"'”’)»").endswith((".", "!", "?", ":")) \
        and next_line[:1].islower()


def _body_size(pages: list[list[tuple[list[str], float, bool]]]) -> float:
    """The font size most of the text is set in."""
    weights: Counter[float] = Counter()
    for boxes in pages:
        for lines, size, _ in boxes:
            weights[round(size, 1)] += sum(len(line) for line in lines)
    return weights.most_common(1)[0][0] if weights else 0.0


def _repeated_lines(pages: list[list[tuple[list[str], float, bool]]]) -> set[str]:
    """Header and footer lines: in the top or bottom band on more than one page, digits aside."""
    seen: Counter[str] = Counter()
    for boxes in pages:
        seen.update({_key(" ".join(lines)) for lines, _, in_band in boxes if in_band})
    return {key for key, n in seen.items() if n > 1}


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _joined(lines: list[str], words: Counter[str]) -> str:
    """A paragraph's lines as one line; a word hyphenated at a line's end loses its hyphen
    when the document spells it whole elsewhere ("exam-" "ple"), else keeps it
    ("day-" "trippers")."""
    text = ""
    for line in (x.translate(_LIGATURES) for x in lines):
        broken = _BROKEN_WORD.search(text)
        first = re.match(r"\w+", line)
        if broken and first and words[(broken[1] + first[0]).lower()] > 0:
            text = text[:-1] + line
        elif text.endswith("-") and broken:
            text += line
        else:
            text = f"{text} {line}" if text else line
    return re.sub(r"\s+", " ", text).strip()


def _meta(info: dict[str, Any], key: str) -> str:
    """A document information field as text ("" when missing or a placeholder)."""
    from pdfminer.pdftypes import resolve1

    value = resolve1(info.get(key, b""))
    if isinstance(value, bytes):
        from pdfminer.utils import decode_text

        value = decode_text(value)
    value = str(value).strip() if isinstance(value, str | bytes) else ""
    return "" if _PLACEHOLDER_TITLE.match(value) else value


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # not on Windows
        return
    resource.setrlimit(resource.RLIMIT_AS, (READ_MEMORY_BYTES, READ_MEMORY_BYTES))


if __name__ == "__main__":
    _limit_memory()
    json.dump(_read(sys.stdin.buffer.read()), sys.stdout)
