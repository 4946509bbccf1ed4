"""Checks of the public parameters of `QA.answer` and `QA.retrieve`, done before any work:
a bad value raises a typed error (`InputError`, `EmptyQuestionError`, `QuestionTooLongError`)
that names the parameter and says what is allowed."""

from __future__ import annotations

import numbers
import re
import unicodedata
from datetime import date, datetime

from qa.core.errors import EmptyQuestionError, InputError, QuestionTooLongError
from qa.core.records import ArticleFilter
from qa.core.settings import Settings
from qa.core.store import ArticleStore
from qa.core.text import BIDI_CONTROLS, CONTROL_CHARS, LONE_SURROGATES

__all__ = [
    "MODES",
    "article_filter",
    "check_history",
    "check_k",
    "check_mode",
    "clean_question",
    "normalize_history",
    "whole_number",
]

MODES = ("extractive", "llm")
#: at most this many `sources`, each at most this long.
MAX_SOURCES = 100
MAX_SOURCE_CHARS = 300

_CONTROL = re.compile(f"[{CONTROL_CHARS}]")
#: bidi controls (LRM, RLM, ALM, embeddings, overrides, isolates), zero-width space and BOM:
#: invisible, and able to change what a question says.
_INVISIBLE = re.compile(f"[\u061c\u200b\u200e\u200f{BIDI_CONTROLS}\ufeff]")


def clean_question(question: object, settings: Settings) -> str:
    """`question` as one line of visible text; raises when it is not text, empty or too long."""
    if not isinstance(question, str):
        raise InputError(f"question must be text (str), not {type(question).__name__}.")
    limit = settings.max_question_chars
    if len(question) > limit:
        raise QuestionTooLongError(f"The question is {len(question):,} characters long; ask "
                                   f"in at most {limit:,} characters.")
    question = LONE_SURROGATES.sub(" ", _INVISIBLE.sub("", question))
    question = " ".join(_CONTROL.sub(" ", question).split())
    if not question:
        raise EmptyQuestionError("The question is empty: type a question about the articles.")
    return question


def whole_number(value: object, low: int, high: int) -> int | None:
    """`value` as an `int` if it is a whole number from `low` to `high` (NumPy's integers
    too, as LangChain callers pass them; not True or 2.0), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value) if low <= value <= high else None


def check_k(k: object, settings: Settings) -> int:
    """`k` (passages per question): None = the default, else a whole number 1..max_k."""
    if k is None:
        return settings.k
    if (checked := whole_number(k, 1, settings.max_k)) is None:
        raise InputError(f"k must be a whole number from 1 to {settings.max_k}, not {k!r}.")
    return checked


def check_mode(mode: object, llm_available: bool) -> bool:
    """Whether to answer with the language model: `mode` None (the model when there is
    one), "extractive" or "llm"."""
    if mode is None:
        return llm_available
    if not isinstance(mode, str) or mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    return mode == "llm"


def article_filter(sources: object, since: object, until: object,
                   store: ArticleStore) -> ArticleFilter | None:
    """The articles an answer may cite. `sources`: a publisher or file name, or a list of
    them, each naming an article of `store` (in any case); `since`/`until`: dates
    (YYYY-MM-DD)."""
    names = _source_names(sources)
    known: frozenset[str] = frozenset()
    if names:
        asked = {name: _spellings(name) for name in names}
        known = store.sources(set().union(*asked.values()))
        spelled = {k.lower() for k in known} | set(known)
        unknown = [n for n, forms in asked.items()
                   if not any(f in spelled or f.lower() in spelled for f in forms)]
        if unknown:
            import difflib

            publishers = store.stats().publishers
            shown = ", ".join(publishers[:10]) + (f" and {len(publishers) - 10} more"
                                                  if len(publishers) > 10 else "") or "none"
            near = {p for n in unknown[:3]  # (each costs a pass over every publisher)
                    for p in difflib.get_close_matches(n, publishers, 3)}
            guess = f" (did you mean {', '.join(map(repr, sorted(near)))}?)" if near else ""
            raise InputError(f"sources: no indexed article is from "
                             f"{', '.join(map(repr, unknown))}{guess}; use a publisher "
                             f"({shown}) or an article's file name.")
    first, last = _date(since, "since"), _date(until, "until")
    if first and last and first > last:
        raise InputError(f"since ({first}) is after until ({last}): no article can match.")
    return ArticleFilter.of(known, first, last)


def _spellings(name: str) -> set[str]:
    """A source as typed and as it may be stored: composed and decomposed accents (macOS
    writes file names decomposed), and a path's file name ("2023/Réunion.txt")."""
    forms = {name, name.replace("\\", "/").rsplit("/", 1)[-1] or name}
    return {unicodedata.normalize(form, n) for n in forms for form in ("NFC", "NFD")}


