"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by reciprocal rank,
then spread across articles so that one long article does not fill the top results."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from index.build import embedding_text
from index.embed import Embedder
from index.store import StoredIndex
from qa.lexical import BM25
from qa.types import Passage

if TYPE_CHECKING:
    import numpy as np

__all__ = ["HybridRetriever"]

RRF_K = 60


class HybridRetriever:
    """Retrieves `Passage`s from a stored index with dense + lexical search."""

    def __init__(self, index: StoredIndex, embedder: Embedder, candidates: int = 40,
                 per_article: int = 2, lexical_weight: float = 1.0) -> None:
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.per_article = per_article
        self.lexical_weight = lexical_weight
        self.bm25 = BM25([embedding_text(index.articles[c.article_id], c) for c in index.chunks])

    def embed_query(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def retrieve(self, question: str, k: int = 6, query_vector: np.ndarray | None = None,
                 sources: Iterable[str] | None = None) -> list[Passage]:
        """The `k` best passages for `question`, optionally only from the given sources
        (publisher names or file names)."""
        import numpy as np

        chunks = self.index.chunks
        if not chunks:
            return []
        n = min(self.candidates, len(chunks))
        vector = self.embed_query(question) if query_vector is None else query_vector
        _, dense_ids = self.index.faiss.search(vector[None, :].astype(np.float32), n)
        lexical = self.bm25.scores(question)
        lexical_ids = np.argpartition(-lexical, n - 1)[:n] if n < len(lexical) else \
            np.arange(len(lexical))
        lexical_ids = lexical_ids[np.argsort(-lexical[lexical_ids])]

        fused: dict[int, float] = {}
        for rank, row in enumerate(int(i) for i in dense_ids[0] if i >= 0):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, row in enumerate(int(i) for i in lexical_ids if lexical[i] > 0):
            fused[row] = fused.get(row, 0.0) + self.lexical_weight / (RRF_K + rank + 1)

        allowed = set(sources) if sources else None
        order = sorted(fused, key=fused.__getitem__, reverse=True)
        chosen: list[int] = []
        deferred: list[int] = []
        per_article: dict[str, int] = {}
        for row in order:
            article = self.index.articles[chunks[row].article_id]
            if allowed is not None and not ({article.source, article.name} & allowed):
                continue
            count = per_article.get(article.id, 0)
            (chosen if count < self.per_article else deferred).append(row)
            per_article[article.id] = count + 1
        chosen = (chosen + deferred)[:k]
        return [Passage(chunks[row], self.index.articles[chunks[row].article_id], fused[row],
                        rank) for rank, row in enumerate(chosen, 1)]
