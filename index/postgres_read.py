"""The PostgreSQL store's read side: `qa.core.store.ArticleStore` answered by SQL.

Nothing of the corpus is held by the reading process: each ranked list is one query
(dense: the HNSW index over sentence vectors; lexical: BM25 summed over each question term's
postings of highest impact, with N and average lengths from `corpus_stats`), and records are
loaded by id. A new article is seen by the next question (its transaction has committed); the only
per-process state is the list of publishers, refreshed whenever `corpus_stats.generation`
moves. Any number of processes can read one database.

Connections are kept in a small pool; one that fails is dropped, and the question that met
the failure gets a `StoreUnavailableError` naming the host and port (never the password).
The next question connects afresh, so answers resume once the database is back; a pooled
connection the database cut off while it was idle (a restart, a failover) is not a failure:
the question is asked again at once on a new connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from qa.index.postgres_schema import (
    connect,
    describe_url,
    impact,
    read_meta,
    refused,
    require_psycopg,
    unavailable,
)

from qa.core.errors import IndexMismatchError, StoreUnavailableError
from qa.core.records import Article, ArticleFilter, Chunk
from qa.core.store import StoreStats
from qa.core.text import tokenize
from qa.core.urls import redact

if TYPE_CHECKING:
    import numpy as np
    import psycopg

__all__ = ["PostgresStore", "open_postgres_store"]

#: sentences drawn per chunk wanted (as the directory store): a chunk's best sentences often
#: come together.
SENTENCES_PER_CHUNK = 4
#: HNSW candidate list: at least the sentences asked for (pgvector returns at most this many).
MIN_EF_SEARCH = 100
#: pgvector's largest hnsw.ef_search (more candidates are then read by the iterative scan).
MAX_EF_SEARCH = 1000
#: while writers add articles, the list of publishers (a scan of every article) is read
#: again at most this often; the counts are always current.
PUBLISHERS_SECONDS = 30.0
#: idle connections kept per process.
_POOL = 8
#: the longest one read may take (behind a writer's lock, or a bad plan): that question then
#: gets a clear error instead of holding a serving thread for as long as the lock is held.
QUERY_SECONDS = 30

_ADMITS = """(%(sources)s::text[] IS NULL OR a.source = ANY(%(sources)s)
              OR a.name = ANY(%(sources)s))
         AND (%(since)s::date IS NULL OR a.published_on >= %(since)s)
         AND (%(until)s::date IS NULL OR a.published_on <= %(until)s)"""

_DENSE = """SELECT s.chunk_id FROM sentences s {join}
WHERE s.embedding IS NOT NULL {admits}
ORDER BY s.embedding <#> %(vector)s::halfvec LIMIT %(limit)s"""

#: Okapi BM25 (k1 1.2, b 0.75) over postings `{terms}` (term, {key}, tf, words) of the
#: question's distinct terms; N and the total length from corpus_stats columns `{n}`, `{words}`.
#: Each term contributes its `%(per_term)s` postings of highest impact (the impact index, in
#: order): exact while no term is in more chunks than that, and the cost stays bounded as the
#: corpus grows (common terms weigh little). Filters apply while a term's postings are read.
_BM25 = """WITH q(term) AS (SELECT unnest(%(terms)s::text[])),
df AS MATERIALIZED (SELECT q.term, (SELECT count(*) FROM {terms} p WHERE p.term = q.term
                                    )::float8 AS df FROM q),
st AS (SELECT {n}::float8 AS n, greatest({words}::float8 / greatest({n}, 1), 1e-9) AS avgdl
       FROM corpus_stats),
hit AS (SELECT df.df, best.* FROM df CROSS JOIN LATERAL (
            SELECT p.{key} AS id, p.tf, p.words FROM {terms} p {join}
            WHERE p.term = df.term {admits}
            ORDER BY {impact} DESC LIMIT %(per_term)s) best)
SELECT hit.id FROM hit CROSS JOIN st
GROUP BY hit.id
ORDER BY sum(ln(1 + (st.n - hit.df + 0.5) / (hit.df + 0.5)) * hit.tf * 2.2
             / (hit.tf + 1.2 * (0.25 + 0.75 * hit.words / st.avgdl))) DESC, hit.id
LIMIT %(limit)s"""
#: postings read per question term. 1 M sentence vectors (NewsQA 61 times, 196,000 chunks):
#: 24 ms p50 against 690 ms reading them all, the same 3 best distinct chunks 99.2% of the
#: time (10,000: 18 ms, 97.5%). NewsQA once has no term in more than 1,047 chunks.
POSTINGS_PER_TERM = 20_000
#: distinct question terms searched (a question has a dozen; a pasted paragraph hundreds).
MAX_QUERY_TERMS = 32

