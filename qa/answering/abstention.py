"""Abstaining: the answer "The articles don't say." with related passages to read instead,
and recognising a model's reply that says the same in other words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.core.records import ABSTAIN_TEXT, Answer, Citation, Passage
from qa.core.text import content_words

__all__ = ["abstain", "is_abstention", "related_passages"]

_ABSTAIN_PATTERNS = re.compile(
    r"\b(?:articles?|passages?|texts?|sources?|context)\s+(?:provided\s+)?(?:do(?:es)?\s*n[o']t|"
    r"do(?:es)?\s+not|did\s+not|didn't)\s+(?:say|contain|mention|include|provide|state|specify|"
    r"tell|give|answer|have)|"
    r"\bnot\s+(?:mentioned|stated|specified|provided|included|found)\s+in\s+the\s+"
    r"(?:articles?|passages?|texts?|sources?)|"
    r"\b(?:no|not\s+enough)\s+information\b|\bcannot\s+(?:be\s+)?(?:answer|determine|find)|"
    r"\bcan't\s+(?:answer|determine|find)|\bi\s+(?:do\s+not|don't)\s+know\b|"
    r"\bunable\s+to\s+(?:answer|find|determine)",
    re.IGNORECASE,
)


def related_passages(question: str, passages: Sequence[Passage], n: int = 3) -> list[Citation]:
    """The first `n` passages, each as its sentence sharing most words with `question`, to
    show beside an abstention (not claims)."""
    asked = content_words(question)
    related = []
    for i, passage in enumerate(passages[:n], 1):
        text = passage.article.text
        spans = passage.chunk.sentences or [(passage.chunk.start, passage.chunk.end)]
        start, end = max(spans, key=lambda span: len(asked & content_words(text[span[0]:span[1]])))
        related.append(Citation(i, passage.article, text[start:end], start, end, passage.score))
    return related


def abstain(question: str, passages: Sequence[Passage], *, mode: str = "extractive",
            confidence: float = 0.0, notes: Sequence[str] = ()) -> Answer:
    """The abstention for `question`, offering the first retrieved passages as related."""
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, mode=mode,
                  related=related_passages(question, passages), confidence=confidence,
                  notes=list(notes))


def is_abstention(text: str) -> bool:
    """Whether a reply says the passages do not hold the answer."""
    flat = " ".join(text.replace("’", "'").split())
    if not flat:
        return False
    if flat.lower().startswith(ABSTAIN_TEXT.lower().rstrip(".")):
        return True
    return bool(_ABSTAIN_PATTERNS.search(flat[:200]))
