"""Answers to "Who is <name>?". The reader learnt "who" questions from ones that ask for a
name, so for "Who is Steve Witkoff?" it marks the other name in the sentence ("Vladimir
Putin"). What is asked for is how the articles describe the one named: the words beside the
name ("US envoy Steve Witkoff", "Kirill Dmitriev, Putin's investment envoy"). The reader
still chooses those words, among its best spans of the sentences it ranks highest."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from qa.core.records import Passage
from qa.core.text import NAME_PHRASE, STOPWORDS
from qa.reader.model import Reader, SpanGuess

__all__ = ["described_name", "description"]

#: "Who is Steve Witkoff?", "who was Yuri Ushakov" (not "Who is Tom's cast mate?").
_WHO_IS = re.compile(r"\s*(?i:who)\s+(?i:is|was|are|were)\s+(?P<name>.+?)\s*\?*\s*")
#: how many of the best-ranked sentences are looked at, and how many spans in each.
SENTENCES = 6
SPANS_PER_SENTENCE = 20
#: what may stand between the name and a description after it: "Kirill Dmitriev, Putin's
#: investment envoy", "Moskalik, a deputy chief", "Witkoff – who is Trump's envoy".
_AFTER_NAME = r"[\s,–—(-]*(?:(?:who|which)\s+)?(?:(?:is|was)\s+)?(?:(?:a|an|the)\s+)?$"
#: ... and between a description and the name after it: "US envoy Steve Witkoff".
_BEFORE_NAME = r"[\s,–—(-]*"
#: a span that starts like a clause about the one named, not a description of them.
_CLAUSE = re.compile(r"(?i:has|have|had|is|was|are|were|said|says|told|will|would|could|"
                     r"who|which|that|and|but)\b")

#: a word that qualifies the description after it: "chemical", "Russia's" (then "weapons
#: chief Igor Kirillov").
_MODIFIER = re.compile(rf"\b(?:[a-z][\w-]*|(?:{NAME_PHRASE.pattern})[’']s)\s+$")
#: characters looked back for one such word (each step of the walk reads no further).
_LONGEST_MODIFIER = 80

#: the word just before a word of the name (any script): another's first name when it is
#: capitalised and not a title or an everyday word (`_TITLES`, `STOPWORDS`).
_LEADING_WORD = re.compile(r"\b([^\W\d_]+)\.?\s+$")
#: words that stand before a surname without naming anyone else: titles, roles, and the
#: words that start a sentence before a name ("Yesterday Adler said").
_TITLES = frozenset("""mr mrs ms miss mx dr prof professor sir dame lord lady president vice
prime minister secretary general gen colonel col captain capt lieutenant lt sergeant sgt rev
reverend father judge justice senator sen rep representative governor gov mayor chancellor
king queen prince princess pope sheikh chairman chairwoman chief director coach officer
detective det inspector supt superintendent constable agent ambassador envoy commissioner
councillor councilman councilwoman congressman congresswoman assemblyman assemblywoman speaker
leader commander admiral marshal saint st deputy premier bishop archbishop cardinal rabbi imam
sister brother herr frau madame mme monsieur señor señora signor dottore democrat republican
pianist singer actor actress striker midfielder defender goalkeeper yesterday today tonight
meanwhile earlier later then now however still also instead monday tuesday wednesday thursday
friday saturday sunday january february march april may june july august september october
november december""".split())  # noqa: SIM905 (a word list reads better as text)
#: a span that names someone else first: "Ushakov and his investment envoy".
_ANOTHER = re.compile(rf"(?:{NAME_PHRASE.pattern})\s+and\b")


def described_name(question: str) -> str | None:
    """The name a "Who is <name>?" question asks about, else None."""
    match = _WHO_IS.fullmatch(question)
    if match is None or NAME_PHRASE.fullmatch(match["name"]) is None:
        return None
    return match["name"]


def description(question: str, name: str, passages: Sequence[Passage],
                ranked: Sequence[SpanGuess], reader: Reader,
                rank: Callable[[SpanGuess], float]) -> SpanGuess | None:
    """The reader's best span (by `rank`) that describes `name` in one of the best-ranked
    sentences that name them: next to the name, without it, and not only names; else None."""
    words = "|".join(map(re.escape, name.split()))
    word = re.compile(rf"\b(?:{words})\b")
    after_name = re.compile(rf"\b(?:{words}){_AFTER_NAME}")
    before_name = re.compile(rf"{_BEFORE_NAME}(?:{words})\b")
    looked = []
    for guess in ranked[:SENTENCES]:
        passage = passages[guess.passage]
        first, last = (at - passage.chunk.start for at in passage.chunk.sentences[guess.sentence])
        if _names_them(name, word, passage.chunk.text[first:last]):
            looked.append((guess, passage.chunk.text, (first, last)))
    if not looked:
        return None
    read = reader.spans_in(question, [text for _, text, _ in looked],
                           [bounds for _, _, bounds in looked], SPANS_PER_SENTENCE)
    found = []
    for (guess, text, (first, _)), spans in zip(looked, read):
        for start, end, margin in spans:
            span = text[start:end]
            if word.search(span) or _CLAUSE.match(span) or not span[0].isalnum() \
                    or not re.search(r"[a-z]{3}", span) or _ANOTHER.match(span) \
                    or not NAME_PHRASE.sub("", span).strip(" ,.'’s-–—()"):
                continue  # the name again, a clause about them, or (only) other names
            if before_name.match(text, end):  # "chief Igor Kirillov": what kind of chief
                start = _modifiers_before(text, first, start)
            elif not after_name.search(text, first, start):
                continue
            found.append(SpanGuess(guess.passage, start, end, margin, guess.sentence))
            break  # this sentence's best description
    return max(found, key=rank) if found else None


def _names_them(name: str, word: re.Pattern[str], sentence: str) -> bool:
    """Whether `sentence` names the one `name` names: the name whole, or one of its words
    (`word`) not led by another's first name ("Leonard Moss" does not name "Claire Moss";
    "Mr Moss" and "the pianist's daughter, Moss," may)."""
    if name in sentence:
        return True
    parts = set(name.split())
    for match in word.finditer(sentence):
        before = _LEADING_WORD.search(sentence, 0, match.start())
        if before is None or not before[1][0].isupper() or len(before[1]) == 1 \
                or before[1] in parts \
                or before[1].lower() in _TITLES or before[1].lower() in STOPWORDS:
            return True
    return False


def _modifiers_before(text: str, first: int, start: int) -> int:
    """Where a description just before the name starts once the words that qualify it
    are taken in: "chief Igor Kirillov" -> "Russia's chemical weapons chief Igor Kirillov"
    (lower-case words that are not stopwords, and a name's possessive), from `first`, the
    sentence's start."""
    while (word := _MODIFIER.search(text, max(first, start - _LONGEST_MODIFIER), start)) \
            is not None and word.end() == start \
            and word.group(0).strip().lower() not in STOPWORDS:
        start = word.start()
    return start
