"""The records of the read path: retrieved passages and cited answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date

from index.article import Article, Chunk
from index.errors import InputError

__all__ = ["ABSTAIN_TEXT", "Answer", "ArticleFilter", "Citation", "Passage", "ShortAnswer"]

ABSTAIN_TEXT = "The articles don't say."


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
    """A retrieved chunk, with its fused score and rank (1 = best)."""

    chunk: Chunk
    article: Article
    score: float
    rank: int


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
    """An answer: `text` carries [n] markers that refer to `citations[n-1]`."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    #: "extractive" or "llm"; "llm-fallback" when the model failed and extraction answered.
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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["citations"] = [c.to_dict() for c in self.citations]
        data["related"] = [c.to_dict() for c in self.related]
        return data
