"""Answers about the articles themselves: who wrote one, when it was published, which
publisher ran it, its headline. The reader looks for such facts in the articles' sentences,
where a byline, a date line or a masthead never is (loading moves them into the article's
metadata), so it said "The articles don't say." Each such answer names the article and cites
its lead sentence, whose article view shows the byline, publisher and date beside it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answering.publishers import GENERIC_WORDS, named_publishers, publisher_words
from qa.core.records import Answer, Article, Citation, Passage
from qa.core.text import content_words, shorten, split_sentences, strip_markers, tokenize

__all__ = ["METADATA_MODE", "asked_field", "metadata_answer", "shown_field"]

METADATA_MODE = "metadata"
#: articles answered about at most, when the question names none.
MAX_ARTICLES = 3
#: the characters of a title, byline or publisher shown at most.
MAX_FIELD_CHARS = 160

#: what a question asks about the article (the first that matches), by `Article` field.
_FIELDS = {
    "author": re.compile(
        r"\b(?:who\s+(?:wrote|writes|authored|penned|reported)|who\s+(?:is|was|are|were)\s+"
        r"the\s+(?:authors?|writers?|reporters?|journalists?)|(?:authors?|writers?|byline|"
        r"reporters?|journalists?)\s+(?:of|behind|for)|whose\s+byline|by\s+whom|"
        r"who\s+(?:is|was|are|were)\s+\S+\s+by)\b", re.IGNORECASE),
    "published": re.compile(
        r"\bwhen\s+(?:was|were|did|is|are)\b.*\b(?:published|written|posted|out|appear(?:ed)?"
        r"|released|dated)\b|\b(?:publication\s+date|date\s+of\s+publication|dated?\s+of|"
        r"what\s+(?:date|day)\s+(?:was|were|is|are)\b.*\bpublished)\b", re.IGNORECASE),
    "source": re.compile(
        r"\b(?:(?:which|what)\s+(?:news\s*papers?|papers?|publications?|outlets?|"
        r"publishers?|websites?|sites?|news\s+(?:sources?|outlets?|organi[sz]ations?))|"
        r"who\s+(?:published|ran|publishes)|where\s+(?:was|were|is|are)\b.*\b(?:published|"
        r"from))\b", re.IGNORECASE),
    "title": re.compile(
        r"\b(?:what|which)\s+(?:is|are|was|were)\s+(?:the\s+)?(?:\S+\s+){0,3}?(?:headlines?|"
        r"titles?)\b|\b(?:headlines?|titles?)\s+(?:of|for)\b", re.IGNORECASE),
}
#: a question about articles says so ("the article", "these stories"), unlike "Who wrote
#: the letter?" or "Who won the title?"; a headline is an article's whatever it says.
_ABOUT_ARTICLES = re.compile(r"\b(?:articles?|stor(?:y|ies)|pieces?|columns?|headlines?"
                             r"|obituar(?:y|ies))\b", re.IGNORECASE)
#: words of such a question that name no topic: what is left says which article.
_ASKING = frozenset(tokenize(
    "who wrote writes authored penned reported author authors writer writers byline reporter "
    "reporters journalist journalists whose whom when published written posted out appear "
    "appeared released dated publication date day which newspaper newspapers publications "
    "outlet outlets publisher publishers website websites site sites organisation "
    "organization ran publishes where from headline headlines title titles piece pieces "
    "column columns one")) | GENERIC_WORDS


def asked_field(question: str) -> str | None:
    """The article field ("author", "published", "source", "title") `question` asks for, when
    it asks about an article rather than about what articles report; else None."""
    if not _ABOUT_ARTICLES.search(question):
        return None
    return next((name for name, pattern in _FIELDS.items() if pattern.search(question)), None)


def metadata_answer(question: str, field: str, passages: Sequence[Passage],
                    indexed: int = 0) -> Answer | None:
    """The `field` of the articles `question` is about, among those of `passages` (in
    retrieval order): those it names by publisher; else, when it names a topic ("the
    article about the car bomb"), the best-retrieved one; else up to `MAX_ARTICLES`, with a
    note saying how many of the `indexed` articles that is. Each line cites the article's
    lead sentence. None when no passage was retrieved."""
    articles = list({p.article.id: p.article for p in passages}.values())
    if not articles:
        return None
    asked = set(named_publishers(question, {a.source for a in articles}))
    named = [a for a in articles if a.source in asked]
    topic = content_words(question) - _ASKING - set().union(*map(publisher_words, asked))
    chosen = named or articles[:1 if topic else MAX_ARTICLES]
    citations: list[Citation] = []
    lines: list[str] = []
    for article in chosen:
        lead = split_sentences(article.text)[:1]
        start, end = lead[0] if lead else (0, 0)
        citations.append(Citation(len(citations) + 1, article, article.text[start:end], start,
                                  end, 1.0))
        lines.append(f"{_statement(article, field)} [{len(citations)}]")
    text = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
    notes = [f"{len(chosen)} of the {indexed:,} indexed articles: those the search found "
             "first. Name a publisher or a topic to ask about others."] \
        if not named and not topic and indexed > len(chosen) else []
    return Answer(question=question, text=text, citations=citations, mode=METADATA_MODE,
                  notes=notes)


def _statement(article: Article, field: str) -> str:
    """One sentence giving `field` of `article`, or saying that the article gives none."""
    title, source, value = (shown_field(getattr(article, name))
                            for name in ("title", "source", field))
    named = f"“{title or shown_field(article.name)}”"
    of_publisher = f"{named} ({source})" if source else named
    if field == "title":
        return f"The article from {source} is headlined {named}." if source \
            else f"The article {shown_field(article.name)} is headlined {named}."
    if not value:
        missing = {"author": "names no author", "published": "gives no publication date",
                   "source": "names no publisher"}[field]
        return f"{of_publisher} {missing}."
    if field == "author":
        return f"{of_publisher} is by {value}."
    if field == "published":
        return f"{of_publisher} was published {_date(value)}."
    return f"{named} is from {value}."


def shown_field(value: str) -> str:
    """An article's field as an answer may show it: on one line, without citation markers
    (a title holding "[2]" must not cite), at most `MAX_FIELD_CHARS` characters."""
    return shorten(strip_markers(value), MAX_FIELD_CHARS)


def _date(published: str) -> str:
    """"on 2025-04-25" for an ISO date (its time left out), else "on" the date as given."""
    day = re.match(r"\d{4}-\d\d-\d\d", published)
    return f"on {day.group() if day else published}"
