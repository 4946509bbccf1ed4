"""Extractive answers: the trained reader marks the short answer inside the retrieved
passages; the answer is that span, then its evidence sentence quoted exactly and cited, or
"The articles don't say." when the reader's calibrated confidence is too low."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answering.abstention import abstain
from qa.answering.description import described_name, description
from qa.answering.speaker import SPEAKER_PRIOR, asked_speaker, names_speaker, speaks
from qa.core.records import Answer, Citation, Passage, ShortAnswer
from qa.core.text import NAME_OR_NUMBER, content_words, root, strip_markers
from qa.reader.model import ConfidenceFeatures, Reader, SpanGuess

__all__ = ["MAX_WORDS", "compose_answer", "confidence_features", "extract_answer",
           "question_coverage", "question_names", "read_spans"]

#: the quoted evidence of one answer is at most this many words.
MAX_WORDS = 50
#: a runner-up span's sentence is quoted too when its margin is within this many logits of
#: the best one's. NewsQA dev, answerable questions 1-300 / 301-800, reader v2, answer
#: accuracy without abstention, gold article given: gap 4 69.3 / 61.4%, 6 70.0 / 62.0%,
#: 8 69.3 / 62.4%, always 69.0 / 63.4%; open retrieval: 45.3 / 44.4, 47.0 / 45.0,
#: 47.3 / 44.6, 48.0 / 44.8%. The best sentence alone: 65.0% (1-300, gold article).
RUNNER_UP_GAP = 6.0
#: spans are ranked by margin + RANK_PRIOR / (the passage's retrieval rank): retrieval knows
#: which passages are on topic, the reader what answers. NewsQA dev, all 2,049 questions:
#: answer accuracy 40.7 -> 41.8%, citation accuracy 59.6 -> 62.0% (better on both halves;
#: 3 is no better).
RANK_PRIOR = 2.0
#: ... plus SENTENCE_PRIOR x (the cosine of the question with the span's sentence): the
#: reader reads words, the sentence embedding meaning. NewsQA dev, all 2,049 questions,
#: reader v3: 0 / 10 / 15 / 20 / 30 give answer accuracy, open, 48.1 / 48.5 / 48.8 / 48.6 /
#: 47.9%; gold article 67.8 / 68.5 / 68.8 / 68.5 / 68.1%; citation accuracy, open, 62.1 /
#: 63.2 / 63.3 / 63.2 / 62.7% (better on both halves of the questions at 10-20).
SENTENCE_PRIOR = 15.0
_WORD_SPAN = re.compile(r"\S+")


def extract_answer(question: str, passages: Sequence[Passage], reader: Reader,
                   max_words: int = MAX_WORDS, named: bool = False) -> Answer:
    """Read `passages` for `question`: a short answer with its cited evidence (at most
    `max_words` words in all), or an abstention that lists the related passages. `named`:
    the passages are from articles the user named, which the confidence weighs otherwise
    (`Reader.fit`)."""
    ranked = read_spans(question, passages, reader)
    fit = reader.fit(named)
    confidence = fit.confidence(confidence_features(question, passages, ranked)) \
        if ranked else 0.0
    if not ranked or confidence < fit.threshold:
        return abstain(question, passages, confidence=round(confidence, 4))
    if (name := described_name(question)) is not None:
        # "Who is <name>?": the words that describe them, or no short answer rather than
        # the other name the reader marks ("Vladimir Putin" for "Who is Steve Witkoff?")
        described = description(question, name, passages, ranked, reader,
                                lambda guess: _rank_score(guess, passages[guess.passage]))
        if described is None:
            return compose_answer(question, passages, ranked, confidence, max_words,
                                  short=False)
        ranked = [described, *ranked]
    elif (speaker := asked_speaker(question)) is not None:
        # "What did Marcus Bell say?": a span that names him ("the trumpeter Marcus Bell") is
        # who spoke, not what was said: the quoted sentence is the answer
        best = ranked[0]
        marked = passages[best.passage].chunk.text[best.start:best.end]
        return compose_answer(question, passages, ranked, confidence, max_words,
                              short=not names_speaker(speaker, marked))
    return compose_answer(question, passages, ranked, confidence, max_words)


def read_spans(question: str, passages: Sequence[Passage], reader: Reader) -> list[SpanGuess]:
    """The reader's best span in each sentence of the passages, best first (see
    `RANK_PRIOR`). Per sentence, not per passage: the runner-up quoted beside the best
    answer can be the best span's neighbour. NewsQA dev, reader v3, questions 1-1,000 /
    1,001-2,049 (`python -m bench.reader_curve`): gold article 64.1 / 64.6 -> 67.4 / 68.2%
    answer accuracy, open 46.8 / 46.2 -> 48.3 / 48.0%; with two sentences always quoted
    (the same length of evidence), gold article 65.7 -> 69.0% over all 2,049."""
    sentences = [[(a - p.chunk.start, b - p.chunk.start) for a, b in p.chunk.sentences]
                 for p in passages]
    guesses = reader.read(question, [p.chunk.text for p in passages], sentences)
    speaker = asked_speaker(question)  # "What did X say ...?": X speaking ranks first

    def rank(guess: SpanGuess) -> float:
        passage = passages[guess.passage]
        if speaker is None:
            return _rank_score(guess, passage)
        first, last = passage.chunk.sentences[guess.sentence]
        said = speaks(speaker, passage.article.text[first:last])
        return _rank_score(guess, passage) + (SPEAKER_PRIOR if said else 0.0)

    return sorted(guesses, key=rank, reverse=True)


def _rank_score(guess: SpanGuess, passage: Passage) -> float:
    """What spans are ranked by (`RANK_PRIOR`, `SENTENCE_PRIOR`)."""
    similarities = passage.sentence_similarities
    closeness = similarities[guess.sentence] if guess.sentence < len(similarities) else 0.0
    return guess.margin + RANK_PRIOR / passage.rank + SENTENCE_PRIOR * closeness


def confidence_features(question: str, passages: Sequence[Passage],
                        ranked: Sequence[SpanGuess]) -> ConfidenceFeatures:
    """What the reader's confidence is computed from: the best span's margin, how much of
    the question its passage holds (`question_coverage`) and how close it is in meaning."""
    passage = passages[ranked[0].passage]
    return ConfidenceFeatures(ranked[0].margin,
                              question_coverage(question, passage.chunk.text),
                              passage.similarity)


def question_coverage(question: str, text: str) -> float:
    """The share of the question's content words that `text` holds, names and numbers
    counting twice; words are compared by their `root` ("bombing" is held by a passage that
    says "bomb"). A span from a passage that lacks the question's names and topic is most
    often from the wrong article: on NewsQA dev this tells questions whose article is not
    indexed apart better than the reader's margin does, and best together with it (names
    counted twice do as well as weighting words by rarity, unweighted words worse)."""
    names = {root(word) for word in question_names(question)}
    weights = {root(word): 2.0 if root(word) in names else 1.0
               for word in content_words(question)}
    held = {root(word) for word in content_words(text)}
    total = sum(weights.values())
    return sum(w for word, w in weights.items() if word in held) / total if total else 0.0


def question_names(question: str) -> set[str]:
    """The content words of the question's names and numbers (a capital at its start
    does not make a name)."""
    return {word for match in NAME_OR_NUMBER.finditer(question) if match.start() > 0
            for word in content_words(match.group(0))}


def compose_answer(question: str, passages: Sequence[Passage], ranked: Sequence[SpanGuess],
                   confidence: float, max_words: int = MAX_WORDS, short: bool = True) -> Answer:
    """The answer for the best of `ranked`: its span in bold (unless not `short`), then its
    sentence quoted and cited; then the runner-up's sentence, cited too, when the reader
    rates it nearly as high. The whole answer stays within `max_words` words: when both
    sentences do not fit, each is cut around its span, the best one keeping at least half
    of the room."""
    best = ranked[0]
    passage = passages[best.passage]
    start, end = _trimmed(passage.article.text, passage.chunk.start + best.start,
                          passage.chunk.start + best.end)
    room = max_words - _words(passage, (start, end))
    quotes = [_evidence(passage, start, end, room)]
    sources = [passage]
    for runner in ranked[1:3]:
        if best.margin - runner.margin > RUNNER_UP_GAP:
            break
        other = passages[runner.passage]
        at, to = other.chunk.start + runner.start, other.chunk.start + runner.end
        whole = _evidence(other, at, to, max_words)
        if other.article.id == passage.article.id and whole[0] < quotes[0][1] \
                and quotes[0][0] < whole[1]:
            continue  # the same sentence again
        first = min(_words(passage, quotes[0]), max(room - _words(other, whole), room // 2))
        quotes[0] = _evidence(passage, start, end, first)
        quotes.append(_evidence(other, at, to, room - _words(passage, quotes[0])))
        sources.append(other)
        break
    citations = [Citation(n, p.article, p.article.text[a:b], a, b, round(confidence, 4))
                 for n, (p, (a, b)) in enumerate(zip(sources, quotes), 1)]
    marked = ShortAnswer(passage.article.text[start:end], start, end, citation=1)
    body = " ".join(f"{_elided(p, quote)} [{c.n}]"
                    for p, quote, c in zip(sources, quotes, citations))
    return Answer(question=question, text=f"**{marked.text}** — {body}" if short else body,
                  citations=citations, short=marked if short else None,
                  confidence=round(confidence, 4))


#: quotes and brackets that open, with the ones that close them.
_PAIRS = {'"': '"', "“": "”", "‘": "’", "«": "»", "„": "“", "(": ")", "[": "]"}
#: (not "’", an apostrophe far more often: "the workers’")
_CLOSING = {close: open_ for open_, close in _PAIRS.items() if close != "’"}


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span `text[start:end]` without an opening quote or bracket at its start that it
    does not close (`"Cheyava Falls`), the same at its end, and without spaces and commas
    at either edge (a span of nothing else stays as it is)."""
    given = start, end
    while start < end:
        if text[start] in " \t\n,;:" or (
                text[start] in _PAIRS and _PAIRS[text[start]] not in text[start + 1:end]):
            start += 1
        elif text[end - 1] in " \t\n,;:" or (
                text[end - 1] in _CLOSING and _CLOSING[text[end - 1]] not in text[start:end - 1]
                and not (text[end - 1] == '"' and text[end - 2].isdigit())):  # 5 ft 11"
            end -= 1
        else:
            break
    return (start, end) if start < end else given


