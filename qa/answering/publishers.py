"""Which publishers a question names: "Summarise the Guardian article", "What did the
Independent say about Crimea?". A publisher is named when every word of its name that tells
it apart ("guardian" of "The Guardian - UK") is in the question, written with a capital
unless the whole question is in lower case: "What time was it?" does not name *Time*. It is
*cited* when the question asks what it reported ("According to the Guardian, ..."): the
answer then keeps to its articles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from qa.core.text import fold, stem, tokenize

__all__ = ["GENERIC_WORDS", "cited_publishers", "named_publishers", "publisher_words"]

#: words of a publisher's name, or of a question about articles, that name no one publisher
#: or topic ("the articles", "UK", "news").
GENERIC_WORDS = frozenset(tokenize(
    "article articles news story stories report reports paper papers source sources uk us "
    "latest today daily online"))
#: what may follow a publisher's name that makes it the source of what is asked: "the
#: Guardian article", "the Guardian's report", "what did the Guardian say".
_AS_SOURCE_AFTER = (r"(?=\s+(?:articles?|stor(?:y|ies)|pieces?|reports?|coverage|columns?|"
                    r"say|says|said|reported|write|writes|wrote|claim|claims|claimed)\b)")
_WORD = re.compile(r"\w[\w'’.]*")


def publisher_words(source: str) -> set[str]:
    """The terms that tell the publisher `source` apart ("guardian" of "The Guardian - UK")."""
    return set(tokenize(source)) - GENERIC_WORDS


def named_publishers(question: str, publishers: Iterable[str]) -> list[str]:
    """Those of `publishers` that `question` names (see the module's docstring)."""
    lower = question == question.lower()
    written = {stem(fold(w)) for w in _WORD.findall(question) if lower or w[0].isupper()}
    return [p for p, words in _told_apart(tuple(publishers)) if words <= written]


@lru_cache(maxsize=8)
def _told_apart(publishers: tuple[str, ...]) -> tuple[tuple[str, frozenset[str]], ...]:
    """`publishers` that have words telling them apart, with those words: read once per
    store's list (a store's stats keep the same tuple while it is unchanged)."""
    return tuple((p, frozenset(words)) for p in publishers if (words := publisher_words(p)))


def cited_publishers(question: str, publishers: Iterable[str]) -> tuple[list[str], str]:
    """Those of `publishers` that `question` names as the source of what it asks ("According
    to the Guardian, who was killed?", "What did the Independent article say?", "What was
    reported in the Guardian?"; not "What did they tell CNN?"), and the question without
    those words: once the answer keeps to their articles, the reader should look for what
    is asked, not for the publisher's name in the text."""
    cited: list[str] = []
    text = question
    for publisher in named_publishers(question, publishers):
        words = [w for w in _WORD.findall(publisher) if stem(fold(w)) in publisher_words(publisher)]
        name = r"(?:\bthe\s+)?\b" + r"\W+".join(map(re.escape, words)) + r"(?:['’]s)?\b"
        source = (rf"\baccording\s+to\s+{name}\s*,?|{name}{_AS_SOURCE_AFTER}|"
                  rf"\b(?:in|from|by)\s+{name}(?=\s*(?:[?!.,]|$))")
        text, found = re.subn(source, "", text, flags=re.IGNORECASE)
        if found:
            cited.append(publisher)
    text = re.sub(r"\s+(?=[?!.,])", "", re.sub(r"\s{2,}", " ", text)).strip()
    return cited, text if cited and len(text.split()) >= 2 else question
