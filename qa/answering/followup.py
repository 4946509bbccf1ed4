"""Follow-up questions without a language model: resolve "he", "it", "there"... with the
previous turn, so that "How old was he?" after "Who was killed?" searches for the right man."""

from __future__ import annotations

import itertools
import json
import re
from functools import lru_cache

from qa.answering.description import described_name
from qa.core.text import (
    NAME_OR_NUMBER,
    NAME_PHRASE,
    QUESTION_WORDS,
    content_words,
    strip_markers,
)
from qa.reader.model import MODEL_DIR

__all__ = ["cap_question", "question_to_read", "standalone_question"]

_PRONOUNS = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|it|its|this|that|"
                       r"these|those|there)\b", re.I)
_POSSESSIVE = {"his", "her", "hers", "their", "its"}
#: a question that goes on from the last one by its first words: "And Putin?", "What about
#: Ukraine's reaction?"
_GOING_ON = re.compile(r"\s*(?:and|but|so|also|then|what about|how about)\b", re.I)
#: a place or time and nothing else: "Why in Moscow?", "How many in 2024?", "Who else in
#: Moscow?", "Not in Moscow?" (not "Who from Hamas attended?" or "In Kyiv, who died?")
_ONLY_PLACE_OR_TIME = re.compile(
    rf"\s*(?:(?i:how many|how much|{QUESTION_WORDS}|only|even|just|not|anyone|else)"
    r"\s+)*(?i:in|on|at|for|from|with|during|after|before|since|until|by|of|to)"
    r"(?:\s+(?:the|a|an|of|and|[A-Z][\w'’.-]*|\d[\d,./-]*))+\s*\??\s*")


#: an answer's bold short answer, at its start ("**Yaroslav Moskalik** — ...").
_SHORT = re.compile(r"\s*\*\*(.+?)\*\*")

