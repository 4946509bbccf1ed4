"""Which publishers a question names: "Summarise the Guardian article", "What did the
Independent say about Crimea?". A publisher is named when every word of its name that tells
it apart ("guardian" of "The Guardian - UK") is in the question, written with a capital
unless the whole question is in lower case: "What time was it?" does not name *Time*."""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.core.text import fold, stem, tokenize

__all__ = ["GENERIC_WORDS", "asks_about_coverage", "named_publishers", "publisher_words"]

#: words of a publisher's name, or of a question about articles, that name no one publisher
#: or topic ("the articles", "UK", "news").
GENERIC_WORDS = frozenset(tokenize(
    "article articles news story stories report reports paper papers source sources uk us "
    "latest today daily online"))
#: a question about what a publisher reported, not only one that holds its name.
_COVERAGE = re.compile(r"\b(?:articles?|stor(?:y|ies)|pieces?|reports?|reported|reporting|"
                       r"coverage|according\s+to|says?|said|writes?|wrote|written)\b",
                       re.IGNORECASE)
_WORD = re.compile(r"\w[\w'’.]*")


def publisher_words(source: str) -> set[str]:
    """The terms that tell the publisher `source` apart ("guardian" of "The Guardian - UK")."""
    return set(tokenize(source)) - GENERIC_WORDS


def named_publishers(question: str, publishers: Iterable[str]) -> list[str]:
    """Those of `publishers` that `question` names (see the module's docstring)."""
    lower = question == question.lower()
    written = {stem(fold(w)) for w in _WORD.findall(question) if lower or w[0].isupper()}
    return [p for p in publishers if (words := publisher_words(p)) and words <= written]


def asks_about_coverage(question: str) -> bool:
    """Whether `question` asks what an article or publisher reported ("the Guardian article",
    "according to the Independent", "what did the Guardian say")."""
    return bool(_COVERAGE.search(question))