def _source_names(sources: object) -> list[str]:
    if sources is None:
        return []
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list | tuple | set | frozenset) or len(sources) > MAX_SOURCES:
        raise InputError(f"sources must be a publisher or file name, or a list of at most "
                         f"{MAX_SOURCES}, not {type(sources).__name__}"
                         f"{f' of {len(sources)}' if isinstance(sources, list | tuple) else ''}.")
    names = []
    for name in sources:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_SOURCE_CHARS \
                or _CONTROL.search(name) or LONE_SURROGATES.search(name):
            raise InputError(f"sources: each must be a publisher or file name (text of 1 to "
                             f"{MAX_SOURCE_CHARS} characters, without control characters), "
                             f"not {name!r:.80}.")
        names.append(name.strip())
    return names


def _date(value: object, name: str) -> date | None:
    if isinstance(value, datetime):  # a date too, but not comparable with one
        return value.date()
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{name} must be a date as YYYY-MM-DD, not {value!r:.80}.")


def check_history(history: object, settings: Settings) -> list[dict[str, str]]:
    """The last `max_history_turns` turns of `history` as role/content messages (messages
    of other roles than user and assistant, e.g. system, are left out). Refuses a history
    that is not a list, an item that is neither a message nor a pair, a message longer than
    `max_message_chars`, and turns longer than `max_history_chars` together."""
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InputError("history must be a list of earlier turns ([{'role', 'content'}...] "
                         f"or [(question, answer)...]), not {type(history).__name__}.")
    odd = next((n for n, turn in enumerate(history, 1) if not (
        isinstance(turn, dict) or (isinstance(turn, list | tuple) and len(turn) == 2))), None)
    if odd is not None:
        raise InputError(f"history: item {odd} is neither a message ({{'role', 'content'}}) "
                         f"nor a (question, answer) pair: {history[odd - 1]!r:.80}")
    for n, turn in enumerate(history, 1):  # numbers would be read as words, or dropped
        parts = turn if isinstance(turn, list | tuple) else [turn.get("content")]
        wrong = next((p for p in parts if not isinstance(p, str | list | None)), None)
        if wrong is not None:
            raise InputError(f"history: item {n} holds a {wrong!r:.40}, not text.")
    turns = settings.max_history_turns
    messages = [{**m, "content": LONE_SURROGATES.sub(" ", m["content"])}  # as in a question
                for m in normalize_history(list(history[-2 * turns:]))[-2 * turns:]]
    total = 0
    for n, message in enumerate(messages, 1):
        size = len(message["content"])
        total += size
        if size > settings.max_message_chars:
            raise InputError(f"history: message {n} of the last {len(messages)} is "
                             f"{size:,} characters long; each may have at most "
                             f"{settings.max_message_chars:,}.")
    if total > settings.max_history_chars:
        raise InputError(f"history: the last {len(messages)} messages hold {total:,} "
                         f"characters; at most {settings.max_history_chars:,} together "
                         "(send fewer turns).")
    return messages


def normalize_history(history: list | None) -> list[dict[str, str]]:
    """Accept [{"role", "content"}...] or [(question, answer)...]; return role/content dicts."""
    messages: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            content = turn.get("content")
            if isinstance(content, list):  # multimodal message parts
                content = " ".join(text for p in content if isinstance(p, dict)
                                   and isinstance(text := p.get("text"), str))
            if turn.get("role") in ("user", "assistant") and isinstance(content, str):
                messages.append({"role": turn["role"], "content": content})
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            question, reply = turn
            messages.append({"role": "user", "content": str(question or "")})
            messages.append({"role": "assistant", "content": str(reply or "")})
    return messages
