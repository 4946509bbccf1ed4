"""Plain text and metadata out of an HTML page, with the standard library's parser."""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["html_to_record"]

_SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg",
         "figure", "figcaption", "button", "iframe"}
_BLOCK = {"p", "h1", "h2", "h3", "h4", "li", "blockquote", "div", "section", "article", "br",
          "tr", "pre"}
_META = {
    "og:title": "title", "author": "author", "article:author": "author",
    "og:site_name": "source", "article:published_time": "published", "date": "published",
    "og:url": "url", "article:section": "section",
}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.in_title = False
        self.title: list[str] = []  # pieces, joined once: += would copy the whole each time
        self.h1: list[str] = []
        self.in_h1 = False
        self.meta: dict[str, str] = {}

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif tag == "meta":
            a = dict(attrs)
            key = (a.get("property") or a.get("name") or "").lower()
            if key in _META and a.get("content") and _META[key] not in self.meta:
                self.meta[_META[key]] = a["content"] or ""
        if tag in _BLOCK:
            self._flush()
        if tag == "h1":
            self.in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "title":
            self.in_title = False
        if tag == "h1":
            self.in_h1 = False
        if tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skip_depth:
            self.current.append(data)
            if self.in_h1:
                self.h1.append(data)


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
    blocks = parser.blocks
    if blocks and blocks[0] == title:
        blocks = blocks[1:]
    return "\n\n".join(blocks), fields


def _without_open_tags(html: str) -> str:
    """`html` with each "<" after its last ">" written as "&lt;": no tag can end there, and
    the standard library's parser (before CPython's fix of gh-135462) reads from every such
    "<" to the end of the page again, so a page of "<a<a<a..." took hours."""
    tail = html.rfind(">") + 1
    return html[:tail] + html[tail:].replace("<", "&lt;")
