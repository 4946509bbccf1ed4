"""Questions that ask two things at once ("Who won the America's Cup and who beat Venus
Williams in Madrid?"): each part is searched and read on its own, and the answers are put
together, each with its own citations. The reader marks one answer in one passage, so asked
whole, such a question finds one half at best, and most often neither."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from qa.answering.extractive import MAX_WORDS
from qa.answering.followup import standalone_question
from qa.core.records import Answer, Citation
from qa.core.text import QUESTION_WORDS

__all__ = ["join_answers", "split_question"]

#: where a second question starts: "… and who/what/when …", after a comma or not.
_SECOND_QUESTION = re.compile(rf",?\s+and\s+(?=(?:{QUESTION_WORDS})\b)", re.IGNORECASE)
#: how a question starts: "Who …", "Is …", "Did …" (not "In Geneva, … and which …?").
_QUESTION_START = re.compile(rf"(?:{QUESTION_WORDS}|is|are|was|were|do|does|did|can|could|"
                             r"will|would|should|has|have|had)\b", re.IGNORECASE)
#: a question word inside the first part: "Is there a link between who killed X and who
#: killed Y?" asks one thing.
_WH_WORD = re.compile(rf"\b(?:{QUESTION_WORDS})\b", re.IGNORECASE)
#: "… and who else …": one question about several people ("What did Witkoff and who else
#: discuss?").
_ELSE = re.compile(rf"(?:{QUESTION_WORDS})\s+else\b", re.IGNORECASE)
#: at most this many parts: more is a list, not questions joined.
MAX_PARTS = 3
#: the fewest words a part's answer gets (its span and some of the sentence around it).
MIN_PART_WORDS = 25
_MARKER = re.compile(r"\[(\d{1,3})\]")


def split_question(question: str) -> list[str]:
    """The questions `question` joins with "and" + a question word, each ending in "?"; the
    question alone when it asks one thing: when it does not start as a question, holds a
    question word inside its first part, goes on with "who else", or a part would be under
    3 words."""
    parts = [p.strip(" ,;?") for p in _SECOND_QUESTION.split(question)]
    if not 1 < len(parts) <= MAX_PARTS or any(len(p.split()) < 3 for p in parts) \
            or not _QUESTION_START.match(parts[0]) \
            or _WH_WORD.search(parts[0], parts[0].find(" ")) \
            or any(_ELSE.match(p) for p in parts[1:]):
        return [question]
    return [f"{p[0].upper()}{p[1:]}?" for p in parts]


def join_answers(question: str, parts: Sequence[str],
                 answer_part: Callable[[str, int], Answer]) -> Answer | None:
    """The answers to `parts` (each from `answer_part(part, words)`, `MAX_WORDS` shared out,
    at least `MIN_PART_WORDS` each) as one answer to `question`, citations numbered in
    order; the parts the articles do not answer are named in a note. None when none is
    answered."""
    answered: list[tuple[str, Answer]] = []
    for part in parts:  # "… and how old was he?": "he" is the answer to the part before
        last = next((a for a in reversed(answered) if not a[1].abstained), None)
        history = [{"role": "user", "content": last[0]},
                   {"role": "assistant", "content": last[1].text}] if last else []
        answered.append((part, answer_part(standalone_question(part, history),
                                           max(MAX_WORDS // len(parts), MIN_PART_WORDS))))
    if all(a.abstained for _, a in answered):
        return None
    citations: list[Citation] = []
    bodies: list[str] = []
    short = None
    for _, answer in answered:
        if answer.abstained:
            continue
        numbers = {c.n: _number(citations, c) for c in answer.citations}
        bodies.append(_renumbered(answer.text, numbers))
        if short is None and answer.short is not None:
            short = replace(answer.short, citation=numbers[answer.short.citation])
    notes = [f"The articles don't say: {part}" for part, a in answered if a.abstained]
    return Answer(question=question, text="\n".join(bodies), citations=citations, short=short,
                  confidence=min(a.confidence for _, a in answered if not a.abstained),
                  notes=notes)


def _renumbered(text: str, numbers: dict[int, int]) -> str:
    """`text` with each citation marker `[n]` as `[numbers[n]]`."""
    return _MARKER.sub(lambda m: f"[{numbers.get(int(m[1]), int(m[1]))}]", text)


def _number(citations: list[Citation], citation: Citation) -> int:
    """`citation`'s number among `citations`, added at the end unless the same quote is
    there already."""
    for known in citations:
        if (known.article.id, known.start, known.end) == \
                (citation.article.id, citation.start, citation.end):
            return known.n
    citations.append(replace(citation, n=len(citations) + 1))
    return len(citations)
