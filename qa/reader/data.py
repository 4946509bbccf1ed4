"""Training examples for the reader, made from SQuAD-style paragraphs with answer spans.

Every question gives one passage that holds its answer and some that do not, so the reader
learns both to mark the answer and to say "not here" (SQuAD 2.0 style, answer at [CLS]):

- the answer passage is the paragraph, or a window of its sentences about the size of an
  indexed chunk, around the answer;
- the no-answer passages are the same paragraph with the sentences holding the answer taken
  out (the topic is there, the answer is not), and the other paragraph(s) that match the
  question best by BM25 (what retrieval hands over when the articles don't say).
No-answer passages that still contain a gold answer string are not used.

With `short_questions` > 0, that share of the questions is asked the way NewsQA's are:
shorter and with fewer of the answer sentence's own words (SQuAD's questions hold 5.4 content
words, 61% of them in the answer sentence; NewsQA dev's 3.2 and 45%, and 27% share none).
Each word the answer sentence holds is dropped with even odds, then other words until four
are left, never fewer than two; the words naming what is asked stay. Measured, it did not
help (model card: no better answer accuracy, lower short F1), so the default is off.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import InputError
from qa.core.text import QUESTION_WORDS, split_sentences

__all__ = ["Example", "load_paragraphs", "make_examples", "shorten_question"]

_QUESTION_WORD = re.compile(f"(?i){QUESTION_WORDS}")
#: passages are cut to about this many words, like the index's chunks (Settings.chunk_words).
PASSAGE_WORDS = 130


@dataclass(frozen=True)
class Example:
    """One training pair; `start`/`end` are character offsets of the answer in `passage`,
    or None when the passage holds no answer."""

    question: str
    passage: str
    start: int | None
    end: int | None
    #: the question's number: the pairs of one question share it (shared normalisation).
    question_id: int = 0


@dataclass(frozen=True)
class _Question:
    text: str
    answers: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Paragraph:
    context: str
    questions: tuple[_Question, ...]


def load_paragraphs(path: Path) -> list[_Paragraph]:
    """Paragraphs of a `squad_train.jsonl`-style file (see ../shared/train/README.md);
    `InputError` naming the line of a record that is not one."""
    paragraphs = []
    try:
        with path.open(encoding="utf-8") as lines:
            for lineno, line in enumerate(lines, 1):
                if line.strip():
                    paragraphs.append(_paragraph(line, f"{path}, line {lineno}"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    return paragraphs


def _paragraph(line: str, where: str) -> _Paragraph:
    """One record: {"context": str, "qas": [{"question", "answers", "spans"}]}, each span
    [start, end) a character range of the context."""
    try:
        record = json.loads(line)
        context = record["context"]
        questions = tuple(
            _Question(str(q["question"]), tuple(map(str, q["answers"])),
                      tuple((int(s), int(e)) for s, e in q["spans"]))
            for q in record["qas"] if q.get("spans"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{where}: not a SQuAD-style record ({type(exc).__name__}: "
                         f"{str(exc)[:120]})") from None
    if not isinstance(context, str):
        raise InputError(f'{where}: "context" must be text')
    if not all(0 <= s < e <= len(context) for q in questions for s, e in q.spans):
        raise InputError(f"{where}: a span lies outside its context")
    return _Paragraph(context, questions)


def make_examples(paragraphs: list[_Paragraph], seed: int = 0, short_questions: float = 0.0,
                  neighbours: int = 1) -> Iterator[Example]:
    """An answer passage and no-answer passages for every question (the paragraph without
    its answer, and the `neighbours` other paragraphs that match the question best by BM25),
    shuffled by `seed`; `short_questions` of the questions shortened first (see
    `shorten_question`)."""
    from qa.core.text import tokenize
    from qa.lexical import BM25

    rng = random.Random(seed)
    bm25 = BM25([p.context for p in paragraphs])
    examples: list[Example] = []
    questions_seen = 0
    for index, paragraph in enumerate(paragraphs):
        sentences = split_sentences(paragraph.context)
        for question in paragraph.questions:
            start, end = question.spans[0]
            asked = question.text
            if short_questions and rng.random() < short_questions:
                evidence = [paragraph.context[s:e] for s, e in sentences if s < end and start < e]
                asked = shorten_question(question.text, " ".join(evidence), rng)
            questions_seen += 1
            examples.append(_answer_window(asked, paragraph.context, sentences,
                                           start, end, rng, questions_seen))
            gold = [a.lower() for a in question.answers if a.strip()]
            negatives = [_without_answer(paragraph.context, sentences, question.spans)]
            scores = bm25.scores(tokenize(question.text))
            scores[index] = -1.0
            negatives += [paragraphs[int(other)].context
                          for other in scores.argsort()[::-1][:4 + neighbours]
                          if not any(g in paragraphs[int(other)].context.lower()
                                     for g in gold)][:neighbours]
            for negative in negatives:
                if negative and not any(g in negative.lower() for g in gold):
                    spans = split_sentences(negative)
                    window = _window(negative, spans, rng.randrange(len(spans)), rng) \
                        if spans else negative
                    examples.append(Example(asked, window, None, None, questions_seen))
    rng.shuffle(examples)
    yield from examples


def shorten_question(question: str, evidence: str, rng: random.Random) -> str:
    """`question` with fewer content words: each one `evidence` holds dropped with even odds,
    then others until four are left; at least two always stay, and the "?" too. The two words
    after the question word ("what color", "how many fumbles") say what is asked: they stay."""
    from qa.core.text import content_words

    tokens = question.split()
    asks = next((i for i, token in enumerate(tokens) if _QUESTION_WORD.fullmatch(token)), -9)
    content = [i for i, token in enumerate(tokens)
               if content_words(token) and not asks < i <= asks + 2]
    held = content_words(evidence)
    shared = [i for i in content if content_words(tokens[i]) & held]
    dropped = {i for i in shared if rng.random() < 0.5}
    others = [i for i in content if i not in dropped]
    rng.shuffle(others)
    while len(content) - len(dropped) > 4 and others:
        dropped.add(others.pop())
    while len(content) - len(dropped) < 2 and dropped:
        dropped.remove(min(dropped))
    kept = " ".join(token for i, token in enumerate(tokens) if i not in dropped)
    return kept if kept.endswith("?") or not question.endswith("?") else kept.rstrip() + "?"


def _window(text: str, sentences: list[tuple[int, int]], anchor: int,
            rng: random.Random) -> str:
    """A run of whole sentences of about PASSAGE_WORDS words that includes sentence
    `anchor`, starting at a random sentence before it."""
    words = [len(text[s:e].split()) for s, e in sentences]
    if sum(words) <= PASSAGE_WORDS:
        return text
    first = anchor
    while first > 0 and sum(words[first - 1:anchor + 1]) <= PASSAGE_WORDS and rng.random() < 0.6:
        first -= 1
    last, count = first, 0
    while last < len(sentences) and (last <= anchor or count + words[last] <= PASSAGE_WORDS):
        count += words[last]
        last += 1
    return text[sentences[first][0]:sentences[last - 1][1]]


def _answer_window(question: str, context: str, sentences: list[tuple[int, int]], start: int,
                   end: int, rng: random.Random, question_id: int) -> Example:
    anchor = next((i for i, (s, e) in enumerate(sentences) if s <= start < e), 0)
    window = _window(context, sentences, anchor, rng)
    offset = context.find(window)
    if not window or not (offset <= start and end <= offset + len(window)):
        window, offset = context, 0  # the answer crosses a sentence boundary: whole paragraph
    return Example(question, window, start - offset, end - offset, question_id)


def _without_answer(context: str, sentences: list[tuple[int, int]],
                    spans: tuple[tuple[int, int], ...]) -> str | None:
    kept = [context[s:e] for s, e in sentences
            if not any(s < span_end and span_start < e for span_start, span_end in spans)]
    return " ".join(kept) if len(kept) >= 2 else None
