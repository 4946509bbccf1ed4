"""Split article text into sentences and group whole sentences into chunks (optionally
overlapping)."""

from __future__ import annotations

from qa.core.records import Article, Chunk
from qa.core.text import split_sentences

__all__ = ["CHUNKER_VERSION", "chunk_article", "split_sentences"]

#: Bump when cleaning or chunking changes, so that stored chunks are cut again.
CHUNKER_VERSION = 2  # 2: no title before chunks of articles without a headline


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
