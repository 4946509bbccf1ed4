"""Split article text into sentences and group whole sentences into chunks (optionally
overlapping)."""

from __future__ import annotations

import itertools
import re

from qa.core.records import Article, Chunk

__all__ = ["CHUNKER_VERSION", "chunk_article", "split_sentences"]

#: Bump when cleaning or chunking changes, so that stored chunks are cut again.
CHUNKER_VERSION = 2  # 2: no title before chunks of articles without a headline

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "lt", "gen", "col", "capt", "sgt", "cpl",
    "maj", "gov", "sen", "rep", "rev", "hon", "pres", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "no", "vs", "etc", "inc", "ltd", "co", "corp",
    "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "mt", "ft", "ave", "fig", "approx", "dept",
    "est", "univ", "adm", "cmdr", "gens", "sens", "reps",
}
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot_end: int) -> bool:
    match = _WORD_BEFORE.search(text, max(0, dot_end - 12), dot_end)
    if not match:
        return False
    word = match.group(1).lower()
    return word in _ABBREVIATIONS or len(word) == 1  # "J. Smith", "U.S." style initials


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text`; paragraph breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for paragraph in re.finditer(r"[^\n]+", text):
        base, p_text = paragraph.start(), paragraph.group()
        cuts = [0]
        for match in _BOUNDARY.finditer(p_text):
            if p_text[match.start()] == "." and _is_abbreviation(p_text, match.start() + 1):
                continue
            cuts.append(match.end())
        cuts.append(len(p_text))
        for s, e in itertools.pairwise(cuts):
            raw = p_text[s:e]
            if raw.strip():
                lead, trail = len(raw) - len(raw.lstrip()), len(raw) - len(raw.rstrip())
                spans.append((base + s + lead, base + e - trail))
    return spans


def chunk_article(article: Article, target_words: int = 120, overlap: int = 0) -> list[Chunk]:
    """Group whole sentences into chunks of about `target_words` words; consecutive chunks
    share `overlap` sentences. `article.text[chunk.start:chunk.end] == chunk.text` always."""
    text = article.text
    sentences = split_sentences(text)
    words = [len(text[s:e].split()) for s, e in sentences]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, count = i, 0
        while j < len(sentences) and (j == i or count + words[j] <= target_words):
            count += words[j]
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        chunks.append(Chunk(f"{article.id}:{len(chunks)}", article.id, start, end,
                            text[start:end], tuple(sentences[i:j])))
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return chunks
