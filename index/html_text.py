"""Plain text and metadata out of an HTML page, with the standard library's parser.

A page's story is what its largest `<article>` (else its `<main>`) holds, when that is most of
its text (at least 40%: not a teaser's `<article>` beside the story); chrome is left out
wherever it is: navigation, the page's header and footer, figures, hidden elements, and
elements whose class or id says they are chrome (a menu, cookie banner, share bar, related
stories...). Table cells are kept apart by " | ", each row a paragraph."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from qa.core.records import parse_date

__all__ = ["html_to_record"]

_SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg",
         "figure", "figcaption", "button", "iframe", "template", "select", "video", "audio",
         "canvas", "object"}
#: ... but not inside the story: an `<article>`'s own `<header>` holds its headline and byline.
_STORY_PARTS = {"header"}
_BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "div", "section",
          "article", "br", "tr", "pre", "dt", "dd", "hr", "caption", "table"}
#: table cells: kept apart within their row.
_CELLS = {"td", "th"}
#: elements that never have an end tag.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
#: the story's container, in order of preference.
_STORY = ("article", "main")
#: words of a class or id that mark an element as chrome ("cookie-banner", "site-menu").
_CHROME_WORDS = {"nav", "navbar", "navigation", "menu", "footer", "cookie", "cookies", "consent",
                 "banner", "breadcrumb", "breadcrumbs", "share", "sharing", "social",
                 "newsletter", "subscribe", "subscription", "related", "comment", "comments",
                 "advert", "advertisement", "ads", "promo", "sidebar"}
#: class words of text only screen readers read ("(opens in a new window)").
_SCREEN_READER_ONLY = {"sr-only", "visually-hidden", "visuallyhidden", "screen-reader-text"}
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
        #: (text, the story containers it is inside, and which `<article>`) per block.
        self.blocks: list[tuple[str, frozenset[str], int]] = []
        self.current: list[str] = []
        #: the outermost open element that hides its content (chrome), and how many elements
        #: of its tag are open inside it and it: its content ends when that count is 0.
        self.hidden_by: str | None = None
        self.hidden_depth = 0
        #: story containers open now, by tag, and how deep; `articles` counts the outermost
        #: `<article>` elements opened so far (the last one's number is the open one's).
        self.story: dict[str, int] = {}
        self.articles = 0
        #: the block so far has a table cell (the next one is set apart from it).
        self.cell = False
        self.in_title = False
        self.title: list[str] = []  # pieces, joined once: += would copy the whole each time
        self.h1: list[list[str]] = []  # each <h1>'s pieces
        self.in_h1 = False
        self.meta: dict[str, str] = {}

    def _flush(self) -> None:
        text = " ".join("".join(self.current).replace("\xad", "").split())  # (soft hyphens)
        if text:
            self.blocks.append((text, frozenset(t for t, n in self.story.items() if n),
                                self.articles if self.story.get("article") else 0))
        self.current, self.cell = [], False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if self.hidden_by in _OPTIONAL_END and self.hidden_depth == 1 and (
                tag == self.hidden_by or (self.hidden_by == "p" and tag in _BLOCK)):
            self.hidden_by = None  # "<li class=share>Share<li>story": the first one ended
        if tag not in _VOID:
            if self.hidden_by is not None:
                self.hidden_depth += tag == self.hidden_by
            elif (tag in _SKIP and not (tag in _STORY_PARTS and any(self.story.values()))) \
                    or _hidden(a) or (tag not in _NEVER_CHROME and _is_chrome(
                        f"{a.get('class') or ''} {a.get('id') or ''}")):
                self.hidden_by, self.hidden_depth = tag, 1
        if tag == "title" and self.hidden_by is None:
            self.in_title = True
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").lower()
            content = (a.get("content") or "").strip()
            if key in _META and content and _META[key] not in self.meta and not (
                    _META[key] == "author" and re.match(r"(?i)https?://", content)):
                self.meta[_META[key]] = content  # (an author's profile link is no name)
        if tag == "br" and self.in_h1:  # a headline broken over two lines is one
            self.current.append(" ")
            self.h1[-1].append(" ")
        elif tag in _BLOCK:
            self._flush()
        if tag in _CELLS and self.hidden_by is None:
            if self.cell:
                self.current.append(" | ")
            self.cell = True
        if tag in _STORY:
            if tag == "article" and not self.story.get(tag):
                self.articles += 1
            self.story[tag] = self.story.get(tag, 0) + 1
        if tag == "h1" and self.hidden_by is None:
            self.in_h1 = True
            self.h1.append([])

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
                self.h1[-1].append(data)


def _is_chrome(marks: str) -> bool:
    """Whether an element's class and id words say it is chrome: a token such as
    "cookie-banner" or "site-menu", not a label such as "category-social" nor a body such
    as "comment-body" (an opinion piece's text)."""
    for token in marks.lower().split():
        words = [w for w in re.split(r"[^a-z]+", token) if w]
        if token in _SCREEN_READER_ONLY or (
                words and words[0] not in _LABELS and "body" not in words
                and not _CHROME_WORDS.isdisjoint(words)):
            return True
    return False


def _hidden(attributes: dict[str, str | None]) -> bool:
    """Whether an element is hidden from readers: `hidden`, or a style of `display: none` or
    `visibility: hidden` (not `aria-hidden`: a page saved with a dialog open marks its whole
    story so)."""
    style = re.sub(r"\s+", "", (attributes.get("style") or "").lower())
    return "hidden" in attributes or "display:none" in style or "visibility:hidden" in style


def html_to_record(html: str, dateline: bool = True) -> tuple[str, dict[str, str]]:
    """Return the page's paragraphs (blank-line separated) and its metadata fields; with
    `dateline`, a date alone in one of its first blocks is its date, not its text."""
    parser = _TextCollector()
    parser.feed(_without_open_tags(html))
    parser.close()
    parser._flush()
    fields = dict(parser.meta)
    everything = [text for text, _, _ in parser.blocks]
    articles = [[text for text, _, n in parser.blocks if n == number]
                for number in range(1, parser.articles + 1)]
    pooled = [text for text, inside, _ in parser.blocks if "article" in inside]
    largest = max(articles, key=_length, default=[])  # the story, not the teasers beside it;
    # but a live blog's posts, none most of it, all together
    stories = [largest if _length(largest) >= 0.75 * _length(pooled) else pooled,
               [text for text, inside, _ in parser.blocks if "main" in inside]]
    blocks = next((story for story in stories if 2.5 * _length(story) >= _length(everything)),
                  everything)
    headlines = [text for pieces in parser.h1 if (text := " ".join("".join(pieces).split()))]
    title = next((h for h in headlines if h in blocks), headlines[0] if headlines else
                 " ".join((fields.get("title") or "".join(parser.title)).split()))
    fields["title"] = title
    if title in blocks[:3] and all(len(b) <= 40 for b in blocks[:blocks.index(title)]):
        blocks = blocks[blocks.index(title) + 1:]  # (and a kicker above it: "Politics")
    for i, block in enumerate(blocks[:3] if dateline else []):  # a dateline above the story
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
