"""The records every layer shares: an article and its chunks (the write path), retrieved
passages and cited answers (the read path)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime

from qa.core.errors import InputError

__all__ = ["ABSTAIN_TEXT", "DOCUMENT_PREFIX", "Answer", "Article", "ArticleFilter", "Chunk",
           "Citation", "Passage", "ShortAnswer", "file_of", "name_of", "parse_date"]

_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%d/%m/%Y")
#: a month as news agencies abbreviate it ("Feb. 20, 2025", "Sept. 3, 2024").
_AP_MONTH = re.compile(r"(?i)^(jan|feb|aug|sept?|oct|nov|dec)\.\s*")
#: month names of the languages news is often written in (English, French, German, Spanish,
#: Italian, Portuguese, Dutch), for dates such as "14 mars 2025" or "7. April 2025".
_MONTH_NAMES = (
    "january janvier januar jänner enero gennaio janeiro januari",
    "february février fevrier februar febrero febbraio fevereiro februari",
    "march mars märz maerz marzo março maart",
    "april avril abril aprile",
    "may mai mayo maggio maio mei",
    "june juin juni junio giugno junho",
    "july juillet juli julio luglio julho",
    "august août aout agosto augustus",
    "september septembre septiembre setiembre settembre setembro",
    "october octobre oktober octubre ottobre outubro",
    "november novembre noviembre novembro",
    "december décembre decembre dezember diciembre dicembre dezembro",
)
_MONTH = {name: n for n, names in enumerate(_MONTH_NAMES, 1) for name in names.split()}
#: "[weekday,] [le|el|den] 14[er|.|º] [de] mars [de] 2025"
_SPELLED_DATE = re.compile(r"(?:[^\W\d_]{2,10},?\s+)?(?:le|el|den|am)?\s*(\d{1,2})(?:er|\.|º|°)?\s+"
                           r"(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+|del\s+)?(\d{4})")
#: an ISO 8601 date, or date and time, and nothing else.
_ISO = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?")
#: seconds (or milliseconds) since 1970, as JSON exports often give a date.
_EPOCH = re.compile(r"\d{9,10}(?:\.\d+)?|\d{12,13}")


def parse_date(text: str, *, whole: bool = False) -> date | None:
    """The date in a publication-date string (ISO 8601, RFC 2822, "April 25, 2025", "14 mars
    2025", "7. April 2025", seconds since 1970, ...). With `whole`, for text that may be
    something else (a line of an article): only text that is all a date, and no bare number."""
    text = text.strip()
    if not whole or _ISO.fullmatch(text):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    if not whole and _EPOCH.fullmatch(text):
        seconds = float(text) / (1000 if len(text.split(".")[0]) > 10 else 1)
        return datetime.fromtimestamp(seconds, tz=timezone.utc).date()
    if len(text) <= 60 and (spelled := _SPELLED_DATE.fullmatch(text.lower())) \
            and spelled[2] in _MONTH:  # (a date is short: no long runs for the pattern to try)
        try:
            return date(int(spelled[3]), _MONTH[spelled[2]], int(spelled[1]))
        except ValueError:
            return None
    text = _AP_MONTH.sub(lambda month: f"{month[1][:3]} ", text)  # "Feb. 20" -> "Feb 20"
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


#: how the path of an article added to a database store as a document (through the LangChain
#: adapter) starts: it lives in the store until deleted there, not in a file.
DOCUMENT_PREFIX = "document:"


#: how a record of a JSON or JSONL file that holds several is named: "feed.jsonl#3". Only
#: that ending names a record: a "#" elsewhere is part of a file or folder name ("a#b.txt").
_RECORD_OF_FILE = re.compile(r"(.+\.jsonl?)#\d+", re.IGNORECASE)


def file_of(path: str) -> str:
    """The file an article came from ("a.jsonl#3" -> "a.jsonl"; "notes#2.txt" is a file)."""
    record = _RECORD_OF_FILE.fullmatch(path)
    return record.group(1) if record else path


def name_of(path: str) -> str:
    """The file name of an article's path ("/news/feed.jsonl#3" -> "feed.jsonl")."""
    return file_of(path).replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Article:
    """One cleaned article. `text` is the single reference all offsets point into."""

    id: str
    path: str
    title: str
    text: str = field(repr=False)  # printing a citation shows where it is from, not all this
    source: str = ""
    author: str = ""
    published: str = ""
    url: str = ""
    section: str = ""
    #: photo captions removed from the body (kept as metadata, not indexed).
    captions: tuple[str, ...] = field(default=(), repr=False)
    #: sha256 of the cleaned text and metadata; equal hashes mean the same article.
    content_hash: str = ""

    @property
    def name(self) -> str:
        """The file name the article came from (what evaluation sets call its source)."""
        return name_of(self.path)

    @property
    def published_date(self) -> date | None:
        """`published` as a date, when it can be read as one."""
        return parse_date(self.published) if self.published else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["captions"] = list(self.captions)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Article:
        return cls(**{**data, "captions": tuple(data.get("captions", ()))})


@dataclass(frozen=True)
class Chunk:
    """A few whole sentences of an article: `article.text[start:end] == text`."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    #: sentence boundaries inside the chunk, as (start, end) offsets into the article text.
    sentences: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "article_id": self.article_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "sentences": [list(s) for s in self.sentences],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        sentences = tuple((int(a), int(b)) for a, b in data.get("sentences", ()))
        return cls(data["id"], data["article_id"], data["start"], data["end"], data["text"],
                   sentences)


ABSTAIN_TEXT = "The articles don't say."
#: an answer's confidence (the probability that it is right) below which it is shown as low.
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles may be retrieved and cited: by publisher or file name, and by
    publication date (inclusive; articles without a readable date are left out then)."""

    sources: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None

    @classmethod
    def of(cls, sources: Iterable[str] | None = None, since: date | str | None = None,
           until: date | str | None = None) -> ArticleFilter | None:
        """A filter from user input (dates as YYYY-MM-DD), or None when nothing is filtered.
        Raises `InputError` for a date it cannot read."""
        if not sources and since is None and until is None:
            return None
        return cls(frozenset(sources or ()), _as_date(since, "since"), _as_date(until, "until"))

    def describe(self) -> str:
        """The filter in words: "only articles from The Guardian, published on or after
        2024-05-01 (articles without a date are left out)"."""
        parts = [f"from {' or '.join(sorted(self.sources))}"] if self.sources else []
        if self.since is not None:
            parts.append(f"published on or after {self.since.isoformat()}")
        if self.until is not None:
            parts.append(f"published on or before {self.until.isoformat()}")
        undated = " (articles without a date are left out)" \
            if self.since is not None or self.until is not None else ""
        return f"only articles {', '.join(parts)}{undated}"

    def names(self, article: Article) -> bool:
        """Whether this filter names `article` by its file name, not only by its publisher."""
        return article.name in self.sources

    def admits(self, article: Article) -> bool:
        if self.sources and not ({article.source, article.name} & self.sources):
            return False
        if self.since is None and self.until is None:
            return True
        published = article.published_date
        return published is not None and (self.since is None or published >= self.since) \
            and (self.until is None or published <= self.until)


def _as_date(value: date | str | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name} must be a date as YYYY-MM-DD, not {value!r}.") from None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, with its fused score and rank (1 = best), and the cosine of the
    question with each of the chunk's sentences."""

    chunk: Chunk
    article: Article
    score: float
    rank: int
    #: per sentence of `chunk.sentences`, its cosine with the question.
    sentence_similarities: tuple[float, ...] = ()

    @property
    def similarity(self) -> float:
        """The cosine of the question with the chunk's closest sentence (0.0 if unknown)."""
        return max(self.sentence_similarities, default=0.0)


@dataclass(frozen=True)
class Citation:
    """A quoted passage backing (part of) an answer: `article.text[start:end] == quote`."""

    n: int
    article: Article
    quote: str
    start: int
    end: int
    score: float
    #: False when a generated sentence citing it is not supported by the quote.
    supported: bool = True

    def context(self, chars: int = 400) -> tuple[str, str, str]:
        """`(before, quote, after)`: the quote with up to `chars` characters either side."""
        text = self.article.text
        return (text[max(0, self.start - chars):self.start], self.quote,
                text[self.end:self.end + chars])

    def to_dict(self) -> dict:
        a = self.article
        return {
            "n": self.n, "quote": self.quote, "start": self.start, "end": self.end,
            "score": round(self.score, 4), "supported": self.supported,
            "article": {"id": a.id, "title": a.title, "source": a.source, "author": a.author,
                        "published": a.published, "url": a.url, "path": a.path},
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The short answer the reader marked: `citations[citation-1].article.text[start:end]`,
    inside that citation's quote."""

    text: str
    start: int
    end: int
    citation: int


@dataclass
class Answer:
    """An answer: plain text whose [n] markers refer to `citations[n-1]`; an extractive
    answer leads with its short answer in `**…**`."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    #: "extractive" or "llm"; "llm-fallback" when the model failed and extraction answered;
    #: "digest" (an overview of articles), "metadata" (about the articles: author, date...).
    mode: str = "extractive"
    #: seconds spent per stage, e.g. {"retrieve": 0.01, "answer": 0.004, "total": 0.015}.
    timings: dict[str, float] = field(default_factory=dict)
    #: passages shown as related when abstaining (not claims).
    related: list[Citation] = field(default_factory=list)
    #: the question actually searched (a follow-up rewritten into a standalone question).
    standalone_question: str = ""
    #: notes for the reader, e.g. why a generated answer fell back to extraction.
    notes: list[str] = field(default_factory=list)
    #: the short answer span (extractive answers), None when abstaining or generated.
    short: ShortAnswer | None = None
    #: the reader's calibrated probability (0-1) that the extractive answer is right.
    confidence: float = 0.0

    @property
    def low_confidence(self) -> bool:
        """Whether the short answer is more likely wrong than right, as its percentage shows
        (below `LOW_CONFIDENCE`; 0.4996 shows as 50%, so it is not)."""
        return self.short is not None \
            and int(f"{self.confidence:.0%}".rstrip("%")) < LOW_CONFIDENCE * 100

    @property
    def confidence_line(self) -> str:
        """"Confidence: 91%" for an answer with a short answer ("" otherwise); a low one
        says to check the quote."""
        if self.short is None:
            return ""
        line = f"Confidence: {self.confidence:.0%}"
        return f"{line} (low: check that the quote answers the question)" \
            if self.low_confidence else line

    def to_dict(self) -> dict:
        data = asdict(self)
        data["citations"] = [c.to_dict() for c in self.citations]
        data["related"] = [c.to_dict() for c in self.related]
        return data
