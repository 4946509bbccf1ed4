"""Plain-text rendering of an answer and its sources, for the terminal."""

from __future__ import annotations

import json
import re
import textwrap

from qa.core.records import Answer, Citation
from qa.core.text import BIDI_CONTROLS, CONTROL_CHARS

__all__ = ["for_terminal", "json_for_terminal", "render_answer", "render_citation"]

#: what a terminal acts on instead of showing: control characters (escape sequences, carriage
#: return, bell; not newline or tab) and the bidirectional overrides.
_UNPRINTABLE = re.compile(f"[{CONTROL_CHARS}{BIDI_CONTROLS}]")


def for_terminal(text: str) -> str:
    """`text` with what a terminal would act on shown as U+FFFD instead: an article, a file
    name or a model's reply cannot set the title, move the cursor or clear the screen."""
    return _UNPRINTABLE.sub("\ufffd", text)


def json_for_terminal(data: object) -> str:
    """`data` as indented JSON whose strings escape what a terminal would act on (the same
    data: JSON's own `\\uXXXX` escapes, where `json.dumps` leaves those of 0x7f-0x9f and the
    bidirectional overrides raw)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_citation(citation: Citation, label: str = "") -> str:
    a = citation.article
    facts = " · ".join(x for x in (a.source, a.author, a.published) if x)
    flag = "" if citation.supported else " (does not support the claim)"
    quote = textwrap.fill(f"“{citation.quote}”", width=96, initial_indent="    ",
                          subsequent_indent="    ")
    return f"[{label or citation.n}] {a.title}{flag}\n    {facts}\n    {a.path}\n{quote}"


def render_answer(answer: Answer, text: bool = True) -> str:
    """The answer text (optional), notes, then its numbered sources or related passages."""
    lines = [answer.text] if text else []
    if answer.confidence_line:
        lines.append(answer.confidence_line)
    lines += [f"Note: {note}" for note in answer.notes]
    if answer.citations:
        lines.append("\nSources:")
        lines += [render_citation(c) for c in answer.citations]
    elif answer.related:
        lines.append("\nRelated passages (not an answer):")
        lines += [render_citation(c, f"related {c.n}") for c in answer.related]
    return "\n".join(lines)
