"""Escaped rendering of answers and citations: article text never reaches the page as markup."""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = [
    "answer_markdown",
    "citation_html",
    "citation_label",
    "esc",
    "md_escape",
    "status_markdown",
]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$^=:])")


def esc(text: object) -> str:
    """HTML-escape `text` for use in element content or a quoted attribute."""
    return html.escape(str(text), quote=True).replace("$", "&#36;")


def md_escape(text: object) -> str:
    """Escape `text` for Markdown: HTML-escaped, and Markdown syntax neutralised."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def _date(published: str) -> str:
    return published[:10] if re.match(r"\d{4}-\d\d-\d\d", published or "") else published


def _byline(article: Any) -> list[str]:
    return [p for p in (article.source, article.author, _date(article.published)) if p]


def citation_label(citation: Any, related: bool = False) -> str:
    """Plain-text label for the citation picker, e.g. `[1] Title — Source`."""
    article = citation.article
    tag = " (related, not evidence)" if related else (
        "" if citation.supported else " (unsupported)")
    source = f" — {article.source}" if article.source else ""
    return f"[{citation.n}] {article.title or article.name}{source}{tag}"


def citation_html(citation: Any, related: bool = False, chars: int = 400,
                  short: Any = None) -> str:
    """The citation's article details and its quote highlighted with `<mark>` in context;
    the `short` answer (offsets inside the quote) is also set in bold."""
    article = citation.article
    before, quote, after = citation.context(chars=chars)
    marked = esc(quote)
    if short is not None and citation.start <= short.start < short.end <= citation.end:
        a, b = short.start - citation.start, short.end - citation.start
        marked = (f'{esc(quote[:a])}<strong class="qa-short">{esc(quote[a:b])}</strong>'
                  f"{esc(quote[b:])}")
    before = ("…" if citation.start - len(before) > 0 else "") + before
    after = after + ("…" if citation.end + len(after) < len(article.text) else "")
    meta = " · ".join(esc(p) for p in _byline(article))
    url = article.url if re.match(r"https?://", article.url or "", re.I) else ""
    link = (f' · <a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
            "original</a>" if url else "")
    if related:
        flag = ('<p class="qa-flag">Related passage: the articles do not answer the question; '
                "this is only the closest text found.</p>")
    elif not citation.supported:
        flag = ('<p class="qa-flag">Unsupported: this passage does not clearly back the '
                "sentence that cites it.</p>")
    else:
        flag = ""
    return (
        f'<div class="qa-cite" data-n="{citation.n}">'
        f'<h3 class="qa-cite-title">[{citation.n}] {esc(article.title or article.name)}</h3>'
        f'<p class="qa-cite-meta">{meta}{link}</p>'
        f'<p class="qa-cite-file">{esc(article.name)}</p>{flag}'
        f'<blockquote class="qa-cite-context">{esc(before)}<mark>{marked}</mark>'
        f"{esc(after)}</blockquote></div>"
    )


def answer_markdown(answer: Any) -> str:
    """An assistant chat message: the answer, its numbered citations, related passages."""
    parts = [md_escape(answer.text)]
    if answer.short is not None and " — " in answer.text:
        # the short answer first, in bold; then its quoted evidence (escaped as text)
        evidence = answer.text.split(" — ", 1)[1]
        parts = [f"**{md_escape(answer.short.text)}** — {md_escape(evidence)}"]
    if answer.abstained:
        parts[0] = f"**{parts[0]}**"
        parts.append("*No passage in the indexed articles answers this question.*")
    for note in answer.notes:
        parts.append(f"*{md_escape(note)}*")
    if answer.citations:
        lines = ["**Sources**"]
        for c in answer.citations:
            flag = "" if c.supported else " *(unsupported)*"
            byline = md_escape(" · ".join(_byline(c.article)))
            lines.append(f"\\[{c.n}\\] {md_escape(c.article.title or c.article.name)}"
                         f"{' — ' + byline if byline else ''}{flag}")
        parts.append("  \n".join(lines))
    if answer.related:
        lines = ["**Related passages** (not evidence)"]
        lines += [f"\\[{c.n}\\] {md_escape(c.article.title or c.article.name)}"
                  for c in answer.related]
        parts.append("  \n".join(lines))
    return "\n\n".join(parts)


def status_markdown(stats: dict) -> str:
    """The status line: index size and embedding model."""
    return (f"Index: **{stats.get('articles', 0)}** articles, **{stats.get('chunks', 0)}** "
            f"passages · model {md_escape(stats.get('model', '?'))}")
