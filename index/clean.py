"""Turn a raw record into an `Article`: strip aggregator chrome and photo captions, and lift
the title, publisher, section and authors out of the text into metadata.

Decision on photo captions: a paragraph that is a single line ending in a picture credit such
as "(AP)" or "(Reuters/Sofiia Gatilova)" is a caption. Captions repeat or pre-empt the prose
next to them and are not the reporter's text, so they leave the article text (and thus the
index and the citations) and are kept in `Article.captions`.
"""

from __future__ import annotations

import hashlib
import json
import re

from qa.index.load import RawRecord

from qa.core.records import Article, parse_date
from qa.core.text import shorten, split_sentences, storable

__all__ = ["clean_record"]

#: Lines of an aggregator's page chrome (compared lower-cased, with quotes and spaces
#: normalised): a text holding one is such a page, with a header of publisher lines.
_AGGREGATOR_LINES = {
    "get all your news in one place.", "100's of premium titles.", "one app.", "start reading",
    "sign up to read this article", "read news from 100's of titles, curated specifically for you.",
    "already a member? sign in here", "top stories on inkl right now",
    "our picks", "fourteen days free", "download the app", "one app. one membership.",
    "100+ trusted global sources.",
}
#: Lines of any web page's chrome, dropped wherever they are.
_CHROME_LINES = _AGGREGATOR_LINES | {
    "related stories", "advertisement", "skip advertisement", "share this article", "sign up",
    "subscribe", "read more",
}
#: A line that starts a page's footer: everything after it is chrome too, unless prose
#: follows (a "Related stories" line in the middle of an article).
_FOOTER_START = {"sign up to read this article", "related stories",
                 "top stories on inkl right now"}
#: a line of prose: a sentence of 8 words or more.
_PROSE = re.compile(r"(?:\S+\s+){7,}\S*[.!?][\"'”’)]*")
_SECTIONS = {
    "world", "uk", "us", "uk news", "us news", "world news", "politics", "business", "sport",
    "sports", "technology", "tech", "science", "health", "opinion", "culture", "entertainment",
    "environment", "money", "travel", "lifestyle", "news", "australia news", "europe", "asia",
    "middle east", "africa", "americas", "economy", "markets", "education", "media",
}
#: a short line ending in "»", in a text with no "«": a link ("Watch the video »").
_LINK_LINE = re.compile(r"[^.!?\n]{1,120}\s»")
_CAPTION = re.compile(r"^(?P<text>[^\n]{8,400}?[^.\s])\s*\((?P<credit>[A-Z][^()\n]{0,60})\)\s*$")
_DATELINE_SOURCE = re.compile(
    r"^(?:[A-Z][A-Za-z0-9 .,'-]{0,60})?\((?P<source>CNN|AP|Reuters|AFP|BBC)\)")  # (dated too)
#: a news agency's dateline with its date: "ELLERY, Feb. 20, 2025 — ", "PARIS, France,
#: March 3, 2025 (AP) -- "
_DATED_DATELINE = re.compile(
    r"^[A-Z][A-Z .'’-]{1,40}(?:,\s*[A-Z][A-Za-z.]{1,20})?,\s+(?P<date>[A-Z][a-z]{2,8}\.?\s+"
    r"\d{1,2},\s+\d{4})(?:\s*\([A-Za-z]{2,10}\))?\s*(?:—|–|--?)\s")
_DATELINE = re.compile(r"^(?:[A-Z][A-Za-z .,'-]{0,60})?\([A-Za-z]+\)\s*--\s*")
#: A plain-text byline paragraph: "By Maria Quinlan, Coastal Herald, 3 May 2025" (the
#: publisher and the date are optional; commas, "|", "·" or dashes separate the parts).
#: "By", "Par", "Por", "Von", "Door"; a name's words start with a capital (accented too:
#: "Élodie", "Özlem") or are particles and joiners ("de la", "van", "et", "und", "y").
_CAPITAL = "[" + "".join(chr(c) for c in range(0x41, 0x250) if chr(c).isupper()) + "]"
_BYLINE = re.compile(
    rf"^(?i:by|par|por|von|door)\s+(?P<author>{_CAPITAL}[\w'’.-]*(?:\s+(?:{_CAPITAL}[\w'’.-]*|"
    r"and|et|und|y|e|en|de|van|von|da|del|der|di|du|la|le|los|dos)){0,7})\s*"
    r"(?P<rest>(?:[,|·–—]\s*[^,|·–—]{1,60}){0,3})$")


