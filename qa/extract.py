"""Extractive answers: the trained reader marks the short answer inside the retrieved
passages; the answer is that span, then its evidence sentence quoted exactly and cited, or
"The articles don't say." when the reader's calibrated confidence is too low."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.reader.model import Reader, SpanGuess
from qa.types import ABSTAIN_TEXT, Answer, Citation, Passage, ShortAnswer

__all__ = ["MAX_WORDS", "best_span", "compose_answer", "extract_answer", "related_passages"]

#: the quoted evidence of one answer is at most this many words.
MAX_WORDS = 50
_WORD_SPAN = re.compile(r"\S+")


def extract_answer(question: str, passages: Sequence[Passage], reader: Reader) -> Answer:
    """Read `passages` for `question`: a short answer with its cited evidence sentence,
    or an abstention that lists the related passages."""
    guess = best_span(question, passages, reader)
    confidence = reader.confidence(guess.margin) if guess else 0.0
    if guess is None or confidence < reader.threshold:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True,
                      related=related_passages(passages), confidence=round(confidence, 4))
    return compose_answer(question, passages, guess, confidence)


def best_span(question: str, passages: Sequence[Passage], reader: Reader) -> SpanGuess | None:
    """The reader's best answer span over all `passages` (None when there are none)."""
    guesses = reader.read(question, [p.chunk.text for p in passages])
    return max(guesses, key=lambda g: g.margin, default=None)


def compose_answer(question: str, passages: Sequence[Passage], guess: SpanGuess,
                   confidence: float) -> Answer:
    """The answer for `guess`: its span in bold, then the evidence sentence quoted and
    cited."""
    passage = passages[guess.passage]
    start, end = passage.chunk.start + guess.start, passage.chunk.start + guess.end
    text = passage.article.text
    quote_start, quote_end = _evidence(passage, start, end)
    citation = Citation(1, passage.article, text[quote_start:quote_end], quote_start,
                        quote_end, round(confidence, 4))
    short = ShortAnswer(text[start:end], start, end, citation=1)
    lead = "…" if quote_start > _sentence_of(passage, start)[0] else ""
    tail = "…" if quote_end < _sentence_of(passage, end - 1)[1] else ""
    body = f"**{_escape(short.text)}** — {lead}{citation.quote}{tail} [1]"
    return Answer(question=question, text=body, citations=[citation], short=short,
                  confidence=round(confidence, 4))


def _sentence_of(passage: Passage, offset: int) -> tuple[int, int]:
    """The chunk sentence (article offsets) that holds character `offset`."""
    for start, end in passage.chunk.sentences:
        if offset < end:
            return start, end
    return passage.chunk.sentences[-1] if passage.chunk.sentences else \
        (passage.chunk.start, passage.chunk.end)


def _evidence(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) holding the span `start:end`, cut to MAX_WORDS words around it."""
    first, last = _sentence_of(passage, start)[0], _sentence_of(passage, end - 1)[1]
    text = passage.article.text
    words = list(_WORD_SPAN.finditer(text, first, last))
    if len(words) <= MAX_WORDS:
        return first, last
    inside = [i for i, w in enumerate(words) if w.end() > start and w.start() < end]
    centre = (inside[0] + inside[-1]) // 2 if inside else 0
    lo = max(0, min(centre - MAX_WORDS // 2, len(words) - MAX_WORDS))
    lo = min(lo, inside[0]) if inside else lo
    hi = min(len(words), lo + MAX_WORDS)
    return min(words[lo].start(), start), max(words[hi - 1].end(), end)


def _escape(text: str) -> str:
    """`text` safe inside Markdown bold."""
    return re.sub(r"([\\*_`\[\]])", r"\\\1", text)


def related_passages(passages: Sequence[Passage], n: int = 3) -> list[Citation]:
    """The first `n` passages as citations to show beside an abstention (not claims)."""
    return [Citation(i, p.article, p.chunk.text, p.chunk.start, p.chunk.end, p.score)
            for i, p in enumerate(passages[:n], 1)]
