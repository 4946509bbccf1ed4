"""Example questions for a corpus: the people its articles mention most."""

from __future__ import annotations

import re
from collections import Counter

from qa.core.records import Article

__all__ = ["example_questions"]

_NAME = re.compile(r"(?<![A-Z][a-z]\s)\b([A-Z][a-z]+\s+[A-Z][a-z]+)\b(?!\s+[A-Z])")
_TITLES = {"Mr", "Mrs", "Ms", "Dr", "Lt", "Gen", "Col", "Sgt", "Prof", "Sen", "Gov", "Rep"}


def example_questions(articles: list[Article], n: int = 4) -> list[str]:
    """Up to `n` "Who is ...?" questions about names that recur in the articles, spread over
    as many articles as possible."""
    lower_words = {w for a in articles for w in re.findall(r"\b[a-z]+\b", a.text)}
    counts: Counter[str] = Counter()
    home: dict[str, str] = {}
    for article in articles:
        for name in set(_NAME.findall(article.text)):
            words = name.split()
            # a person's name: two capitalised words, neither an ordinary word or a title
            if any(w.lower() in lower_words or w in _TITLES for w in words):
                continue
            if not re.search(rf"[a-z,;:“\"'’] {re.escape(name)}", article.text):
                continue  # seen only at the start of sentences ("Although Trump")
            counts[name] += article.text.count(name) + article.text.count(words[-1])
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