#: a publisher's name on a byline's line of its own: a few capitalised words ("The Coastal
#: Herald", "Die Zeit"), not a role ("Chief Reporter") or a sentence.
_PUBLISHER = re.compile(rf"\s*(?!.*\b(?i:reporter|correspondent|editor|writer|staff|columnist|"
                        rf"contributor|updated|photograph)\b)(?:{_CAPITAL}[\w'’&.-]*"
                        r"(?:\s+(?:of|the|and|de|la|le|du|der|die|das|el|los|y|&))?\s*){1,6}")


#: a part of a date split at its comma ("May 3", "2025").
_DAY = re.compile(r"\s*(?:[A-Z][a-z]+\.?\s+)?\d{1,4}\s*")


def _norm(line: str) -> str:
    return " ".join(line.replace("’", "'").replace("‘", "'").split()).lower()


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    return paragraphs


def _strip_chrome(text: str) -> tuple[str, bool]:
    """Drop chrome lines and the footer; report whether this looked like an aggregator page."""
    kept: list[str] = []
    found = False
    guillemets = "«" in text  # quotes, then: a line ending in "»" closes one (French)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for n, line in enumerate(lines):
        norm = _norm(line)
        if norm in _FOOTER_START and kept and not any(
                _PROSE.fullmatch(rest.strip()) for rest in lines[n + 1:]):
            found = found or norm in _AGGREGATOR_LINES
            break
        if norm in _CHROME_LINES:
            found = found or norm in _AGGREGATOR_LINES
            continue
        if not guillemets and _LINK_LINE.fullmatch(line.strip()):  # "Depp's roles »": a link
            continue
        kept.append(line)
    return "\n".join(kept), found


def _read_header(lines: list[str]) -> dict[str, str]:
    """Publisher / section / author lines that stand above an aggregator article."""
    distinct = list(dict.fromkeys(lines))
    fields = {"source": distinct[0]} if distinct else {}
    for line in distinct[1:]:
        if _norm(line) in _SECTIONS and "section" not in fields:
            fields["section"] = line
        else:
            fields["author"] = re.sub(r"^by\s+", "", line, flags=re.I)
    return fields


def _read_byline(paragraph: str) -> dict[str, str] | None:
    """Author, and optionally publisher and date, from a "By ..." paragraph: one line, or up
    to three with the publisher and the date on lines of their own ("By Theo Alvarez" /
    "Riverside Herald, 4 March 2025")."""
    lines = [line.strip() for line in paragraph.split("\n")]
    if len(lines) > 3 or not all(
            parse_date(line, whole=True) or all(parse_date(part, whole=True) or
                                                _PUBLISHER.fullmatch(part) or _DAY.fullmatch(part)
                                                for part in re.split(r"[,|·–—]", line))
            for line in lines[1:]):
        return None  # a sentence, a role ("Chief Reporter"), an update time: not a byline's
    match = _BYLINE.match(", ".join(lines))
    if match is None:
        return None
    fields = {"author": match["author"]}
    parts = [p.strip() for p in re.split(r"[,|·–—]", match["rest"]) if p.strip()]
    if len(parts) >= 2 and re.fullmatch(r"\d{4}", parts[-1]) \
            and parse_date(f"{parts[-2]}, {parts[-1]}", whole=True):  # "May 3, 2025"
        parts[-2:] = [f"{parts[-2]}, {parts[-1]}"]
    for part in parts:
        published = parse_date(part, whole=True)
        if published is not None and "published" not in fields:
            fields["published"] = published.isoformat()
        elif "source" not in fields and re.match(f"{_CAPITAL}|[0-9]", part):
            fields["source"] = part
        else:
            return None  # not a byline we understand: leave it in the text
    return fields


def _header_block(paragraph: str) -> dict[str, str] | None:
    """Title, author and date from a first paragraph of two to four short lines: a headline,
    then a byline, then a date, as a plain-text article's header is often written; None when
    any line is something else."""
    lines = [line.strip() for line in paragraph.split("\n")]
    if not 2 <= len(lines) <= 4 or any(not line or len(line) > 200 for line in lines):
        return None
    fields: dict[str, str] = {}
    for n, line in enumerate(lines):
        if "author" not in fields and (
                byline := _read_byline("\n".join(lines[n:]))) is not None:
            return {**byline, **fields}  # the byline, then its publisher and date lines
        if (day := parse_date(line, whole=True)) is not None and "published" not in fields:
            fields["published"] = day.isoformat()
        elif n == 0 and not line.endswith((".", "!", "?")):
            fields["title"] = line.lstrip("# ").strip()
        else:
            return None
    return None  # no byline: a headline and a date are not a header we can tell


