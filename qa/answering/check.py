"""Checking a model's reply: every citation marker is checked against the passage it names,
and the reply becomes an `Answer` whose citations quote the passages exactly.

- a marker that points at no passage is dropped;
- each sentence is compared with each passage it cites (`qa.answering.support`); a citation
  whose passage does not back the sentence stays in the text, but its `Citation` has
  `supported=False` and a note says so;
- a sentence that cites nothing but is backed by a passage gets that citation added; one
  that no passage backs is left out of the answer, and a note says so;
- a reply too short to check on its own ("Moskalik [1].", "Yes [1].") is checked as the
  question answered so; a bare "No [1]." cannot be checked, and is not backed;
- a reply saying the passages do not hold the answer becomes an abstention.
(`QA.answer` shows the extractive answer instead when no citation is backed.)

Citation numbers in the final text are renumbered 1..m in order of first use (as
`qa.answering.markers.MarkerStream` numbers them while the reply streams), and quote the
best-backing sentences of the cited chunk with exact offsets into the article text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qa.answering.abstention import abstain, is_abstention
from qa.answering.markers import ReplySentence, split_reply
from qa.answering.support import (
    AUTO_CITE_THRESHOLD,
    LEXICAL_SUPPORT_THRESHOLD,
    Similarity,
    Support,
    claim_terms,
    coverage,
    support_score,
)
from qa.core.errors import LLMError
from qa.core.records import Answer, Citation, Passage
from qa.core.text import content_words, one_line, shorten, strip_markers

__all__ = ["check_answer", "clean_reply"]

#: how each sentence's citations came out: (sentence, claim, [(passage, backed, support)],
#: whether the citation was added to a sentence that had none).
_Plan = list[tuple[ReplySentence, str, list[tuple[int, bool, Support]], bool]]


def clean_reply(text: str) -> str:
    """A reply without the "Answer:" some models put first."""
    return re.sub(r"^(?:answer|response)\s*:\s*", "", text.strip(), flags=re.IGNORECASE).strip()


def check_answer(question: str, reply: str, passages: Sequence[Passage], *,
                 embedder: Any = None) -> Answer:
    """Turn a model's reply into an `Answer` whose citations are checked (see module doc);
    with an `embedder`, backing is judged with embedding similarity too. Raises `LLMError`
    for an empty reply."""
    if not reply.strip():
        raise LLMError("the model returned an empty answer")
    sentences = split_reply(reply)
    has_valid_marker = any(1 <= p <= len(passages) for s in sentences for *_, nums in s.markers
                           for p in nums)
    if is_abstention(reply) and (not has_valid_marker or len(sentences) <= 1
                                 or is_abstention(sentences[0].text)):
        return abstain(question, passages, mode="llm")
    notes: list[str] = []
    plan, dropped, unbacked = _plan(question, sentences, passages, Similarity(embedder), notes)

    # Number the citations in order of first use: one per (passage, backed or not).
    keys: dict[tuple[int, bool], int] = {}
    spans: dict[tuple[int, bool], list[tuple[int, int, float]]] = {}
    for _, _, results, _ in plan:
        for p, ok, sup in results:
            keys.setdefault((p, ok), len(keys) + 1)
            spans.setdefault((p, ok), []).append((sup.start, sup.end, sup.score))

    if all(n in unbacked or not results for n, (_, _, results, _) in enumerate(plan)):
        unbacked = set()  # nothing would be left: shown as it is (and not used: `QA.answer`)
    elif unbacked:
        notes.append("What no passage backs is left out of the answer.")
    parts: list[str] = []
    for n, (sentence, claim, results, auto) in enumerate(plan):
        if n in unbacked:
            continue  # every claim shown rests on a cited passage
        numbers = {p: keys[(p, ok)] for p, ok, _ in results}
        parts.append(sentence.sep + _renumbered(sentence, numbers, results, auto))
        for p, ok, sup in results:
            if not ok:
                notes.append(f"Citation [{numbers[p]}] does not back \u201c{shorten(claim)}\u201d "
                             f"(support {sup.score:.2f}).")

    citations = []
    for (p, ok), n in sorted(keys.items(), key=lambda kv: kv[1]):
        passage = passages[p - 1]
        used = spans[(p, ok)]
        start, end = min(s for s, _, _ in used), max(e for _, e, _ in used)
        citations.append(Citation(n=n, article=passage.article,
                                  quote=passage.article.text[start:end], start=start, end=end,
                                  score=round(max(s for *_, s in used), 4), supported=ok))
    if dropped:
        notes.insert(0, f"Removed {dropped} citation marker{'s' if dropped > 1 else ''} that "
                        f"pointed at no passage.")
    if not citations:
        notes.append("The generated answer cites no passage that backs it.")
    return Answer(question=question, text="".join(parts).strip(), citations=citations,
                  abstained=False, mode="llm", notes=notes)


def _plan(question: str, sentences: list[ReplySentence], passages: Sequence[Passage],
          similarity: Similarity, notes: list[str]) -> tuple[_Plan, int, set[int]]:
    """Per sentence: which passages it cites and whether each backs it; how many markers
    point at no passage; and which sentences (their places) cite nothing and no passage
    backs."""
    plan: _Plan = []
    dropped = 0
    unbacked: set[int] = set()
    for sentence in sentences:
        claim = one_line(strip_markers(sentence.text))
        cited: list[int] = []
        for *_, nums in sentence.markers:
            for p in nums:
                if 1 <= p <= len(passages):
                    if p not in cited:
                        cited.append(p)
                else:
                    dropped += 1
        words = content_words(claim)
        checked, asked = _claim_to_check(claim, question)
        # a sentence that only restates the question claims nothing to back or cite, unless
        # the question asks whether it is so ("Witkoff did meet Zelensky.")
        echo = not (words - content_words(question)) and not asked_yes_or_no(question)
        results: list[tuple[int, bool, Support]] = []
        auto = False
        if cited:
            for p in cited:
                passage = passages[p - 1]
                sup = support_score(checked, passage, asked,
                                    cosine=similarity(checked, passage))
                results.append((p, sup.backed and checked != _UNCHECKABLE, sup))
            if len(cited) > 1 and checked != _UNCHECKABLE:  # facts from several passages
                union = coverage(claim_terms(checked, asked),
                                 set().union(*(content_words(passages[p - 1].chunk.text)
                                               for p in cited)))
                if union >= LEXICAL_SUPPORT_THRESHOLD:
                    results = [(p, ok or (s.names_ok and s.score >= s.threshold / 2), s)
                               for p, ok, s in results]
        elif len(words) >= 2 and not echo and not claim.rstrip().endswith(":"):  # ("Key
            # points:" frames what follows)
            best = None
            for p, passage in enumerate(passages, 1):
                sup = support_score(checked, passage, asked,
                                    cosine=similarity(checked, passage))
                if best is None or sup.score > best[2].score:
                    best = (p, True, sup)
            if best is not None and best[2].backed and best[2].score >= max(
                    AUTO_CITE_THRESHOLD, best[2].threshold):
                results, auto = [best], True
            else:
                notes.append(f"Not backed by any passage: \u201c{shorten(claim)}\u201d")
                unbacked.add(len(plan))
        plan.append((sentence, claim, results, auto))
    return plan, dropped, unbacked


#: what a bare "No [1]." claims: that the question's statement is not so, which no check of
#: the passage's words can tell from its being so. Its citations are not backed.
_UNCHECKABLE = "-"
#: a question asking whether something is so ("Did Putin order it?", "Is the bridge open?").
_YES_NO = re.compile(r"(?i)^\W*(?:did|does|do|is|are|was|were|has|have|had|can|could|will|"
                     r"would|should|may|might|must)\b")
#: the reply's answer words to such a question: ("yes", "no"...), then what they leave.
_VERDICT = re.compile(r"(?i)^\W*(?P<word>yes|yeah|correct|true|no|not|false|incorrect)\b\W*")


def asked_yes_or_no(question: str) -> bool:
    """Whether `question` asks whether something is so."""
    return bool(_YES_NO.match(question))


def _claim_to_check(claim: str, question: str) -> tuple[str, str]:
    """What a reply sentence claims, as text to check against passages, and the question
    whose words need no backing there. A sentence of two content words or more claims what
    it says (after a "Yes," to a yes/no question); a shorter one answers the question:
    "Moskalik [1]." claims the question answered so, "Yes [1]." the question's statement,
    every word of it; "No [1]." cannot be checked (`_UNCHECKABLE`)."""
    verdict = _VERDICT.match(claim) if asked_yes_or_no(question) else None
    if len(content_words(said := claim[verdict.end():] if verdict else claim)) >= 2:
        return said, question
    if verdict is not None:
        if verdict["word"].lower() in ("no", "not", "false", "incorrect"):
            return _UNCHECKABLE, question
        return one_line(f"{question.rstrip('? ')} {said}"), question
    return one_line(f"{question.rstrip('? ')} {claim}"), question


def _renumbered(sentence: ReplySentence, numbers: dict[int, int],
                results: list[tuple[int, bool, Support]], auto: bool) -> str:
    """The sentence with its markers in final numbers (dropped ones removed), or with the
    added citation before its full stop."""
    text, rebuilt, pos = sentence.text, "", 0
    for start, end, nums in sentence.markers:
        kept = "" if auto else "".join(f"[{numbers[p]}]" for p in nums if p in numbers)
        before = text[pos:start]
        # a dropped marker takes the spaces before it along (as in the streamed text)
        rebuilt += before + kept if kept else before.rstrip(" \t")
        pos = end
    text = rebuilt + text[pos:]
    if auto:
        tail = re.search(r"(?<![.!?])[.!?]+[\"'”’)]*$", text)  # from a run's start only
        cut = tail.start() if tail else len(text)
        text = f"{text[:cut]} [{numbers[results[0][0]]}]{text[cut:]}"
    return text
