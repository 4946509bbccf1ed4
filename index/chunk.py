"""Split article text into sentences and group whole sentences into chunks (optionally
overlapping)."""

from __future__ import annotations

import re

from qa.core.records import Article, Chunk
from qa.core.text import split_sentences

__all__ = ["CHUNKER_VERSION", "chunk_article", "split_sentences"]

#: Bump when cleaning or chunking changes, so that stored chunks are cut again.
CHUNKER_VERSION = 2  # 2: no title before chunks of articles without a headline
# (Still 2 since long sentences are cut into pieces and a footnote number ends a sentence:
# ordinary text is cut as before, byte for byte on NewsQA, so stored chunks stay; only new or
# changed articles are cut the new way. A bump would re-embed every directory index and make
# every PostgreSQL store refuse new articles until rebuilt.)

#: the longest a chunk's piece of text may be, in characters per word of the target: text
#: without sentence breaks (a lower-case paragraph, a table, a blob) is cut so that no chunk
#: outgrows what the reader reads and a language model's prompt holds.
_CHARS_PER_WORD = 12
_WORD = re.compile(r"\S+")
#: sentences further apart than this (a run of spaces between them) go to different chunks:
#: a chunk's text spans the gaps between its sentences.
_MAX_GAP = 100


def chunk_article(article: Article, target_words: int = 120, overlap: int = 0) -> list[Chunk]:
    """Group whole sentences into chunks of about `target_words` words; consecutive chunks
    share `overlap` sentences. `article.text[chunk.start:chunk.end] == chunk.text` always."""
    text = article.text
    sentences = [piece for sentence in split_sentences(text)
                 for piece in _pieces(text, sentence, target_words)]
    # (a run of long words counts as the words its length would make)
    words = [max(len(text[s:e].split()), (e - s) // _CHARS_PER_WORD) for s, e in sentences]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, count = i, 0
        while j < len(sentences) and (j == i or (count + words[j] <= target_words
                                      and sentences[j][0] - sentences[j - 1][1] <= _MAX_GAP)):
            count += words[j]
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        chunks.append(Chunk(f"{article.id}:{len(chunks)}", article.id, start, end,
                            text[start:end], tuple(sentences[i:j])))
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return chunks


def _pieces(text: str, span: tuple[int, int], target_words: int) -> list[tuple[int, int]]:
    """`span` of `text` as it is if it is short enough for one chunk, else cut between words
    into pieces of at most `target_words` words and `target_words` x 12 characters (a longer
    word is cut too)."""
    start, end = span
    max_chars = target_words * _CHARS_PER_WORD
    if end - start <= max_chars and len(text[start:end].split()) <= target_words:
        return [span]
    pieces: list[tuple[int, int]] = []
    first, last, count = -1, -1, 0
    for word in _WORD.finditer(text, start, end):
        w_start, w_end = word.span()
        while w_end - w_start > max_chars:  # one "word" longer than a chunk: cut it
            if first >= 0:
                pieces.append((first, last))
            pieces.append((w_start, w_start + max_chars))
            first, w_start = -1, w_start + max_chars
        if first >= 0 and (count == target_words or w_end - first > max_chars):
            pieces.append((first, last))
            first = -1
        if first < 0:
            first, count = w_start, 0
        last, count = w_end, count + 1
    if first >= 0:
        pieces.append((first, last))
    return pieces