def _spelled_out(text: str, short: str) -> bool:
    """Whether `short`, in brackets after `text`, is the initials of its last words: an
    abbreviation spelled out ("the National Health Service (NHS)"), not a photo credit."""
    if not short.isalpha() or not short.isupper() or not 2 <= len(short) <= 6:
        return False
    words = [w for w in re.findall(r"[A-Za-z]+", text) if w.lower() not in _LINKING_WORDS]
    return "".join(w[0] for w in words[-len(short):]).upper() == short


#: small words that an abbreviation's initials leave out ("Department of Health" is DH).
_LINKING_WORDS = {"of", "for", "the", "and", "on", "in", "to", "a"}


def _first_sentence(text: str, limit: int = 160) -> str:
    first_line = _DATELINE.sub("", text.strip().split("\n", 1)[0])
    bounds = split_sentences(first_line)  # (not cut at "U.S." or "Mr.")
    sentence = first_line[bounds[0][0]:bounds[0][1]] if bounds else first_line
    sentence = sentence.rstrip()
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + "…"
    return sentence


#: the longest metadata value kept (title, source, author...; a store indexes some of them, and
#: an index entry must fit in a database page): longer ones are cut, a longer URL is dropped
#: (cut, it would lead nowhere).
_FIELD_CHARS = 500
_URL_CHARS = 2000


def clean_record(record: RawRecord) -> Article:
    """Clean one raw record into an `Article` (not yet deduplicated or chunked)."""
    fields = {k: shorten(storable(v), _FIELD_CHARS) for k, v in record.fields.items()
              if v and k != "url"}
    if 0 < len(url := " ".join(storable(record.fields.get("url", "")).split())) <= _URL_CHARS:
        fields["url"] = url
    text, aggregator = _strip_chrome(storable(record.text))
    paragraphs = _paragraphs(text)

    if aggregator and paragraphs and len(paragraphs) > 2:
        header = paragraphs[0].split("\n")
        if all(len(line) < 100 and not line.endswith(".") for line in header):
            for key, value in _read_header(header).items():
                fields.setdefault(key, value)
            paragraphs = paragraphs[1:]
    if len(paragraphs) > 1 and (block := _header_block(paragraphs[0])) is not None:
        for key, value in block.items():  # "Headline\nBy Jane Doe\nMarch 4, 2025"
            fields.setdefault(key, value)
        paragraphs = paragraphs[1:]
    if not fields.get("title") and len(paragraphs) > 1:
        first = paragraphs[0]
        if "\n" not in first and len(first) <= 200 and not _DATELINE.match(first) and \
                not first.rstrip("\"'”’)» \u00a0").endswith((".", "!", "?")):  # 'Todd."'
            fields["title"] = first.lstrip("# ").strip()
            paragraphs = paragraphs[1:]
    elif paragraphs and _norm(paragraphs[0].lstrip("# ")) == _norm(fields.get("title", "")):
        paragraphs = paragraphs[1:]

    if paragraphs and (byline := _read_byline(paragraphs[0])) is not None:
        for key, value in byline.items():
            fields.setdefault(key, value)
        paragraphs = paragraphs[1:]

    captions = []
    body = []
    for paragraph in paragraphs:
        if "\n" not in paragraph and (caption := _CAPTION.match(paragraph)) and \
                not _spelled_out(caption["text"], caption["credit"]):
            captions.append(paragraph)
        else:
            body.append(paragraph)
    text = "\n\n".join(body)
    if not fields.get("title"):
        fields["title"] = _first_sentence(text)
    if not fields.get("source") and (match := _DATELINE_SOURCE.match(text)):
        fields["source"] = match["source"]
    if not fields.get("published") and (match := _DATED_DATELINE.match(text)) and \
            (published := parse_date(match["date"], whole=True)) is not None:
        fields["published"] = published.isoformat()

    if fields.get("published") and (day := parse_date(fields["published"])) is not None:
        fields["published"] = day.isoformat()  # "Wed, 05 Mar 2025 10:00:00 +0000" as shown
    meta = {key: fields.get(key, "") for key in
            ("title", "source", "author", "published", "url", "section")}
    digest = hashlib.sha256(json.dumps([text, meta], sort_keys=True).encode()).hexdigest()
    return Article(id=digest[:16], path=record.path, text=text, captions=tuple(captions),
                   content_hash=digest, **meta)
