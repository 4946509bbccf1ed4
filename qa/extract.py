"""Extractive answers: pick the sentences of the retrieved passages that answer the question,
quote them exactly, cite each one, and abstain when none of them does."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.lexical import BM25, tokenize
from qa.types import ABSTAIN_TEXT, Answer, Citation, Passage

__all__ = ["ABSTAIN_THRESHOLD", "answer_type", "extract_answer"]

#: Below this confidence the answer is an abstention. Confidence = support (the share of the
#: question's idf-weighted terms found around the best sentence) + the best cosine similarity
#: between question and (stored) sentence vector. Calibrated with `qa eval`: on the seed set
#: both unanswerable questions abstain and all 12 answerable ones are answered; on NewsQA dev
#: (all answerable) 105 of 2,049 questions abstain (0.7: 81, 0.9: 182, with accuracy 38.9,
#: 38.6, 37.9% in the sentence-vector calibration run).
ABSTAIN_THRESHOLD = 0.8
MAX_WORDS = 50
#: how many of the best lexical candidates are reranked by the cosine of their stored sentence
#: vector with the question, and how much it counts (NewsQA dev, 2,049 questions: weight 2, 3,
#: 4, 5 = 38.7, 38.6, 38.4, 38.0% accuracy; every candidate instead of 12: 38.6%; 6: 38.3%).
RERANK = 12
DENSE_WEIGHT = 3.0

_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")  # not starting a sentence
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|" \
    r"thirty|forty|fifty|hundred|thousand|million|billion|dozen|dozens|half"
_CUES = {
    "number": re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I),
    "date": re.compile(r"\b(?:1[89]\d\d|20\d\d|january|february|march|april|may|june|july|"
                       r"august|september|october|november|december|monday|tuesday|wednesday|"
                       r"thursday|friday|saturday|sunday|yesterday|today|last (?:week|month|"
                       r"year)|ago)\b", re.I),
    "name": _CAPITALISED,
    "place": _CAPITALISED,
    "age": re.compile(r"\b\d{1,3}-year-old\b|,\s\d{1,3},|\baged?\s\d{1,3}\b|\bage of \d{1,3}\b"),
    "person": re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+"),
}
#: how much a sentence holding the expected kind of answer counts (precise types count more).
_TYPE_WEIGHT = {"age": 0.6, "number": 0.4, "date": 0.4}
_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+")
_WORD_SPAN = re.compile(r"\S+")


def answer_type(question: str) -> str:
    """A coarse expected answer type: age, number, date, person, place, name, other."""
    q = question.lower().strip()
    if re.match(r"(how old|what age)\b", q):
        return "age"
    if re.match(r"(how (many|much|old|long|far|big|large|tall)|what (percentage|number|age))",
                q):
        return "number"
    if re.match(r"(when|what (year|day|date|month|time))", q):
        return "date"
    if re.match(r"(who|whom|whose)\b", q):
        return "person"
    if re.match(r"where\b", q):
        return "place"
    if re.match(r"which (country|city|company|group|team|man|woman|newspaper|magazine)", q):
        return "name"
    return "other"


@dataclass
class _Candidate:
    passage: Passage
    sentence: int  # index into passage.chunk.sentences
    start: int
    end: int
    score: float
    support: float


def _coverage(terms: set[str], weights: dict[str, float], total: float) -> float:
    return sum(weights[t] for t in terms if t in weights) / total if total else 0.0


def _trim(text: str, start: int, end: int, weights: dict[str, float]) -> tuple[int, int]:
    """Shrink a long sentence to the window of at most MAX_WORDS words that holds the most
    question weight, keeping exact offsets."""
    words = list(_WORD_SPAN.finditer(text, start, end))
    if len(words) <= MAX_WORDS:
        return start, end
    gains = [sum(weights.get(t, 0.0) for t in tokenize(w.group())) for w in words]
    best = max(range(len(words) - MAX_WORDS + 1), key=lambda i: sum(gains[i:i + MAX_WORDS]))
    return words[best].start(), words[best + MAX_WORDS - 1].end()


def _wh_free(question: str) -> str:
    """The question without its wh-phrase ("how long", "what year"...), whose words are not
    expected in the answer."""
    return re.sub(r"^\s*(how (many|much|old|long|far|big|large|tall)|what (percentage|number|"
                  r"age|year|day|date|month|time|kind|type)|which \w+)\b", "", question, flags=re.I)


def extract_answer(question: str, passages: list[Passage], bm25: BM25,
                   similarity: Callable[[list[tuple[Passage, int]]], list[float]],
                   focus: str | None = None) -> Answer:
    """Compose a short cited answer from `passages`, or an abstention.

    `focus` is the question whose wording decides the answer type (the user's own words when
    `question` is a follow-up rewritten with earlier turns). `similarity` scores sentences,
    given as `(passage, index into passage.chunk.sentences)`, against the question (cosine of
    embeddings) to rerank the best lexical candidates."""
    terms = set(tokenize(_wh_free(question)))
    weights = {t: bm25.idf(t) for t in terms}
    total = sum(weights.values())
    kind = answer_type(focus or question)
    question_words = {w.lower() for w in re.findall(r"\w+", question)}
    names = [tokenize(n) for n in _NAME.findall(question)]

    candidates: list[_Candidate] = []
    seen: set[tuple[str, int]] = set()
    for passage in passages:
        text = passage.article.text
        spans = passage.chunk.sentences
        for i, (start, end) in enumerate(spans):
            if (passage.article.id, start) in seen:
                continue
            seen.add((passage.article.id, start))
            sentence = text[start:end]
            own = set(tokenize(sentence))
            if len(own) < 3 or sentence.rstrip().endswith("?"):
                continue
            window = own.union(*(tokenize(text[s:e]) for s, e in spans[max(0, i - 1):i + 2]))
            window |= set(tokenize(passage.article.title))
            own, window = _with_full_names(own, names), _with_full_names(window, names)
            own_cov = _coverage(own, weights, total)
            support = _coverage(window, weights, total)
            # the sentence with the question's own words blanked out: what it adds
            fresh = re.sub(r"\w+", lambda m: "_" if m.group().lower() in question_words
                           else m.group(), sentence)
            cue = _CUES.get(kind)
            typed = 1.0 if cue is None else float(bool(cue.search(fresh)))
            if kind == "person":  # a first-and-last name beats any capitalised word
                typed = 0.5 * typed + float(bool(_CUES["person"].search(fresh)))
            novelty = min(len(tokenize(fresh)), 6) / 6
            score = own_cov + 0.6 * support + _TYPE_WEIGHT.get(kind, 0.25) * typed \
                + 0.1 * novelty
            candidates.append(_Candidate(passage, i, start, end, score, support))

    if not candidates or _missing_key_terms(question, passages):
        return _abstain(question, passages)
    candidates.sort(key=lambda c: c.score, reverse=True)
    top = candidates[:RERANK]
    cosines = similarity([(c.passage, c.sentence) for c in top])
    for candidate, cosine in zip(top, cosines):
        candidate.score += DENSE_WEIGHT * cosine
    candidates[:RERANK] = sorted(top, key=lambda c: c.score, reverse=True)
    confidence = max(c.support for c in candidates) + max(cosines)
    if confidence < ABSTAIN_THRESHOLD:
        return _abstain(question, passages)
    chosen = [candidates[0]]
    words = _count_words(candidates[0])
    for candidate in candidates[1:4]:
        extra = _count_words(candidate)
        if words + extra <= MAX_WORDS and candidate.score >= 0.5 * chosen[0].score:
            chosen.append(candidate)
            words += extra
            break
    chosen.sort(key=lambda c: (c.passage.rank, c.start))
    citations = []
    parts = []
    for n, candidate in enumerate(chosen, 1):
        text = candidate.passage.article.text
        start, end = _trim(text, candidate.start, candidate.end, weights)
        quote = text[start:end]
        citations.append(Citation(n, candidate.passage.article, quote, start, end,
                                  round(candidate.score, 4)))
        lead = "…" if start > candidate.start else ""
        tail = "…" if end < candidate.end else ""
        parts.append(f"{lead}{quote}{tail} [{n}]")
    return Answer(question=question, text=" ".join(parts), citations=citations)


def _with_full_names(terms: set[str], names: list[list[str]]) -> set[str]:
    """News names a person in full once, then by surname: a sentence with "Moskalik" covers
    the question's "Yaroslav Moskalik"."""
    for name in names:
        if len(name) > 1 and name[-1] in terms:
            terms = terms | set(name)
    return terms


def _missing_key_terms(question: str, passages: list[Passage]) -> list[str]:
    """Names in the question (capitalised words after the first) that appear in none of the
    passages: the question is about someone or something the articles do not mention."""
    words = re.findall(r"[\w’'-]+", question)
    keys = {t for w in words[1:] if w[:1].isupper() for t in tokenize(w)}
    found = set()
    for passage in passages:
        found |= set(tokenize(passage.chunk.text)) | set(tokenize(passage.article.title))
    return sorted(keys - found)


def _count_words(candidate: _Candidate) -> int:
    return min(len(candidate.passage.article.text[candidate.start:candidate.end].split()),
               MAX_WORDS)


def _abstain(question: str, passages: list[Passage]) -> Answer:
    related = [Citation(n, p.article, p.chunk.text, p.chunk.start, p.chunk.end, p.score)
               for n, p in enumerate(passages[:3], 1)]
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, related=related)
