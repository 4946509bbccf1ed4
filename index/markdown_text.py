"""Plain text out of a Markdown article: the words as a reader sees them, so that answers
quote "Corvane Holdings", not "**Corvane Holdings**".

The front matter (`---` lines around `key: value` pairs) is returned as it is written (the
loader reads title, author, publisher, date... from it as from a JSON record). Headings,
emphasis, links, images, inline code, list bullets, block quotes and rules lose their
markup; a table's cells are set apart by " | ", a row a line; HTML tags and comments go,
and character references ("&mdash;") are read. Every pattern stops at the next place its
mark could start again, so the time stays linear in the file's length whatever it holds.
"""

from __future__ import annotations

import re

from qa.core.text import decode_entities

__all__ = ["markdown_to_record"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>(?:[^\n]*\n){0,60}?)---[ \t]*(?:\n|\Z)")
_FRONT_FIELD = re.compile(r"(?P<key>[A-Za-z_][\w-]{0,40})[ \t]*:(?:[ \t]+(?P<value>[^\n]*))?[ \t]*")
#: a list item ("- Jane Doe", indented or not), a comment, a continued value or a blank line.
_FRONT_OTHER = re.compile(r"[ \t]*-[ \t]+(?P<item>[^\n]+)|[ \t]*#[^\n]*|[ \t]+[^\n]*|")
_FLOW_ITEM = re.compile(r"\s*(?:\"([^\"]*)\"|'([^']*)'|([^,]+))\s*(?:,|$)")
#: rules, setext underlines and code fences: lines that are markup only.
_MARKUP_LINE = re.compile(r"^[ \t]{0,3}(?:(?:[-*_][ \t]*){3,}|=+[ \t]*|(?:```|~~~)[^`~\n]*)$",
                          re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(?P<text>[^\n]*)$", re.M)
_BULLET = re.compile(r"^[ \t]{0,12}(?:>[ \t]?){0,4}[-*+][ \t]+|^[ \t]{0,3}(?:>[ \t]?){1,4}",
                     re.M)
#: (not a footnote's text: "[^1]: Published by the council.")
_LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[(?!\^)[^\]\n]{1,200}\]:[ \t]*\S+[^\n]*$\n?", re.M)
_TARGET = (r"(?:\((?:[^()\s]|\([^()\s]{0,200}\)){0,2000}(?:[ \t]+\"[^\"\n]{0,200}\")?\)|"
           r"\[[^\[\]\n]{0,200}\])")
_IMAGE = re.compile(rf"!\[[^\[\]\n]{{0,500}}\]{_TARGET}")
_LINK = re.compile(rf"\[(?P<text>[^\[\]\n]{{0,500}})\]{_TARGET}")
#: emphasis may run over a line break, not over a paragraph's end.
_WITHIN = r"(?:[^{0}\n]|\n(?![ \t]*\n))"
_EMPHASIS = [re.compile(p) for p in (
    rf"(?<![\w*])\*\*\*(?=\S)(?P<text>{_WITHIN.format('*')}{{1,500}}?)(?<=\S)\*\*\*(?![\w*])",
    rf"(?<![\w*])\*\*(?=\S)(?P<text>{_WITHIN.format('*')}{{1,500}}?)(?<=\S)\*\*(?![\w*])",
    rf"(?<!\w)__(?=\S)(?P<text>{_WITHIN.format('_')}{{1,500}}?)(?<=\S)__(?!\w)",
    rf"(?<![\w*])\*(?=\S)(?P<text>{_WITHIN.format('*')}{{1,500}}?)(?<=\S)\*(?![\w*])",
    rf"(?<!\w)_(?=\S)(?P<text>{_WITHIN.format('_')}{{1,500}}?)(?<=\S)_(?!\w)",
    rf"~~(?=\S)(?P<text>{_WITHIN.format('~')}{{1,500}}?)(?<=\S)~~",
    r"`(?P<text>[^`\n]{1,500})`",
)]
#: a table's rule under its header ("|---|:--:|"), and a row ("| Maria Lopez | 12,400 |").
_TABLE_RULE = re.compile(r"^[ \t]{0,3}\|(?=[ \t:|]*-{3})[ \t:|-]{3,1000}$\n?", re.M)
_TABLE_ROW = re.compile(r"^[ \t]{0,3}\|(?P<cells>[^\n]{0,5000})\|[ \t]*$", re.M)
#: HTML written into the Markdown: a comment, a line break, any other tag.
_HTML_COMMENT = re.compile(r"<!--(?:[^<-]|-(?!->)|<(?!!--)){0,5000}-->")  # (not over the next)
_HTML_BREAK = re.compile(r"(?i)<br[ \t]*/?>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:[ \t\n][^<>]{0,1000})?/?>")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")
#: escaped characters stand aside as these (plane-15 private use) until the markup is gone.
_SET_ASIDE = 0xF0000
_SET_ASIDE_CHARS = re.compile(f"[{chr(_SET_ASIDE)}-{chr(_SET_ASIDE + 127)}]")


