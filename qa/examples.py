"""Example questions for a corpus: the people and places its articles mention most."""

from __future__ import annotations

import re
from collections import Counter

from index.article import Article

__all__ = ["example_questions"]

_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2})\b")
_NOT_NAMES = {"The", "In", "But", "He", "She", "It", "This", "A", "On", "At", "Mr", "Mrs", "Ms"}


def example_questions(articles: list[Article], n: int = 4) -> list[str]:
    """Up to `n` "Who is ...?" questions about names that recur in the articles, spread over
    as many articles as possible."""
    counts: Counter[str] = Counter()
    home: dict[str, str] = {}
    for article in articles:
        for name in set(_NAME.findall(article.text)):
            if name.split()[0] not in _NOT_NAMES:
                counts[name] += article.text.count(name)
                home.setdefault(name, article.id)
    questions: list[str] = []
    used: set[str] = set()
    for name, _ in counts.most_common():
        if len(questions) == n:
            break
        if home[name] in used and len(used) < len(articles):
            continue
        used.add(home[name])
        questions.append(f"Who is {name}?")
    return questions
