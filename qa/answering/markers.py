"""Citation markers in a model's reply: filtering them as the reply streams (markers to no
passage dropped, the rest renumbered in order of first use), and cutting the finished reply
into sentences, each with the markers that cite it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.core.text import CITATION_MARKER, marker_numbers, split_sentences

__all__ = ["MarkerStream", "ReplySentence", "split_reply"]

#: markers written after a sentence's full stop ("… hours. [2] Then …") cite that sentence.
_LEADING_MARKERS = re.compile(r"(?:\s*" + CITATION_MARKER.pattern + r")+\s*", re.IGNORECASE)


class MarkerStream:
    """Filters streamed text: markers to no passage are dropped, the rest renumbered as
    the final answer numbers them. `feed` each piece and hand on what it returns; `flush`
    at the end."""

    def __init__(self, n_passages: int) -> None:
        self.n = n_passages
        self.numbers: dict[int, int] = {}  # passage number -> citation number
        self.held = ""
        self.started = False

    def _render(self, marker: str) -> str:
        match = CITATION_MARKER.fullmatch(marker)
        if not match:
            return marker
        out = ""
        for p in marker_numbers(match.group(1)):
            if 1 <= p <= self.n:
                k = self.numbers.setdefault(p, len(self.numbers) + 1)
                out += f"[{k}]"
        return out

    def feed(self, text: str) -> str:
        """The part of the text so far that is ready to show."""
        self.held += text
        out = ""
        while self.held:
            i = self.held.find("[")
            if i < 0:  # spaces at the end wait: a dropped marker may follow and take them
                body = self.held.rstrip(" \t")
                out, self.held = out + body, self.held[len(body):]
                break
            body = self.held[:i].rstrip(" \t")
            spaces, rest = self.held[len(body):i], self.held[i:]
            out += body
            j = rest.find("]")
            if j < 0:
                if len(rest) > 40 or "\n" in rest:
                    out, self.held = out + spaces + rest[0], rest[1:]
                    continue
                self.held = spaces + rest  # wait for the rest of the marker
                break
            rendered = self._render(rest[:j + 1])
            out += spaces + rendered if rendered else ""
            self.held = rest[j + 1:]
        return self._started(out)

    def _started(self, text: str) -> str:
        if not self.started:
            text = text.lstrip()
            self.started = bool(text)
        return text

    def flush(self) -> str:
        """What is still held back, at the end of the reply."""
        held, self.held = self.held.rstrip(), ""
        return self._started(held)


@dataclass
class ReplySentence:
    """One sentence of a reply, as written (markers included)."""

    text: str
    #: what came before it in the reply (spaces, line breaks).
    sep: str = ""
    #: its markers: (start, end) in `text` and the passage numbers each names.
    markers: list[tuple[int, int, list[int]]] = field(default_factory=list)


def split_reply(text: str) -> list[ReplySentence]:
    """The sentences of a reply (`qa.core.text.split_sentences`), each with the markers that
    follow it; joining `sep + text` of all of them gives back the reply, less the whitespace
    around it."""
    spans: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        lead = _LEADING_MARKERS.match(text, start)
        if spans and lead and lead.end() > start:
            spans[-1] = (spans[-1][0], start + len(lead.group().rstrip()))
            start = lead.end()
            if start >= end:
                continue
        spans.append((start, end))
    out: list[ReplySentence] = []
    last = None
    for start, end in spans:
        body = text[start:end]
        markers = [(m.start(), m.end(), marker_numbers(m.group(1)))
                   for m in CITATION_MARKER.finditer(body)]
        out.append(ReplySentence(body, "" if last is None else text[last:start], markers))
        last = end
    return out
