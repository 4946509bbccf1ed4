"""The directory store: `qa.core.store.ArticleStore` over one loaded index generation.

Dense search is the generation's own FAISS index (`sentences.faiss`); lexical search is BM25
over the chunks and the articles, built when the store opens (it is derived from the text)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.index.store import StoredIndex, open_index

from qa.core.records import Article, ArticleFilter, Chunk
from qa.core.store import StoreStats
from qa.lexical import BM25

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DirectoryStore", "open_store"]

#: sentences drawn per chunk wanted: a chunk's best sentences often come together.
SENTENCES_PER_CHUNK = 4
#: sentence vectors scored at a time in an exact (filtered) search.
_SLICE = 65536


def open_store(index_dir: str | Path, model: str | None = None) -> DirectoryStore:
    """The store of the index at `index_dir` (see `qa.index.store.open_index` for its
    errors; with `model`, insist that the index was built with it)."""
    return DirectoryStore(open_index(index_dir, model))


class DirectoryStore:
    """Search and lookups over one index generation held in memory (see the module doc)."""

    def __init__(self, index: StoredIndex) -> None:
        import numpy as np

        self.index = index
        chunks, articles = index.chunks, index.articles
        self._chunk_ids = [c.id for c in chunks]
        self._chunk_by_id = {c.id: c for c in chunks}
        self._article_ids = list(articles)
        position = {article_id: i for i, article_id in enumerate(self._article_ids)}
        #: per chunk row, its article's position; per sentence vector, its chunk row.
        self._chunk_article = np.array([position[c.article_id] for c in chunks], dtype=np.int64)
        sentences = [len(c.sentences) for c in chunks]
        self._sentence_chunk = np.repeat(np.arange(len(chunks)), sentences)
        #: per chunk id, the rows of its sentence vectors.
        first = np.cumsum([0, *sentences])
        self._sentence_rows = {c.id: range(first[i], first[i + 1]) for i, c in enumerate(chunks)}
        self._chunk_bm25 = BM25([f"{articles[c.article_id].title}\n{c.text}" for c in chunks])
        self._article_bm25 = BM25([f"{a.title}\n{a.text}" for a in articles.values()])
        #: per filter, which articles it admits (a few filters recur: cache them).
        self._admits = lru_cache(maxsize=64)(self._article_mask)
        self._stats = StoreStats(len(articles), len(chunks), int(index.sentences.ntotal),
                                 index.model, int(index.manifest["dimension"]),
                                 tuple(sorted({a.source for a in articles.values() if a.source})))

    def stats(self) -> StoreStats:
        return self._stats

    def dense_chunks(self, vector: np.ndarray, n: int,
                     where: ArticleFilter | None = None) -> list[str]:
        """Chunks by their best sentence: the FAISS index's top `SENTENCES_PER_CHUNK * n`
        sentences; under a filter, every admitted sentence scored exactly."""
        import numpy as np

        if where is None:
            _, ids = self.index.sentences.search(vector[None, :].astype(np.float32),
                                                 n * SENTENCES_PER_CHUNK)
            owners = self._sentence_chunk[ids[0][ids[0] >= 0]]
        else:
            rows = np.flatnonzero(self._admitted(where)[self._sentence_chunk])
            similarity = self._similarity(vector, rows)
            owners = self._sentence_chunk[rows[np.argsort(-similarity)]]
        _, first = np.unique(owners, return_index=True)
        return [self._chunk_ids[row] for row in owners[np.sort(first)][:n]]

    def lexical_chunks(self, question: str, n: int,
                       where: ArticleFilter | None = None) -> list[str]:
        import numpy as np

        scores = self._chunk_bm25.scores(question)
        if where is not None:
            scores = np.where(self._admitted(where), scores, 0.0)
        return [self._chunk_ids[row] for row in _top(scores, n)]

    def lexical_articles(self, question: str, n: int,
                         where: ArticleFilter | None = None) -> list[str]:
        import numpy as np

        scores = self._article_bm25.scores(question)
        if where is not None:
            scores = np.where(self._admits(where), scores, 0.0)
        top = np.argsort(-scores)[:n]
        return [self._article_ids[i] for i in top[scores[top] > 0]]

    def sentence_similarities(self, vector: np.ndarray,
                              ids: Sequence[str]) -> list[tuple[float, ...]]:
        import numpy as np

        vector = vector.astype(np.float32)
        rows = [np.array(self._sentence_rows[i], dtype=np.int64) for i in ids]
        return [tuple(float(x) for x in self._similarity(vector, r)) for r in rows]

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        return [self._chunk_by_id[i] for i in ids]

    def articles(self, ids: Sequence[str]) -> list[Article]:
        return [self.index.articles[i] for i in ids]

    def articles_at(self, paths: Collection[str]) -> list[Article]:
        wanted = set(paths)
        return [a for a in self.index.articles.values() if a.path in wanted]

    def sources(self, names: Collection[str]) -> frozenset[str]:
        wanted = {n.lower() for n in names}
        return frozenset(name for a in self.index.articles.values()
                         for name in (a.source, a.name) if name and name.lower() in wanted)

    def sample_articles(self, n: int) -> list[Article]:
        return list(self.index.articles.values())[:n]

    def _article_mask(self, where: ArticleFilter) -> np.ndarray:
        """Per article (in stored order), whether `where` admits it."""
        import numpy as np

        return np.array([where.admits(a) for a in self.index.articles.values()], dtype=bool)

    def _admitted(self, where: ArticleFilter) -> np.ndarray:
        """Per chunk row, whether `where` admits its article."""
        return self._admits(where)[self._chunk_article]

    def _similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of `vector` with the sentence vectors in `rows`."""
        import numpy as np

        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), _SLICE):
            part = rows[start:start + _SLICE]
            out[start:start + len(part)] = self.index.sentences.reconstruct_batch(part) @ vector
        return out


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """The rows of the `n` highest positive `scores`, best first."""
    import numpy as np

    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top])]
    return top[scores[top] > 0]
