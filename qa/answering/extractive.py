"""Extractive answers: the trained reader marks the short answer inside the retrieved
passages; the answer is that span, then its evidence sentence quoted exactly and cited, or
"The articles don't say." when the reader's calibrated confidence is too low."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answering.abstention import abstain
from qa.core.records import Answer, Citation, Passage, ShortAnswer
from qa.reader.model import Reader, SpanGuess

__all__ = ["MAX_WORDS", "compose_answer", "extract_answer", "read_spans"]

#: the quoted evidence of one answer is at most this many words.
MAX_WORDS = 50
#: a runner-up span's sentence is quoted too when its margin is within this many logits of
#: the best one's (NewsQA dev, first 600 questions, run 1: answer accuracy 39.2% with the
#: best sentence alone, 43.8% with a gap of 4, 44.0% always).
RUNNER_UP_GAP = 4.0
#: spans are ranked by margin + RANK_PRIOR / (the passage's retrieval rank): retrieval knows
#: which passages are on topic, the reader what answers. NewsQA dev, all 2,049 questions:
#: answer accuracy 40.7 -> 41.8%, citation accuracy 59.6 -> 62.0% (better on both halves;
#: 3 is no better).
RANK_PRIOR = 2.0
_WORD_SPAN = re.compile(r"\S+")


def extract_answer(question: str, passages: Sequence[Passage], reader: Reader) -> Answer:
    """Read `passages` for `question`: a short answer with its cited evidence, or an
    abstention that lists the related passages."""
    ranked = read_spans(question, passages, reader)
    confidence = reader.confidence(ranked[0].margin) if ranked else 0.0
    if not ranked or confidence < reader.threshold:
        return abstain(question, passages, confidence=round(confidence, 4))
    return compose_answer(question, passages, ranked, confidence)


def read_spans(question: str, passages: Sequence[Passage], reader: Reader) -> list[SpanGuess]:
    """The reader's best span in each passage, best first (see `RANK_PRIOR`)."""
    guesses = reader.read(question, [p.chunk.text for p in passages])
    return sorted(guesses, key=lambda g: g.margin + RANK_PRIOR / passages[g.passage].rank,
                  reverse=True)


def compose_answer(question: str, passages: Sequence[Passage], ranked: Sequence[SpanGuess],
                   confidence: float) -> Answer:
    """The answer for the best of `ranked`: its span in bold, then its sentence quoted and
    cited; then the runner-up's sentence, cited too, when the reader rates it nearly as high
    and the whole answer stays within MAX_WORDS words."""
    best = ranked[0]
    passage = passages[best.passage]
    start, end = passage.chunk.start + best.start, passage.chunk.start + best.end
    quotes = [_evidence(passage, start, end)]
    sources = [passage]
    for runner in ranked[1:3]:
        other = passages[runner.passage]
        at = other.chunk.start + runner.start
        span = _sentence_of(other, at)
        if best.margin - runner.margin > RUNNER_UP_GAP:
            break
        overlaps = other.article.id == passage.article.id and span[0] < quotes[0][1] \
            and quotes[0][0] < span[1]
        used = _words(passage, quotes[0]) + _words(passage, (start, end))
        if not overlaps and used + _words(other, span) <= MAX_WORDS:
            quotes.append(span)
            sources.append(other)
            break
    citations = [Citation(n, p.article, p.article.text[a:b], a, b, round(confidence, 4))
                 for n, (p, (a, b)) in enumerate(zip(sources, quotes), 1)]
    short = ShortAnswer(passage.article.text[start:end], start, end, citation=1)
    lead = "…" if quotes[0][0] > _sentence_of(passage, start)[0] else ""
    tail = "…" if quotes[0][1] < _sentence_of(passage, end - 1)[1] else ""
    body = f"**{short.text}** — {lead}{citations[0].quote}{tail} [1]"
    body += "".join(f" {c.quote} [{c.n}]" for c in citations[1:])
    return Answer(question=question, text=body, citations=citations, short=short,
                  confidence=round(confidence, 4))


def _words(passage: Passage, span: tuple[int, int]) -> int:
    return len(passage.article.text[span[0]:span[1]].split())


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

