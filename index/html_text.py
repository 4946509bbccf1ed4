"""Plain text and metadata out of an HTML page, with the standard library's parser.

A page's story is what its `<article>` (else its `<main>`) holds, when that is most of its
text (at least 40%: not a teaser's `<article>` beside the story); chrome is
left out wherever it is: navigation, headers and footers, figures, and elements whose class
or id says they are chrome (a menu, cookie banner, share bar, related stories...)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from qa.core.records import parse_date

__all__ = ["html_to_record"]

_SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg",
         "figure", "figcaption", "button", "iframe"}
_BLOCK = {"p", "h1", "h2", "h3", "h4", "li", "blockquote", "div", "section", "article", "br",
          "tr", "pre"}
#: elements that never have an end tag.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
#: the story's container, in order of preference.
_STORY = ("article", "main")
#: words of a class or id that mark an element as chrome ("cookie-banner", "site-menu").
_CHROME_WORDS = {"nav", "navbar", "navigation", "menu", "footer", "cookie", "cookies", "consent",
                 "banner", "breadcrumb", "breadcrumbs", "share", "sharing", "social",
                 "newsletter", "subscribe", "subscription", "related", "comment", "comments",
                 "advert", "advertisement", "ads", "promo", "sidebar", "paywall"}
#: a class's first word that makes it a label of what the element holds, not chrome: CMSs
#: mark stories "category-social", "tag-transport", "has-sidebar".
_LABELS = {"category", "tag", "tags", "has", "post", "type", "format", "page", "single",
           "template", "is", "with", "no", "term", "topic", "author", "layout", "theme"}
#: elements that a class never hides: the page and its story (whatever their labels say).
_NEVER_CHROME = {"html", "body", "main", "article"}
#: elements whose end tag may be left out: the next of its kind, a block, or the end of the
#: list or block around it ends them too.
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}
_CONTAINERS = {"ul", "ol", "dl", "table", "tbody", "div", "section", "article", "main", "body",
               "blockquote", "aside", "nav", "header", "footer", "form"}
_META = {
    "og:title": "title", "author": "author", "article:author": "author",
    "og:site_name": "source", "article:published_time": "published", "date": "published",
    "og:url": "url", "article:section": "section",
}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        #: (text, the story containers it is inside) per block.
        self.blocks: list[tuple[str, frozenset[str]]] = []
        self.current: list[str] = []
        #: the outermost open element that hides its content (chrome), and how many elements
        #: of its tag are open inside it and it: its content ends when that count is 0.
        self.hidden_by: str | None = None
        self.hidden_depth = 0
        #: story containers open now, by tag, and how deep.
        self.story: dict[str, int] = {}
        self.in_title = False
        self.title: list[str] = []  # pieces, joined once: += would copy the whole each time
        self.h1: list[str] = []
        self.in_h1 = False
        self.meta: dict[str, str] = {}

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append((text, frozenset(t for t, n in self.story.items() if n)))
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if self.hidden_by in _OPTIONAL_END and self.hidden_depth == 1 and (
                tag == self.hidden_by or (self.hidden_by == "p" and tag in _BLOCK)):
            self.hidden_by = None  # "<li class=share>Share<li>story": the first one ended
        if tag not in _VOID:
            if self.hidden_by is not None:
                self.hidden_depth += tag == self.hidden_by
            elif tag in _SKIP or (tag not in _NEVER_CHROME and _is_chrome(
                    f"{a.get('class') or ''} {a.get('id') or ''}")):
                self.hidden_by, self.hidden_depth = tag, 1
        if tag == "title":
            self.in_title = True
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").lower()
            if key in _META and a.get("content") and _META[key] not in self.meta:
                self.meta[_META[key]] = a["content"] or ""
        if tag in _BLOCK:
            self._flush()
        if tag in _STORY:
            self.story[tag] = self.story.get(tag, 0) + 1
        if tag == "h1":
            self.in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == self.hidden_by:
            self.hidden_depth -= 1
            if not self.hidden_depth:
                self.hidden_by = None
        elif self.hidden_by in _OPTIONAL_END and tag in _CONTAINERS:
            self.hidden_by = None  # the list or block that held it ended
        if tag == "title":
            self.in_title = False
        if tag == "h1":
            self.in_h1 = False
        if tag in _BLOCK:
            self._flush()
        if self.story.get(tag):
            self.story[tag] -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif self.hidden_by is None:
            self.current.append(data)
            if self.in_h1:
                self.h1.append(data)


def _is_chrome(marks: str) -> bool:
    """Whether an element's class and id words say it is chrome: a token such as
    "cookie-banner" or "site-menu", not a label such as "category-social"."""
    for token in marks.lower().split():
        words = [w for w in re.split(r"[^a-z]+", token) if w]
        if words and words[0] not in _LABELS and not _CHROME_WORDS.isdisjoint(words):
            return True
    return False


def html_to_record(html: str) -> tuple[str, dict[str, str]]:
    """Return the page's paragraphs (blank-line separated) and its metadata fields."""
    parser = _TextCollector()
    parser.feed(_without_open_tags(html))
    parser.close()
    parser._flush()
    fields = dict(parser.meta)
    title = " ".join(("".join(parser.h1) or fields.get("title") or "".join(parser.title))
                     .split())
    fields["title"] = title
    everything = [text for text, _ in parser.blocks]
    blocks = next((story for tag in _STORY  # (not a teaser's <article> beside the story)
                   if 2.5 * _length(story := [text for text, inside in parser.blocks
                                              if tag in inside]) >= _length(everything)),
                  everything)
    if blocks and blocks[0] == title:
        blocks = blocks[1:]
    for i, block in enumerate(blocks[:3]):  # a dateline of its own above the story
        if len(block) <= 40 and (day := parse_date(block, whole=True)) is not None:
            fields.setdefault("published", day.isoformat())
            del blocks[i]
            break
    return "\n\n".join(blocks), fields


def _length(blocks: list[str]) -> int:
    return sum(map(len, blocks))


def _without_open_tags(html: str) -> str:
    """`html` with each "<" after its last ">" written as "&lt;": no tag can end there, and
    the standard library's parser (before CPython's fix of gh-135462) reads from every such
    "<" to the end of the page again, so a page of "<a<a<a..." took hours."""
    tail = html.rfind(">") + 1
    return html[:tail] + html[tail:].replace("<", "&lt;")