#: the columns `article_of` reads, in its order.
ARTICLE_COLUMNS = ("id, path, title, text, source, author, published, url, section, "
                    "captions, content_hash")


def open_postgres_store(url: str, model: str | None = None) -> PostgresStore:
    """The store in the database at `url`. Raises `StoreUnavailableError` (unreachable),
    `IndexNotFoundError` (no store there yet) or `IndexMismatchError` (a newer schema, or
    vectors of another model than `model`)."""
    return PostgresStore(url, model)


class PostgresStore:
    """`ArticleStore` over one PostgreSQL database (see the module doc)."""

    def __init__(self, url: str, model: str | None = None) -> None:
        from qa.index.embed import resolve_model

        require_psycopg()
        self.url = url
        #: where the store is, without the password (for messages and status lines).
        self.where = describe_url(url)
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        #: the publishers as of a store generation, and when they were read.
        self._publishers: tuple[int, tuple[str, ...], float] = (-1, (), -PUBLISHERS_SECONDS)
        with self._connection() as connection:
            meta = read_meta(connection, self.where)
            version = connection.execute("SELECT extversion FROM pg_extension "
                                         "WHERE extname = 'vector'").fetchone()
        #: pgvector 0.8 keeps scanning the HNSW index until a filter has admitted enough
        #: rows (iterative scans); 0.7 (halfvec's first version) may return fewer then.
        self._scan_settings = {"hnsw.iterative_scan": "strict_order"} \
            if version and _version(version[0]) >= (0, 8) else {}
        self.model, self.dimension = meta["model"], int(meta["dimension"])
        if model is not None and resolve_model(model)[0] != resolve_model(self.model)[0]:
            raise IndexMismatchError(
                f"The PostgreSQL store at {self.where} holds vectors of model {self.model!r}, "
                f"not {resolve_model(model)[0]!r}; ask with --model {self.model} or "
                f"rebuild it: qa index PATH... --rebuild --store URL --model {model}")

    @contextlib.contextmanager
    def _connection(self, pooled: bool = True) -> Iterator[psycopg.Connection]:
        """A pooled connection (or a new one, unless `pooled`); a failure of the database
        drops it and becomes `StoreUnavailableError`, or `_StaleConnection` when a pooled one
        had been cut off while idle."""
        import psycopg

        with self._lock:
            connection = self._idle.pop() if self._idle and pooled else None
        pooled = connection is not None
        if connection is None:
            connection = connect(self.url, autocommit=True)
            connection.execute("SELECT set_config('statement_timeout', %s, false)",
                               (f"{QUERY_SECONDS * 1000:.0f}",))
        try:
            yield connection
        except psycopg.errors.QueryCanceled as exc:  # this query only: the database is there
            connection.close()
            raise StoreUnavailableError(
                f"The PostgreSQL store at {self.where} cancelled the query: "
                f"{redact(str(exc).splitlines()[0], self.url)[:160]}") from None
        except psycopg.errors.InsufficientPrivilege as exc:  # this user's rights: say which
            connection.close()
            raise refused(self.url, exc) from None
        except psycopg.errors.DataException as exc:  # vectors of another size: rebuilt?
            connection.close()
            with connect(self.url, autocommit=True) as fresh:
                model = read_meta(fresh, self.where)["model"]
            if model == self.model:
                raise StoreUnavailableError(
                    f"The PostgreSQL store at {self.where} refused the question's data: "
                    f"{redact(str(exc).splitlines()[0], self.url)[:160]}") from None
            raise self._rebuilt(model) from None
        except psycopg.OperationalError as exc:
            connection.close()
            with self._lock:  # the others were most likely cut off too (a restart)
                stale, self._idle = self._idle, []
            for other in stale:
                other.close()
            if pooled:  # cut off while idle (a restart, a failover): worth one new try
                raise _StaleConnection from None
            raise unavailable(self.url, exc) from None
        except BaseException:
            connection.close()
            raise
        with self._lock:
            if len(self._idle) < _POOL and not connection.closed:
                self._idle.append(connection)
                return
        connection.close()

    def _rebuilt(self, model: str) -> IndexMismatchError:
        return IndexMismatchError(
            f"The PostgreSQL store at {self.where} was rebuilt with model {model!r} since it "
            f"was opened with {self.model!r}: ask again (`QA` and `qa serve` open it afresh "
            f"within seconds, unless given --model {self.model}).")

    def _rows(self, sql: str, params: dict[str, Any] | tuple = (),
              settings: dict[str, str] | None = None) -> list[tuple]:
        try:
            return self._read(sql, params, settings, pooled=True)
        except _StaleConnection:  # cut off while idle (a restart): once more, on a new one
            return self._read(sql, params, settings, pooled=False)  # (reads: safe to repeat)

    def _read(self, sql: str, params: dict[str, Any] | tuple, settings: dict[str, str] | None,
              pooled: bool) -> list[tuple]:
        with self._connection(pooled) as connection, connection.transaction():
            for name, value in (settings or {}).items():
                connection.execute("SELECT set_config(%s, %s, true)", (name, value))
            return connection.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the idle connections (the store can still be used: it reconnects)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # -- ArticleStore -----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        """The counts now. Raises `IndexMismatchError` once the store has been rebuilt with
        another embedding model than the one it was opened with (its vectors would no longer
        compare with this process's questions): open it again."""
        articles, chunks, sentences, generation, model = self._rows(
            "SELECT articles, chunks, sentences, generation, (SELECT value FROM store_meta "
            "WHERE key = 'model') FROM corpus_stats")[0]
        if model != self.model:
            raise self._rebuilt(model)
        seen, publishers, read_at = self._publishers
        if seen != generation and time.monotonic() - read_at >= PUBLISHERS_SECONDS:
            publishers = tuple(row[0] for row in self._rows(
                "SELECT DISTINCT source FROM articles WHERE source <> '' ORDER BY 1"))
            self._publishers = (generation, publishers, time.monotonic())
        return StoreStats(articles, chunks, sentences, self.model, self.dimension,
                          publishers)

    def dense_chunks(self, vector: np.ndarray, n: int,
                     where: ArticleFilter | None = None) -> list[str]:
        """Chunks by their best sentence among the HNSW index's top `SENTENCES_PER_CHUNK * n`
        sentences (under a filter, an iterative index scan keeps looking until enough
        admitted sentences are found)."""
        from pgvector import HalfVector

        limit = n * SENTENCES_PER_CHUNK
        join = "JOIN chunks c ON c.id = s.chunk_id JOIN articles a ON a.id = c.article_id" \
            if where is not None else ""
        sql = _DENSE.format(join=join, admits=f"AND {_ADMITS}" if where is not None else "")
        rows = self._rows(sql, {"vector": HalfVector(vector), "limit": limit, **_filter(where)},
                          {"hnsw.ef_search": str(min(MAX_EF_SEARCH, max(MIN_EF_SEARCH, limit))),
                           **(self._scan_settings if where is not None else {})})
        return list(dict.fromkeys(row[0] for row in rows))[:n]

    def lexical_chunks(self, question: str, n: int,
                       where: ArticleFilter | None = None) -> list[str]:
        join = "JOIN chunks c ON c.id = p.chunk_id JOIN articles a ON a.id = c.article_id" \
            if where is not None else ""
        return self._bm25("chunk_terms", "chunk_id", "chunks", "chunk_words", join,
                          question, n, where)

    def lexical_articles(self, question: str, n: int,
                         where: ArticleFilter | None = None) -> list[str]:
        join = "JOIN articles a ON a.id = p.article_id" if where is not None else ""
        return self._bm25("article_terms", "article_id", "articles", "article_words", join,
                          question, n, where)

    def _bm25(self, terms: str, key: str, n_column: str, words_column: str, join: str,
              question: str, n: int, where: ArticleFilter | None) -> list[str]:
        """The `n` best ids by BM25 (all SQL names here are constants of this module)."""
        # (a question's first distinct terms: each costs a scan of its postings)
        query_terms = sorted(list(dict.fromkeys(tokenize(question)))[:MAX_QUERY_TERMS])
        if not query_terms:
            return []
        sql = _BM25.format(terms=terms, key=key, n=n_column, words=words_column, join=join,
                           admits=f"AND {_ADMITS}" if where is not None else "",
                           impact=impact(terms, "p"))
        rows = self._rows(sql, {"terms": query_terms, "limit": n,
                                "per_term": POSTINGS_PER_TERM, **_filter(where)})
        return [row[0] for row in rows]

    def sentence_similarities(self, vector: np.ndarray,
                              ids: Sequence[str]) -> list[tuple[float, ...]]:
        from pgvector import HalfVector

        rows = self._rows(
            "SELECT chunk_id, array_agg(coalesce(-(embedding <#> %(vector)s::halfvec), 0) "
            "ORDER BY i) FROM sentences WHERE chunk_id = ANY(%(ids)s) GROUP BY chunk_id",
            {"vector": HalfVector(vector), "ids": list(ids)})
        found = dict(rows)
        return [tuple(float(x) for x in found.get(i, ())) for i in ids]

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        rows = self._rows(
            "SELECT c.id, c.article_id, c.start_offset, c.end_offset, c.text, "
            "coalesce(s.starts, '{}'), coalesce(s.ends, '{}') FROM chunks c "
            "LEFT JOIN LATERAL (SELECT array_agg(start_offset ORDER BY i) AS starts, "
            "array_agg(end_offset ORDER BY i) AS ends FROM sentences WHERE chunk_id = c.id) s "
            "ON true WHERE c.id = ANY(%s)", (list(ids),))
        found = {row[0]: Chunk(row[0], row[1], row[2], row[3], row[4],
                               tuple(zip(row[5], row[6]))) for row in rows}
        return [found[i] for i in ids if i in found]  # a writer may have removed some

    def articles(self, ids: Sequence[str]) -> list[Article]:
        rows = self._rows(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ANY(%s)",
                          (list(ids),))
        found = {row[0]: article_of(row) for row in rows}
        return [found[i] for i in ids if i in found]  # a writer may have removed some

    def articles_at(self, paths: Collection[str]) -> list[Article]:
        rows = self._rows(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE path = ANY(%s)",
                          (list(paths),))
        return [article_of(row) for row in rows]

    def sources(self, names: Collection[str]) -> frozenset[str]:
        # as spelled, or in lower case as the database lowers it (which may differ from
        # Python's for some letters: a name spelled as stored always matches)
        given = list(names)
        wanted = [n.lower() for n in given]
        rows = self._rows("SELECT source FROM articles WHERE source = ANY(%(g)s) "
                          "OR lower(source) = ANY(%(n)s) UNION "
                          "SELECT name FROM articles WHERE name = ANY(%(g)s) "
                          "OR lower(name) = ANY(%(n)s)", {"g": given, "n": wanted})
        return frozenset(row[0] for row in rows)

    def sample_articles(self, n: int) -> list[Article]:
        rows = self._rows(f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY added_at, id "
                          "LIMIT %s", (n,))
        return [article_of(row) for row in rows]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def _filter(where: ArticleFilter | None) -> dict[str, Any]:
    if where is None:
        return {}
    return {"sources": sorted(where.sources) or None, "since": where.since,
            "until": where.until}


class _StaleConnection(Exception):
    """A pooled connection that the database had closed while it was idle."""


def article_of(row: tuple) -> Article:
    """The `Article` of a row of `ARTICLE_COLUMNS`."""
    return Article(id=row[0], path=row[1], title=row[2], text=row[3], source=row[4],
                   author=row[5], published=row[6], url=row[7], section=row[8],
                   captions=tuple(row[9]), content_hash=row[10])
