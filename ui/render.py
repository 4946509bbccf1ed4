"""Escaped HTML for the conversation: article and user text never reach the page as markup.

Each answer shows its text with `[n]` chips, then its sources, each a `<details>` that opens
the quoted passage in context and, inside it, the whole article; a Copy button carries the
answer as plain text with numbered sources."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from qa.core.text import BIDI_CONTROLS, shorten

if TYPE_CHECKING:
    from qa.core.records import Answer, Article, Citation

__all__ = [
    "answer_html",
    "answer_plain",
    "article_line",
    "citation_html",
    "error_html",
    "esc",
    "loading_html",
    "pending_html",
    "welcome_html",
]

_BIDI = re.compile(f"[{BIDI_CONTROLS}]")

_MARKER = re.compile(r"\[(\d{1,3})\]")
#: a quote that starts with one of these shows its own quotation marks.
_OPENING_QUOTES = "“\"‘'«„"
#: characters of context either side of a quote in the passage view.
CONTEXT_CHARS = 400
#: "Show the whole article" shows articles up to this many characters whole, and of a
#: longer one this much around the quote: every turn's sources are sent again with each
#: answer, so one long upload cited in many turns would otherwise grow every reply by its
#: whole text per citation (a 1 MB article cited twice a turn: 40 MB per reply by turn 20).
WHOLE_ARTICLE_CHARS = 60_000


def esc(text: object) -> str:
    """HTML-escape `text` for use in element content or a quoted attribute."""
    return html.escape(str(text), quote=True).replace("$", "&#36;")


def _date(published: str) -> str:
    return published[:10] if re.match(r"\d{4}-\d\d-\d\d", published or "") else published


def article_line(article: Article) -> str:
    """`headline · source · date` as plain text (parts the article lacks are left out)."""
    return " · ".join(p for p in (article.title or article.name, article.source,
                                  _date(article.published)) if p)


#: articles the opening card lists on a phone-sized screen.
PHONE_LIMIT = 3


def welcome_html(articles: Iterable[Article], total: int, limit: int = 6) -> str:
    """The opening card: which articles are loaded (`total`, the first `limit` of
    `articles` listed, `PHONE_LIMIT` on a narrow screen, so that the question box shows)
    and how to ask."""
    articles = sorted(articles, key=lambda a: (a.published_date or date.min, a.title),
                      reverse=True)  # newest first; undated, or dated unreadably, last
    wide = ' class="qa-wide"'  # listed on wider screens only
    items = "".join(
        f"<li{wide if i >= PHONE_LIMIT else ''}><b>{esc(a.title or a.name)}</b>"
        f"{''.join(f' · {esc(p)}' for p in (a.source, _date(a.published)) if p)}</li>"
        for i, a in enumerate(articles[:limit]))
    shown, on_phones = min(limit, len(articles)), min(PHONE_LIMIT, len(articles), limit)
    more = (f'<li class="qa-wide">… and {total - shown:,} more</li>' if total > shown else "") \
        + (f'<li class="qa-narrow">… and {total - on_phones:,} more</li>'
           if total > on_phones else "")
    count = f"{total:,} article{'s' if total != 1 else ''}"
    return (f'<div class="qa-conv"><section class="qa-card" aria-label="Loaded articles">'
            f"<h2>{count} loaded</h2><ul>{items}{more}</ul>"
            '<p class="qa-muted">Ask a question below or pick an example. Every answer cites '
            "its sources: select a number such as [1] to read the passage.</p></section></div>")


def loading_html(done: int, total: int, failed: bool = False) -> str:
    """The card shown while the index builds: a progress bar (of passages embedded, when
    known), or why loading failed."""
    if failed:
        return ('<div class="qa-conv"><section class="qa-card"><h2>The articles could not be '
                "loaded</h2><p>See the status line above and the terminal.</p></section></div>")
    bar = (f'<progress max="{total}" value="{done}" aria-label="Passages embedded">'
           f"{done} of {total}</progress>" if total else
           '<progress aria-label="Indexing the articles"></progress>')
    return ('<div class="qa-conv"><section class="qa-card" aria-busy="true"><h2>Indexing the '
            f"articles</h2>{bar}<p class=\"qa-muted\">The chat takes questions as soon as "
            "the index is ready.</p></section></div>")


def _with_short(text: str, answer: Answer) -> str:
    """Escaped answer text, the reader's short answers (each part's, at the start of its
    line: "**59** — …") in bold."""
    if answer.short is None:
        return esc(text)
    return _SHORT_LEAD.sub(r'<strong class="qa-short">\1</strong> — ', esc(text))


#: a short answer as the reader's answers lead with it, escaped: "**Yaroslav Moskalik** — ".
_SHORT_LEAD = re.compile(r"^\*\*([^*\n]{1,500}?)\*\* — ", re.MULTILINE)


def _chips(escaped: str, turn: int, numbers: set[int]) -> str:
    """Escaped text with each `[n]` of a known citation made a button that opens it."""
    def chip(match: re.Match[str]) -> str:
        n = int(match[1])
        if n not in numbers:
            return match[0]
        return (f'<button type="button" class="qa-chip" data-cite="qa-t{turn}-c{n}" '
                f'aria-label="Source {n}">[{n}]</button>')
    return _MARKER.sub(chip, escaped)


def _mark(text: str, start: int, end: int, strong: tuple[int, int] | None = None) -> str:
    """`text[start:end]` in `<mark>` (and a bold part of it), all escaped."""
    inner = esc(text[start:end])
    if strong is not None and start <= strong[0] < strong[1] <= end:
        a, b = strong
        inner = (f"{esc(text[start:a])}<strong class=\"qa-short\">{esc(text[a:b])}</strong>"
                 f"{esc(text[b:end])}")
    return f"<mark>{inner}</mark>"


def citation_html(citation: Citation, turn: int = 0, *, related: bool = False,
                  opened: bool = False, strong: tuple[int, int] | None = None) -> str:
    """One source of an answer: a summary line with its own quote; opened, the passage in
    context with the quote highlighted, then "Show the whole article" (unless the context
    already holds all of it)."""
    article = citation.article
    text = article.text
    start, end = citation.start, citation.end
    near = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    context = _excerpt(text, *near, start, end, strong)
    lo, hi = _around(len(text), start, end, WHOLE_ARTICLE_CHARS)
    show = ("Show the whole article" if (lo, hi) == (0, len(text)) else
            f"Show {hi - lo:,} characters around the quote (the article has {len(text):,})")
    whole = "" if near == (0, len(text)) else (  # a short article is all in the context
        f'<details class="qa-whole"><summary>{show}</summary><div class="qa-context" '
        f'tabindex="0">{_excerpt(text, lo, hi, start, end, strong)}</div></details>')
    meta = " · ".join(esc(p) for p in (article.source, article.author, _date(article.published))
                      if p)
    url = article.url if re.match(r"https?://", article.url or "", re.I) else ""
    link = (f' · <a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
            "original</a>" if url else "")
    if related:
        flag = ('<p class="qa-flag">Related passage: not an answer, only the closest text '
                "found.</p>")
    elif not citation.supported:
        flag = ('<p class="qa-flag">Unsupported: this passage does not clearly back the '
                "sentence that cites it.</p>")
    else:
        flag = ""
    source = article.source or article.title or article.name
    quote = shorten(text[start:end], 160)  # a quote that opens with quotation marks has them
    summary = f"[{citation.n}] {esc(quote if quote[:1] in _OPENING_QUOTES else f'“{quote}”')}"
    return (
        f'<details class="qa-cite" id="qa-t{turn}-{"r" if related else "c"}{citation.n}"'
        f'{" open" if opened else ""}><summary>{summary} '
        f'<span class="qa-cite-src">— {esc(source)}</span></summary>'
        f'<div class="qa-passage"><p class="qa-meta qa-title">{esc(article.title or article.name)}'
        f"</p><p class=\"qa-meta\">{meta}{link}{' · ' if meta or link else ''}"
        f"{esc(article.name)}</p>{flag}"
        f'<blockquote class="qa-context">{context}</blockquote>{whole}</div></details>'
    )


def _excerpt(text: str, lo: int, hi: int, start: int, end: int,
             strong: tuple[int, int] | None) -> str:
    """`text[lo:hi]` escaped, the quote `start:end` marked, "…" where it is cut."""
    return (("…" if lo else "") + esc(text[lo:start]) + _mark(text, start, end, strong)
            + esc(text[end:hi]) + ("…" if hi < len(text) else ""))


def _around(length: int, start: int, end: int, room: int) -> tuple[int, int]:
    """Bounds of at most `room` characters (more only if the quote is longer) of a text of
    `length` that hold `start:end`, centred on it where the text allows."""
    if length <= room:
        return 0, length
    lo = max(0, min(start - (room - (end - start)) // 2, length - room))
    return min(lo, start), max(min(length, lo + room), end)


def answer_plain(answer: Answer) -> str:
    """The answer as plain text with numbered sources (what Copy puts on the clipboard)."""
    lines = [answer.text.replace("**", "")]
    lines += [answer.confidence_line] if answer.confidence_line else []
    lines += answer.notes
    for head, cites in (("Sources", answer.citations), ("Related passages", answer.related)):
        if cites:
            lines.append(f"\n{head}:")
            lines += [f"[{c.n}] “{shorten(c.quote, 300)}” — {article_line(c.article)}"
                      for c in cites]
    return "\n".join(lines)


def _question(question: str) -> str:
    shown = _BIDI.sub("", question)  # as the engine reads it, not turned round by a control
    return f'<p class="qa-q"><span class="qa-who">You:</span> {esc(shown)}</p>'


def answer_html(turn: int, question: str, answer: Answer, latest: bool = False) -> str:
    """One finished turn: the question, the answer with chips, its sources, Copy."""
    strong = None
    if answer.short is not None and 0 < answer.short.citation <= len(answer.citations):
        strong = (answer.short.start, answer.short.end)
    body = _chips(_with_short(answer.text, answer), turn, {c.n for c in answer.citations})
    if answer.confidence_line:  # on the answer's last line: the passage stays in view
        low = " qa-flag" if answer.low_confidence else ""
        body += f' <span class="qa-confidence{low}">{esc(answer.confidence_line)}</span>'
    parts = [f'<p class="qa-answer">{body}</p>']
    if answer.abstained:
        parts.append('<p class="qa-note">No passage in the indexed articles answers this '
                     "question.</p>")
    parts += [f'<p class="qa-note">{esc(note)}</p>' for note in answer.notes]
    if answer.citations:
        short_n = answer.short.citation if answer.short is not None else 0
        items = "".join(
            "<li>" + citation_html(c, turn, opened=latest and i == 0,
                                   strong=strong if c.n == short_n else None) + "</li>"
            for i, c in enumerate(answer.citations))
        parts.append(f'<p class="qa-sources-head">Sources</p><ol class="qa-sources">{items}</ol>')
    if answer.related:
        items = "".join(
            "<li>" + citation_html(c, turn, related=True) + "</li>"
            for c in answer.related)
        parts.append('<p class="qa-sources-head">Related passages (not evidence)</p>'
                     f'<ol class="qa-sources">{items}</ol>')
    parts.append(f'<button type="button" class="qa-copy" data-copy="{esc(answer_plain(answer))}"'
                 ' aria-label="Copy this answer as plain text">Copy</button>')
    return (f'<section class="qa-turn" aria-label="Answer {turn + 1}">{_question(question)}'
            f'{_read_as(question, answer)}'
            f'<div class="qa-a"><span class="qa-sr">Answer: </span>{"".join(parts)}</div>'
            "</section>")


def _read_as(question: str, answer: Answer) -> str:
    """How a follow-up was understood ("How old was he?" read as "How old was Yaroslav
    Moskalik?"), under the question, so that an answer about someone else shows why; ""
    for a question read as it was asked."""
    searched = answer.standalone_question
    if not searched or searched.strip() in (question.strip(), answer.question):
        return ""
    return f'<p class="qa-note qa-read-as">Read as: {esc(_BIDI.sub("", searched))}</p>'


def error_html(turn: int, question: str, message: str) -> str:
    """A turn that failed: the question and why, in one line."""
    return (f'<section class="qa-turn" aria-label="Answer {turn + 1}">{_question(question)}'
            f'<div class="qa-a"><p class="qa-flag">Not answered: {esc(message)}</p></div>'
            "</section>")


def pending_html(question: str, partial: str) -> str:
    """The turn being answered: the question and the text streamed so far."""
    text = esc(partial.replace("**", "")) if partial else '<span class="qa-muted">Searching the ' \
        "articles…</span>"
    return (f'<div class="qa-conv qa-live"><section class="qa-turn" aria-busy="true">'
            f'{_question(question)}<div class="qa-a"><span class="qa-sr">Answer: </span>'
            f'<p class="qa-answer">{text}</p></div></section></div>')
