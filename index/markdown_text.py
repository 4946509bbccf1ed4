"""Plain text out of a Markdown article: the words as a reader sees them, so that answers
quote "Corvane Holdings", not "**Corvane Holdings**".

The front matter (`---` lines around `key: value` pairs) is returned as it is written (the
loader reads title, author, publisher, date... from it as from a JSON record). Headings,
emphasis, links, images, inline code, list bullets, block quotes and rules lose their
markup. Every pattern stops at the next place its mark could start again, so the time stays
linear in the file's length whatever it holds.
"""

from __future__ import annotations

import re

__all__ = ["markdown_to_record"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>(?:[^\n]*\n){0,60}?)---[ \t]*(?:\n|\Z)")
_FRONT_FIELD = re.compile(r"^(?P<key>[A-Za-z_]{1,20})[ \t]*:[ \t]*(?P<value>[^\n]{0,500})$",
                          re.M)
_RULE = re.compile(r"^[ \t]{0,3}(?:[-*_][ \t]*){3,}$", re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_CLOSING_HASHES = re.compile(r"[ \t]+#+[ \t]*$", re.M)
_BULLET = re.compile(r"^[ \t]{0,12}(?:>[ \t]?){0,4}[-*+][ \t]+|^[ \t]{0,3}(?:>[ \t]?){1,4}",
                     re.M)
_LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]{1,200}\]:[ \t]*\S+[^\n]*$\n?", re.M)
_TARGET = r"(?:\([^()\s]{0,2000}(?:[ \t]+\"[^\"\n]{0,200}\")?\)|\[[^\[\]\n]{0,200}\])"
_IMAGE = re.compile(rf"!\[[^\[\]\n]{{0,500}}\]{_TARGET}")
_LINK = re.compile(rf"\[(?P<text>[^\[\]\n]{{0,500}})\]{_TARGET}")
_EMPHASIS = [re.compile(p) for p in (
    r"(?<![\w*])\*\*(?=\S)(?P<text>[^*\n]{1,500}?)(?<=\S)\*\*(?![\w*])",
    r"(?<!\w)__(?=\S)(?P<text>[^_\n]{1,500}?)(?<=\S)__(?!\w)",
    r"(?<![\w*])\*(?=\S)(?P<text>[^*\n]{1,500}?)(?<=\S)\*(?![\w*])",
    r"(?<!\w)_(?=\S)(?P<text>[^_\n]{1,500}?)(?<=\S)_(?!\w)",
    r"~~(?=\S)(?P<text>[^~\n]{1,500}?)(?<=\S)~~",
    r"`(?P<text>[^`\n]{1,500})`",
)]
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")
#: escaped characters stand aside as these (plane-15 private use) until the markup is gone.
_SET_ASIDE = 0xF0000
_SET_ASIDE_CHARS = re.compile(f"[{chr(_SET_ASIDE)}-{chr(_SET_ASIDE + 127)}]")


def markdown_to_record(text: str) -> tuple[str, dict[str, str]]:
    """The article's text without Markdown markup, and its front matter's fields as written
    (`key: value` lines)."""
    fields: dict[str, str] = {}
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if front := _FRONT_MATTER.match(text):
        for match in _FRONT_FIELD.finditer(front["body"]):
            fields.setdefault(match["key"], match["value"].strip().strip("\"'").strip())
        text = text[front.end():]
    text = _ESCAPED.sub(lambda m: chr(_SET_ASIDE + ord(m[1])), text)  # "\\*" is a star
    text = _LINK_DEFINITION.sub("", text)
    text = _RULE.sub("", text)
    text = _CLOSING_HASHES.sub("", _HEADING.sub("", text))
    text = _BULLET.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m["text"], text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m["text"], text)
    return _SET_ASIDE_CHARS.sub(lambda m: chr(ord(m[0]) - _SET_ASIDE), text), fields