def _elided(passage: Passage, quote: tuple[int, int]) -> str:
    """The quote, with "…" where it starts or ends inside a sentence, without the article's
    own bracketed numbers (footnotes: "[3]" would read as a citation marker)."""
    lead = "…" if quote[0] > _sentence_of(passage, quote[0])[0] else ""
    tail = "…" if quote[1] < _sentence_of(passage, quote[1] - 1)[1] else ""
    return f"{lead}{strip_markers(passage.article.text[quote[0]:quote[1]])}{tail}"


def _words(passage: Passage, span: tuple[int, int]) -> int:
    return len(passage.article.text[span[0]:span[1]].split())


def _sentence_of(passage: Passage, offset: int) -> tuple[int, int]:
    """The chunk sentence (article offsets) that holds character `offset`."""
    for start, end in passage.chunk.sentences:
        if offset < end:
            return start, end
    return passage.chunk.sentences[-1] if passage.chunk.sentences else \
        (passage.chunk.start, passage.chunk.end)


def _evidence(passage: Passage, start: int, end: int, limit: int) -> tuple[int, int]:
    """The sentence(s) holding the span `start:end`, cut to `limit` words around it (never
    cutting the span itself)."""
    first, last = _sentence_of(passage, start)[0], _sentence_of(passage, end - 1)[1]
    text = passage.article.text
    words = list(_WORD_SPAN.finditer(text, first, last))
    if len(words) <= limit:
        return first, last
    limit = max(limit, 1)
    inside = [i for i, w in enumerate(words) if w.end() > start and w.start() < end]
    centre = (inside[0] + inside[-1]) // 2 if inside else 0
    lo = max(0, min(centre - limit // 2, len(words) - limit))
    lo = min(lo, inside[0]) if inside else lo
    hi = min(len(words), lo + limit)
    return min(words[lo].start(), start), max(words[hi - 1].end(), end)

