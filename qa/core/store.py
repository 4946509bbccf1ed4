"""The store boundary: what the read path (retrieval and the engine) asks of the place where
articles, chunks and their sentence vectors live, so that it never knows which store it has.

A store answers with bounded, ranked lists of ids and loads records by id; nothing here needs
the whole corpus in the reading process. Retrieval (`qa.retrieve`) asks for the three ranked
lists, fuses them, then loads just the chunks and articles it returns:

    dense_chunks(vector, n, where)    chunks ranked by their best sentence vector
    lexical_chunks(question, n, where)   chunks ranked by BM25 over title + chunk text
    lexical_articles(question, n, where) articles ranked by BM25 over title + article text
    chunks(ids) / articles(ids)       the records, in the order asked
    articles_at(paths)                the articles stored from these files or documents
    sentence_similarities(vector, ids)  per chunk, each sentence's inner product with vector

Contract of every ranked list: ids best first, at most `n`, no repeats, only records of
articles that `where` admits (`ArticleFilter.admits`: publisher or file name, publication
date; None admits all). Lexical lists hold only positive scores; their terms come from
`qa.core.text.tokenize` and are scored with Okapi BM25 (k1 1.2, b 0.75, idf
log(1 + (N - df + 0.5) / (df + 0.5)) over the admitted and non-admitted documents alike),
so that two stores rank alike. Ties may be broken in any fixed order.

Stores: `qa.index.directory_store.DirectoryStore` (one index directory: FAISS + JSON lines)
and the PostgreSQL + pgvector store (issue 15).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from qa.core.records import Article, ArticleFilter, Chunk

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ArticleStore", "StoreStats"]


@dataclass(frozen=True)
class StoreStats:
    """What a store holds, and how its vectors were made."""

    articles: int
    chunks: int
    #: sentence vectors (one per chunk sentence, in the chunk's context).
    sentences: int
    #: the embedding model the vectors were made with (its resolved name, as
    #: `qa.index.embed.resolve_model` gives it): questions must be embedded with it too.
    model: str
    dimension: int
    #: the distinct non-empty publishers (`Article.source`), sorted.
    publishers: tuple[str, ...]


@runtime_checkable
class ArticleStore(Protocol):
    """A read-only view of one consistent state of a store, safe to use from many threads."""

    def stats(self) -> StoreStats:
        """Counts, the embedding model and dimension, the publishers."""
        ...

    def dense_chunks(self, vector: np.ndarray, n: int,
                     where: ArticleFilter | None = None) -> list[str]:
        """Up to `n` chunk ids ranked by the inner product of `vector` (a normalised float32
        question vector of `stats().dimension`) with each chunk's best sentence vector.
        Approximate search (HNSW) may be used on large stores; under a filter the store
        may search exactly instead."""
        ...

    def lexical_chunks(self, question: str, n: int,
                       where: ArticleFilter | None = None) -> list[str]:
        """Up to `n` chunk ids with a positive BM25 score of `question` against the chunk's
        article title and text ("title\\ntext"), best first."""
        ...

    def lexical_articles(self, question: str, n: int,
                         where: ArticleFilter | None = None) -> list[str]:
        """Up to `n` article ids with a positive BM25 score of `question` against the whole
        article ("title\\ntext"), best first (retrieval's article prior)."""
        ...

    def sentence_similarities(self, vector: np.ndarray,
                              ids: Sequence[str]) -> list[tuple[float, ...]]:
        """Per chunk id (in the order given), the inner product of `vector` with each of the
        chunk's sentence vectors, exactly, in the order of `Chunk.sentences` (0.0 for a
        sentence without a vector). The answerer weighs them: a passage far from the
        question in meaning is most often from the wrong article, and of two sentences the
        reader rates alike, the closer one is more often the answer."""
        ...

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order given (ids come from this store's ranked
        lists). An unknown id is a `KeyError` in a directory store; a database store leaves
        it out, since a writer may remove a chunk between a search and this call."""
        ...

    def articles(self, ids: Sequence[str]) -> list[Article]:
        """The articles with these ids, in the order given (unknown: as `chunks`)."""
        ...

    def articles_at(self, paths: Collection[str]) -> list[Article]:
        """The articles stored from these paths (`Article.path`: a file, or a document added
        through `qa.vectorstore`), in any order; paths holding none are left out."""
        ...

    def sources(self, names: Collection[str]) -> frozenset[str]:
        """The publishers (`Article.source`) and file names (`Article.name`) of stored
        articles that equal one of `names`, ignoring case, as stored (checks a source
        filter and spells it as the articles do)."""
        ...

    def sample_articles(self, n: int) -> list[Article]:
        """Up to `n` articles in a fixed order (the directory store: the first `n` stored),
        e.g. to make example questions from."""
        ...
