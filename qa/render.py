"""Plain-text rendering of an answer and its sources, for the terminal."""

from __future__ import annotations

import textwrap

from qa.core.records import Answer, Citation

__all__ = ["render_answer", "render_citation"]


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
    if answer.short is not None:
        lines.append(f"Confidence: {answer.confidence:.0%}")
    lines += [f"Note: {note}" for note in answer.notes]
    if answer.citations:
        lines.append("\nSources:")
        lines += [render_citation(c) for c in answer.citations]
    elif answer.related:
        lines.append("\nRelated passages (not an answer):")
        lines += [render_citation(c, f"related {c.n}") for c in answer.related]
    return "\n".join(lines)
