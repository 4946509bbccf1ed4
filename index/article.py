"""The records of the write path: an article and the chunks cut from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime

__all__ = ["Article", "Chunk", "parse_date"]

_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%d/%m/%Y")


def parse_date(text: str) -> date | None:
    """The date in a publication-date string (ISO 8601, RFC 2822, "April 25, 2025", ...)."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Article:
    """One cleaned article. `text` is the single reference all offsets point into."""

    id: str
    path: str
    title: str
    text: str
    source: str = ""
    author: str = ""
    published: str = ""
    url: str = ""
    section: str = ""
    #: photo captions removed from the body (kept as metadata, not indexed).
    captions: tuple[str, ...] = ()
    #: sha256 of the cleaned text and metadata; equal hashes mean the same article.
    content_hash: str = ""

    @property
    def name(self) -> str:
        """The file name the article came from (what evaluation sets call its source)."""
        return self.path.replace("\\", "/").rsplit("/", 1)[-1].split("#", 1)[0]

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