def markdown_to_record(text: str) -> tuple[str, dict[str, str | list[str]]]:
    """The article's text without Markdown markup, and its front matter's fields as written
    (`key: value` lines; a list as `[a, b]` or as `- a` lines under its key)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields: dict[str, str | list[str]] = {}
    if (front := _FRONT_MATTER.match(text)) and (read := _front_matter(front["body"])) is not None:
        fields = read
        text = text[front.end():]
    text = _ESCAPED.sub(lambda m: chr(_SET_ASIDE + ord(m[1])), text)  # "\\*" is a star
    text = _LINK_DEFINITION.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _TABLE_ROW.sub(lambda m: " | ".join(c.strip() for c in m["cells"].split("|")), text)
    text = _HTML_COMMENT.sub("", text)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    text = decode_entities(text)
    text = _MARKUP_LINE.sub("", text)
    text = _HEADING.sub(lambda m: _heading_text(m["text"]), text)
    text = _BULLET.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m["text"], text)
    for _ in range(3):  # "***very***", "**bold *inner* text**": marks inside marks
        before = text
        for pattern in _EMPHASIS:
            text = pattern.sub(lambda m: m["text"], text)
        if text == before:
            break
    return _SET_ASIDE_CHARS.sub(lambda m: chr(ord(m[0]) - _SET_ASIDE), text), fields


def _front_matter(body: str) -> dict[str, str | list[str]] | None:
    """The fields of a front matter, or None when a line of it is prose, not YAML's
    `key: value`, a list item, a comment or a continued value (then the `---` lines were
    rules around text, not a front matter)."""
    fields: dict[str, str | list[str]] = {}
    key = None
    for line in body.splitlines():
        if field := _FRONT_FIELD.fullmatch(line):
            key, value = field["key"], (field["value"] or "").strip()
            if value[:1] not in ("'", '"'):  # "title: Mayor resigns # draft"
                value = _COMMENT.sub("", value)
            fields.setdefault(key, _flow_list(value) if value.startswith("[")
                              and value.endswith("]") and "]" not in value[1:-1]
                              else "" if value in _BLOCK_SCALAR else value.strip("\"'").strip())
        elif (other := _FRONT_OTHER.fullmatch(line)) is None:
            return None
        elif other["item"] and key is not None:
            items = fields.get(key)
            fields[key] = [*(items if isinstance(items, list) else []),
                           other["item"].strip().strip("\"'")]
        elif key is not None and line.strip() and line[:1] in " \t" and \
                not line.lstrip().startswith("#") and isinstance(value := fields[key], str):
            if nested := _FRONT_FIELD.fullmatch(line.strip()):  # "author:" then "  name: Jane"
                if nested["key"] in ("name", "title") and not value:
                    fields[key] = (nested["value"] or "").strip().strip("\"'").strip()
            else:  # a value continued on the lines below it ("title: >-", indented lines)
                fields[key] = f"{value} {line.strip()}".strip()
    return fields or None


#: a comment after a value.
_COMMENT = re.compile(r"[ \t]+#.*$")
#: the marks of a value written on the indented lines below its key.
_BLOCK_SCALAR = {">", ">-", ">+", "|", "|-", "|+"}


def _flow_list(value: str) -> list[str]:
    """`[a, "b, c"]` as ["a", "b, c"]."""
    return [next(g for g in m.groups() if g is not None).strip()
            for m in _FLOW_ITEM.finditer(value[1:-1]) if any(m.groups())]


def _heading_text(text: str) -> str:
    """A heading's text without its closing hashes ("Title ##" is "Title")."""
    text = text.rstrip(" \t")
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        return bare.rstrip(" \t")
    return text