#: capitalised words that are no one's name
_CALENDAR = {"January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December", "Monday", "Tuesday", "Wednesday",
             "Thursday", "Friday", "Saturday", "Sunday"}


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Everyday words, lower case: the whole words of the shipped reader's vocabulary (a
    capitalised one that starts a sentence is most often not a name: "Employees", "The")."""
    try:
        vocab = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))
        return frozenset(w for w in vocab["model"]["vocab"] if w.isalpha())
    except (OSError, ValueError, KeyError, TypeError):  # no word list: every name counts
        return frozenset()


def _names(text: str, *, short_is_name: bool = False) -> list[str]:
    """The proper names of `text`, in order: not months or weekdays, and not an everyday
    word that is capitalised only because it starts a sentence or the answer's quote
    ("Employees — Employees will..."), unless it is the answer's bold short answer to a
    "who" question (`short_is_name`: "**Putin** — ...")."""
    short = _SHORT.match(text) if short_is_name else None
    text = strip_markers(text).replace("**", "")
    names = []
    for match in NAME_PHRASE.finditer(text):
        name = match.group().strip()
        before = text[max(0, match.start() - 4):match.start()].rstrip()
        first = match.start() == 0 or before[-1:] in (".", "!", "?", "—")
        everyday = first and " " not in name and name.lower() in _common_words() \
            and not (short and match.start() <= 2 and short[1].strip() == name)
        if not everyday and name not in _CALENDAR:
            names.append(name)
    return names


#: a "who" question about someone it names ("Who is Tomas Breen?", "Who was X?").
_ABOUT_SOMEONE = re.compile(r"\s*(?i:who\s+(?:is|was|are|were))\s+[A-Z]")
#: the one a question asks about by its full name, as its subject: "How did Leonard Moss
#: die?", "What did Denise Okafor say about the vote?", "How many albums did Leonard Moss
#: record?" (a name of one word may be a place or a body: "What did Moscow say?").
_SUBJECT = re.compile(rf"\s*(?i:{QUESTION_WORDS})(?:\s+[a-z]+){{0,2}}?\s+(?i:did|does|do|is|was"
                      rf"|were|are|has|had|have|will|would|could|can)\s+(?P<name>{NAME_PHRASE.pattern})")


def _main_name(history: list[dict[str, str]]) -> str | None:
    """Whom a pronoun most likely means: the first multi-word (else the first) proper name of
    the last answer that its question did not already hold; else a name in that question
    ("How did its shares react?" after "How many jobs is Brightwave cutting?"); else the same
    for the turn before, up to three turns back. After a question for someone unknown ("Who
    threw acid on X?") whose answer names no one new, nobody: "he" then means whoever
    answered it ("a spurned suitor"), not the name the question holds (the victim). After
    "Who is X?", X; after a question about X by full name ("How did Leonard Moss die?"),
    X too."""
    turns = [(q["content"], a["content"]) for q, a in itertools.pairwise(history)
             if q["role"] == "user" and a["role"] == "assistant"]
    for question, answer in reversed(turns[-3:]):
        if re.match(r"\s*where\b", question, re.I):
            continue  # its answer names places, not whom "he" or "she" means
        who = re.match(r"\s*(?:who|whom|whose)\b", question, re.I) is not None
        # "Who threw acid on X?" asks for someone unknown; "Who is X?" asks about X, and
        # "he" then means X, not another name its answer's sentence holds
        if (asked_about := described_name(question)) is not None:
            return asked_about
        if not who and (subject := _SUBJECT.match(question)) and " " in subject["name"] \
                and not subject["name"].endswith(("'s", "’s")):  # (not "Claire Moss's father")
            return subject["name"]  # "he" after "How did Leonard Moss die?", not a name of
            # its answer ("..., said his daughter, Claire Moss.")
        unknown = who and not _ABOUT_SOMEONE.match(question)
        fresh = [n for n in _names(answer, short_is_name=who) if n.lower() not in question.lower()]
        named = [n for n in fresh if " " in n] or fresh or ([] if unknown else _names(question))
        if named or unknown:  # (an unknown someone answered without a name stops the search)
            return named[0] if named else None
    return None


#: personal pronouns by person: a follow-up's "she" goes on meaning whom the last one's did.
_HE, _SHE = re.compile(r"\b(?:he|him|his)\b", re.I), re.compile(r"\b(?:she|her|hers)\b", re.I)


def _referent(question: str, history: list[dict[str, str]]) -> str | None:
    """Whom the question's "he" or "she" means: whom the last question's same pronoun meant,
    when it had one ("Who did she defeat?", then "How many votes did she get?": the winner,
    not the one defeated); else `_main_name`."""
    asked = [n for n, m in enumerate(history) if m["role"] == "user"]
    if asked:
        last = history[asked[-1]]["content"]
        for pronoun in (_HE, _SHE):
            if pronoun.search(question) and pronoun.search(last):
                return _referent(last, history[:asked[-1]])
    return _main_name(history)


def _goes_on(question: str) -> bool:
    """Whether a question without pronouns goes on from the last one: it says so ("And
    Putin?"), it is a place or time only ("Why in Moscow?"), or it is short and names
    nothing of its own ("Why?", "How many died?"; not "Who is Tomas Breen?")."""
    if _GOING_ON.match(question) or _ONLY_PLACE_OR_TIME.fullmatch(question):
        return True
    words = re.findall(r"\w+", question)
    names = any(match.start() > 0 for match in NAME_OR_NUMBER.finditer(question))
    return len(words) <= 2 or (len(words) <= 4 and not names)


def cap_question(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, at a word boundary when there is one."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if not (text[max_chars].isspace() or cut[-1].isspace()) and " " in cut.strip():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip()


def standalone_question(question: str, history: list[dict[str, str]],
                        max_chars: int = 2000) -> str:
    """`question` made self-contained with the last turn, or unchanged if it already is;
    never longer than `max_chars` (or than `question` itself, if that is longer)."""
    return cap_question(_standalone(question, history), max(max_chars, len(question)))


def question_to_read(question: str, standalone: str) -> str:
    """What the reader reads of a question made `standalone`: a follow-up that was only given
    the last question as context, "(...)", and asks about something of its own ("Who owns
    the warehouses?", "How many died?") is read as asked, the context serving the search
    alone, so that the answer is to this question and not to the last one. Else
    `standalone` ("Why?", "And Putin?", "When did it happen?", "How old was Moskalik?")."""
    if not standalone.startswith(f"{question} (") or _PRONOUNS.search(question) or \
            _GOING_ON.match(question) or _ONLY_PLACE_OR_TIME.fullmatch(question) or \
            not content_words(question):
        return standalone
    return question


def _context_question(history: list[dict[str, str]]) -> str:
    """The question a follow-up goes on from: the last one that stands on its own, up to
    three turns back ("When did it happen?" after "Where did it happen?" goes on from what
    that one went on from); else the last one."""
    asked = [m["content"] for m in history if m["role"] == "user"][-3:]
    standing = [q for q in asked if not (_PRONOUNS.search(q) or _goes_on(q))]
    return (standing or asked or [""])[-1]


def _standalone(question: str, history: list[dict[str, str]]) -> str:
    previous_q = _context_question(history)
    if not previous_q:
        return question
    if not _PRONOUNS.search(question) and not _goes_on(question):
        return question
    name = _referent(question, history)
    if name and _PRONOUNS.search(question):
        def replace(match: re.Match[str]) -> str:
            word = match.group().lower()
            if word in ("it", "this", "that", "these", "those", "there", "they", "them"):
                return match.group()
            return f"{name}'s" if word in _POSSESSIVE else name

        resolved = _PRONOUNS.sub(replace, question, count=1)
        if resolved != question:
            return resolved
    if (thing := _named_thing(history)) is not None and _IT.search(question) \
            and not _EVENT.search(question):
        return _IT.sub(thing, question, count=1)  # "When was it released?": the album named
    return f"{question} ({previous_q.strip()})"


#: the pronoun of a thing.
_IT = re.compile(r"\bit\b", re.I)
#: "it" as an event, not the thing last named ("When did it happen?" after "Which city was
#: hit?": when the attack was, not the city).
_EVENT = re.compile(r"\b(?:happen(?:s|ed|ing)?|occur(?:s|red|ring)?|take\s+place|took\s+place"
                    r"|start(?:s|ed)?|begin|began|end(?:s|ed)?|finish(?:es|ed)?|last(?:s|ed)?)\b",
                    re.I)


def _named_thing(history: list[dict[str, str]]) -> str | None:
    """The proper name that the last answer gave to a "what" or "which" question ("What is
    his most famous album?": "**Canal Street Midnight**"), which a follow-up's "it" means."""
    if len(history) < 2 or history[-1]["role"] != "assistant" or history[-2]["role"] != "user":
        return None
    short = _SHORT.match(history[-1]["content"])
    if short is None or not re.match(r"\s*(?:what|which)\b", history[-2]["content"], re.I):
        return None
    thing = short[1].strip()
    return thing if NAME_PHRASE.fullmatch(thing) and thing not in _CALENDAR else None
