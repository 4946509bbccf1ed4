"""Either store as a LangChain `VectorStore` (`QA.as_vectorstore()`).

`similarity_search` is the product's own retrieval (dense sentence vectors + BM25, fused,
spread across articles), so a LangChain chain gets the passages `qa ask` would cite, each a
`Document` with its article and exact character offsets; `sources`, `since`, `until` (or
`filter={"source": ...}`) filter, and relevance scores are the cosine of the query with the
passage's closest sentence; `max_marginal_relevance_search` (`as_retriever(search_type="mmr")`)
picks varied passages among them; a passage found carries the id of its document (in the
directory store, the article id for an id that cannot be a file name as it is, such as one with
capitals: `get_by_ids` and `delete` take either). `add_documents`/
`add_texts` index each document as one article (metadata `title`, `source`, `author`,
`published`/`published_at`, `url`, `section`, as text, a date or a list of texts; other keys
are not kept). A document keeps the id it is given, and adding another text under that id
replaces it (what LangChain's `index()` relies on); without one, its id is the article id
(from its content hash), so adding the same text twice stores it once. `delete(ids)` removes
documents by those ids.

Why not `langchain-postgres` (`PGVector`, `PGVectorStore`): both keep one embedding per
document row, next to its text, in tables of their own. Our vectors are one per sentence
(halfvec, embedded in the chunk's context) pointing at exact character offsets of a chunk
whose text lives in `chunks`, and retrieval fuses them with BM25 postings; mapping that onto
their one-row-per-document schema would store the corpus twice and search it without the
lexical half or the article spread. So the PostgreSQL side is plain SQL in
`qa.index.postgres*`, and this adapter serves both stores through `QA`.

The directory store is built from files: documents are written as JSON files to
`<index_dir>/documents/` (named by their article id, or `doc-ID.json` when added under an
id: the id is then part of the article's identity, so the same text under two ids is two
documents) and indexed from there (deleting one deletes its file
and re-indexes that folder). In both stores, articles indexed from the user's own files are
deleted by deleting the file, never through `delete`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from qa.chain import passage_document
from qa.core.errors import InputError
from qa.core.records import DOCUMENT_PREFIX
from qa.core.text import BIDI_CONTROLS, CONTROL_CHARS, storable
from qa.index.generations import DOCUMENTS
from qa.inputs import whole_number

if TYPE_CHECKING:
    from qa.core.records import Article, Passage
    from qa.core.store import ArticleStore
    from qa.engine import QA

__all__ = ["ArticleVectorStore"]


class ArticleVectorStore(VectorStore):
    """A `QA`'s index (directory or PostgreSQL) as a LangChain vector store."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa

    @property
    def embeddings(self) -> Embeddings:
        """The index's own embedding model, which questions are embedded with."""
        return _IndexEmbeddings(self.qa)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4,
                                    **kwargs: Any) -> list[Document]:
        """Not offered: the search reads the query's words too (BM25), not only its vector."""
        raise InputError("Searching by a vector alone is not offered: the search reads the "
                         "query's words too; use similarity_search(text).")

    def max_marginal_relevance_search_by_vector(self, embedding: list[float], k: int = 4,
                                                fetch_k: int = 20, lambda_mult: float = 0.5,
                                                **kwargs: Any) -> list[Document]:
        """Not offered, as `similarity_search_by_vector`."""
        return self.similarity_search_by_vector(embedding, k)

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int | None = None,
                                      lambda_mult: float = 0.5,
                                      **kwargs: Any) -> list[Document]:
        """`k` of the `fetch_k` (by default 20, or `k` if more) passages `QA.retrieve` finds,
        chosen for relevance to `query` and difference from each other (`lambda_mult` 1:
        relevance only, 0: difference only); filters as `similarity_search`."""
        if isinstance(lambda_mult, bool) or not isinstance(lambda_mult, int | float) \
                or not 0 <= lambda_mult <= 1:
            raise InputError(f"lambda_mult must be a number from 0 to 1, not {lambda_mult!r:.40}.")
        most = self.qa.settings.max_k
        if fetch_k is None:
            wanted = whole_number(k, 1, most)
            fetch_k = min(max(20, wanted or 0), most)
        if (fetched := whole_number(fetch_k, 1, most)) is None:
            raise InputError(f"fetch_k must be a whole number from 1 to {most}, "
                             f"not {fetch_k!r:.40}.")
        if (wanted := whole_number(k, 1, fetched)) is None:
            raise InputError(f"k must be a whole number from 1 to fetch_k ({fetched}), "
                             f"not {k!r:.40}.")
        passages = self._passages(query, fetched, kwargs)
        if not passages:
            return []
        # relevance as the relevance scores report it (the cosine of the query with the
        # passage's closest sentence), likeness between passages on the same scale
        relevance = [p.similarity for p in passages]
        vectors = self.qa.embed([p.chunk.text for p in passages])
        likeness = vectors @ vectors.T
        chosen = [max(range(len(passages)), key=relevance.__getitem__)]  # the most relevant
        while len(chosen) < min(wanted, len(passages)):
            chosen.append(max(
                (i for i in range(len(passages)) if i not in chosen),
                key=lambda i: lambda_mult * relevance[i]
                - (1 - lambda_mult) * max(float(likeness[i, j]) for j in chosen)))
        return [self._hit(passages[i]) for i in chosen]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The `k` passages `QA.retrieve` finds; `sources`, `since`, `until` (or LangChain's
        `filter={"source": ..., "since": ..., "until": ...}`) filter."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        """The passages with their fused retrieval score (higher is better)."""
        return [(self._hit(p), p.score) for p in self._passages(query, k, kwargs)]

    def _similarity_search_with_relevance_scores(self, query: str, k: int = 4,
                                                 **kwargs: Any) -> list[tuple[Document, float]]:
        # relevance 0-1: the cosine of the query with the passage's closest sentence
        return [(self._hit(p), min(max(p.similarity, 0.0), 1.0))
                for p in self._passages(query, k, kwargs)]

    def _passages(self, query: str, k: int, kwargs: dict[str, Any]) -> list[Passage]:
        return self.qa.retrieve(query, k, **_filters(kwargs))

    def _hit(self, passage: Passage) -> Document:
        """A passage found, as a `Document` whose id is its document's, as `add_texts`
        returned it (so that `get_by_ids` and `delete` take it; the chunk's id is in the
        metadata)."""
        return passage_document(passage, self._document_id(passage.article))

    def _document_id(self, article: Article) -> str:
        """The id `article` was added under (an article id when it was added without one,
        or its id is not part of its file name), else its article id."""
        if article.path.startswith(DOCUMENT_PREFIX):  # (a database store)
            return article.path[len(DOCUMENT_PREFIX):]
        path = Path(article.path)
        if path.parent == self._documents_dir() and path.stem.startswith(_PLAIN_PREFIX):
            return path.stem[len(_PLAIN_PREFIX):]
        return article.id

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Index each document as an article (see `add_texts`); a document's `id` is kept."""
        if isinstance(documents, Document) or not isinstance(documents, list | tuple) or \
                not all(isinstance(d, Document) for d in documents):
            raise InputError("documents must be a list of LangChain Documents.")
        return super().add_documents(list(documents), **kwargs)

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str | None] | None = None, **kwargs: Any) -> list[str]:
        """Index each text as an article; returns the documents' ids: those given in `ids`,
        else the article ids (from the content, so the same text added twice is stored
        once). Adding a text under an id that already names a document replaces it.
        Metadata never replaces the text; only `title`, `source`, `author`, `published`/
        `published_at`, `url` and `section` are kept. Everything is checked before anything
        is written: a bad text, metadata or id is an `InputError`."""
        from qa.index.load import BODY_FIELDS

        if isinstance(texts, str | bytes):
            raise InputError("texts must be a list of texts, not one text.")
        texts = list(texts)
        metadatas = [{} for _ in texts] if metadatas is None else metadatas
        if not isinstance(metadatas, list | tuple) or len(metadatas) != len(texts) or \
                not all(m is None or isinstance(m, dict) for m in metadatas):
            raise InputError("metadatas must hold one dict per text.")
        doc_ids = _document_ids(ids, len(texts))
        empty = [n for n, text in enumerate(texts, 1)
                 if not isinstance(text, str) or not _VISIBLE.search(text)]
        if empty:  # before anything is written
            raise InputError(f"texts must be text, not empty: text {empty[0]} is not.")
        for n, m in enumerate(metadatas, 1):  # NaN would be written as "NaN", not JSON
            for key, value in (m or {}).items():
                if not isinstance(key, str):
                    raise InputError(f"metadata keys must be text: text {n} has {key!r:.40}.")
                if isinstance(value, float) and not math.isfinite(value):
                    raise InputError(f"metadata {key!r} of text {n} is {value}, not a finite "
                                     "number.")
        objects = [{**{k: kept for k, v in (m or {}).items()
                       if k not in BODY_FIELDS and (kept := _kept_value(v)) is not None},
                    "text": storable(text)} for text, m in zip(texts, metadatas)]
        payloads = [json.dumps(obj, ensure_ascii=False, sort_keys=True) for obj in objects]
        limit = self.qa.settings.max_file_bytes
        for n, payload in enumerate(payloads, 1):
            if len(payload.encode()) > limit:
                raise InputError(f"text {n} is {len(payload.encode()) / 1e6:.1f} MB with its "
                                 f"metadata, over the {limit / 1e6:.1f} MB limit for one "
                                 "article (QA_MAX_FILE_MB).")
        articles = _cleaned(objects)
        named = [a.id if doc_id is None else doc_id for a, doc_id in zip(articles, doc_ids)]
        if self.qa.settings.store:
            from dataclasses import replace

            from qa.index.ingest import keyed_document
            from qa.index.postgres import write_articles

            write_articles(self.qa.settings.store, [
                replace(a if doc_id is None else keyed_document(a, _stem(doc_id)),
                        path=f"{DOCUMENT_PREFIX}{name}")
                for a, doc_id, name in zip(articles, doc_ids, named)], self.qa.settings)
        else:
            folder = self._documents_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for payload, doc_id, name in zip(payloads, doc_ids, named):  # one id, one file
                stem = name if doc_id is None else _stem(doc_id)
                (folder / f"{stem}.json").write_text(payload, encoding="utf-8")
                if doc_id is None:  # its article id, if a document was added under it: replaced
                    (folder / f"{_stem(name)}.json").unlink(missing_ok=True)
                elif _ARTICLE_ID.fullmatch(doc_id):  # an id returned for a document added
                    # without one names that document's file: replaced
                    (folder / f"{doc_id}.json").unlink(missing_ok=True)
            self.qa.add_files([folder])
        return named

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the documents with these ids (as `add_texts` returned them); True when all
        were found and deleted. Articles indexed from files are deleted by deleting their
        file."""
        if not ids:
            return None
        found = self._documents(_checked(ids))
        folder = self._documents_dir()
        # (a document file of an older version is named after its payload's hash, not its id)
        from_files = {i: a for i, a in found.items() if not (
            a.path.startswith(DOCUMENT_PREFIX) or Path(a.path).parent == folder)}
        copies = self._copies(from_files)  # added as documents too: those copies go
        outside = [a.path for i, a in from_files.items() if i not in copies]
        if outside:
            raise InputError(f"Articles indexed from files are deleted by deleting the file "
                             f"and indexing its folder again: {', '.join(outside[:3])}")
        found = {i: a for i, a in found.items() if i not in from_files}
        if self.qa.settings.store:
            from qa.index.postgres import delete_articles

            delete_articles(self.qa.settings.store, [a.id for a in found.values()],
                            self.qa.settings, copies=list(copies.values()))
            return len(found) + len(copies) == len(set(ids))
        if len({a.id for a in found.values()}) >= self.qa.stats.articles:
            raise InputError("These are all the index's articles, and an index directory "
                             "cannot be empty: delete the directory instead.")
        for copy in copies.values():  # the file's article stays, from the file
            Path(copy).unlink(missing_ok=True)
        left, gone, copied = list(found.values()), set(), bool(copies)
        while left or copied:  # another document file holding the same article brings it back
            for article in left:
                Path(article.path).unlink(missing_ok=True)
                gone.add(article.path)
            self.qa.add_files([folder])
            copied = False
            left = [a for a in self._articles([a.id for a in found.values()])
                    if Path(a.path).parent == folder and a.path not in gone]
        return len(found) + len(copies) == len(set(ids))

    def _copies(self, articles: dict[str, Article]) -> dict[str, str]:
        """Of `articles` (by document id), stored from a user's file, those also added as a
        document: where each document's copy is (its path in the store's terms)."""
        if self.qa.settings.store:
            from qa.index.postgres import recorded_copies

            paths = {f"{DOCUMENT_PREFIX}{i}": i for i in articles}
            return {paths[p]: p for p in recorded_copies(self.qa.settings.store, list(paths))}
        folder = self._documents_dir()  # a document added without an id: named by its article
        return {i: str(folder / f"{a.id}.json") for i, a in articles.items()
                if (folder / f"{a.id}.json").is_file()}

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents (whole articles) with these ids, as `add_texts` returned them, or
        article ids; unknown ids are left out."""
        return [Document(page_content=a.text, id=doc_id, metadata={
            "title": a.title, "source": a.source, "author": a.author, "published": a.published,
            "url": a.url, "path": a.path, "article_id": a.id})
            for doc_id, a in self._documents(_checked(ids)).items()]

    def _documents(self, ids: list[str]) -> dict[str, Article]:
        """The stored article of each id among `ids`: the document added under it, else the
        article with that id (unknown ids are left out); `ids` checked by the caller."""
        paths = {self._document_path(i): i for i in ids}
        by_id = {paths[a.path]: a for a in self.qa.store.articles_at(list(paths))}
        if not self.qa.settings.store and any(
                i not in by_id and Path(path).is_file() for path, i in paths.items()):
            # its file is there but indexed under another path: the index directory was
            # moved or copied since; indexing the folder again points its articles here
            self.qa.add_files([self._documents_dir()])
            by_id = {paths[a.path]: a for a in self.qa.store.articles_at(list(paths))}
        rest = {a.id: a for a in self._articles([i for i in ids if i not in by_id])}
        return {i: by_id.get(i) or rest[i] for i in ids if i in by_id or i in rest}

    def _document_path(self, doc_id: str) -> str:
        """Where the document added under `doc_id` is stored from (its `Article.path`)."""
        if self.qa.settings.store:
            return f"{DOCUMENT_PREFIX}{doc_id}"
        return str(self._documents_dir() / f"{_stem(doc_id)}.json")

    def _articles(self, ids: list[str]) -> list[Article]:
        """The stored articles among `ids` (unknown ones left out)."""
        store = self.qa.store
        try:
            return store.articles(ids)
        except KeyError:
            return [a for i in ids for a in _found(store, i)]

    def _documents_dir(self) -> Path:
        """Where added documents are written as files (the directory store), resolved as the
        paths of indexed articles are."""
        return self.qa.settings.index_dir.resolve() / DOCUMENTS

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings | None = None,
                   metadatas: list[dict] | None = None, *, ids: list[str] | None = None,
                   qa: QA | None = None, **kwargs: Any) -> ArticleVectorStore:
        """Index `texts` into `qa`'s index (`qa=` is required; `embedding` is not used: the
        index's own model embeds)."""
        if qa is None:
            raise InputError("ArticleVectorStore.from_texts needs qa=QA(...): the index to add "
                             "to (use QA(...).as_vectorstore()).")
        store = cls(qa)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(cls, documents: list[Document], embedding: Embeddings | None = None,
                       **kwargs: Any) -> ArticleVectorStore:
        """Index `documents` into the index of `qa=QA(...)` (required; `embedding` is not
        used)."""
        if not isinstance(documents, list | tuple) or \
                not all(isinstance(d, Document) for d in documents):
            raise InputError("documents must be a list of LangChain Documents.")
        return super().from_documents(list(documents), embedding, **kwargs)


#: a document id that names its file as it is (a UUID, an article id, "report-2025.v2"); not
#: capitals, which a case-insensitive file system would not tell apart ("Doc", "doc").
_PLAIN_ID = re.compile(r"[a-z0-9_-][a-z0-9_.-]{0,99}")
#: the longest document id taken.
MAX_ID_CHARS = 300
#: visible text: a character that is not a space, a control or an invisible format mark.
_VISIBLE = re.compile(f"[^\\s{CONTROL_CHARS}\u200b-\u200f\u2060\ufeff{BIDI_CONTROLS}]")


class _IndexEmbeddings(Embeddings):
    """A `QA`'s embedding model as LangChain `Embeddings` (L2-normalised vectors)."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.qa.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


#: LangChain's `filter` keys, and the `QA.retrieve` filter each stands for.
_FILTER_KEYS = {"source": "sources", "sources": "sources", "since": "since", "until": "until"}


def _filters(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The retrieval filters of a search's keyword arguments: `sources`, `since`, `until`,
    or the same in LangChain's `filter` dict. Anything else is an `InputError`, never
    silently ignored."""
    given = dict(kwargs)
    extra = given.pop("filter", None)
    if extra is not None:
        if not isinstance(extra, dict):
            raise InputError(f"filter must be a dict such as {{'source': 'The Guardian'}}, "
                             f"not {type(extra).__name__}.")
        for key, value in extra.items():
            if key not in _FILTER_KEYS:
                raise InputError(f"filter: articles can be filtered by source, since and "
                                 f"until, not by {key!r:.60}.")
            if value is None:  # (read as no filter at all)
                raise InputError(f"filter: {key} needs a value, not None.")
            given[_FILTER_KEYS[key]] = value
    unknown = sorted(set(given) - set(_FILTER_KEYS.values()))
    if unknown:
        raise InputError(f"The search takes sources, since and until (or filter=...), not "
                         f"{', '.join(map(repr, unknown))}.")
    return given


def _checked(ids: object) -> list[str]:
    """`ids` as a list, once checked."""
    _check_ids(ids)
    return list(ids)  # type: ignore[call-overload]


def _check_ids(ids: object) -> None:
    if not isinstance(ids, list | tuple):  # a string would be read letter by letter
        raise InputError(f"ids must be a list of ids, not {ids!r:.40}")
    odd = [i for i in ids if not isinstance(i, str) or not i.isprintable()
           or not 1 <= len(i) <= MAX_ID_CHARS]
    if odd:  # a database would fail on some, and a file name on others
        raise InputError(f"ids must be document or article ids (text of 1 to {MAX_ID_CHARS} "
                         f"printable characters), not {odd[0]!r:.40}")


def _document_ids(ids: object, count: int) -> list[str | None]:
    """`add_texts`'s `ids`, checked: one per text, each an id or None (the article id)."""
    if ids is None:
        return [None] * count
    if isinstance(ids, str) or not isinstance(ids, list | tuple) or len(ids) != count:
        raise InputError("ids must hold one id (or None) per text.")
    given = [i for i in ids if i is not None]
    _check_ids(given)
    if len(set(given)) != len(given):
        raise InputError("ids must differ from each other: each names one document.")
    return list(ids)


#: an article's id: what `add_texts` returns for a document added without an id of its own.
_ARTICLE_ID = re.compile(r"[0-9a-f]{16}")


#: the start of the file name of a document added under an id that names its file as it is.
_PLAIN_PREFIX = "doc-"


def _stem(doc_id: str) -> str:
    """The name (without .json) of the file in `<index>/documents/` that holds the document
    added under `doc_id` (its prefix tells it from a document named by its content: see
    `qa.index.ingest.KEYED_DOCUMENT`); the key of its identity in both stores."""
    if _PLAIN_ID.fullmatch(doc_id):
        return f"{_PLAIN_PREFIX}{doc_id}"
    return "doc~" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:32]


def _kept_value(value: object) -> str | int | float | list[str] | None:
    """A metadata value as a document file keeps it: text, a number, a date or time (in ISO
    form), a list of texts (read as an article file's list of authors is); None for anything
    else, which is not kept."""
    import datetime

    if isinstance(value, str):
        return storable(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return [storable(v) for v in value]
    return None


def _found(store: ArticleStore, article_id: str) -> list[Article]:
    try:
        return store.articles([article_id])
    except KeyError:
        return []


def _cleaned(objects: list[dict]) -> list[Article]:
    """Clean JSON article objects exactly as `qa index` cleans a .json file. Raises
    `InputError` naming a text that holds nothing to index once cleaned (a byline, page
    chrome), before anything is written."""
    from qa.index.clean import clean_record
    from qa.index.load import load_file

    articles = []
    with tempfile.TemporaryDirectory() as scratch:
        for n, obj in enumerate(objects):
            path = Path(scratch) / f"{n}.json"
            path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
            records, _ = load_file(path, max_bytes=len(path.read_bytes()) + 1)
            for record in records:
                record.path = f"{DOCUMENT_PREFIX}{n}"
                article = clean_record(record)
                if not article.text.strip():
                    raise InputError(f"text {n + 1} holds no article text once cleaned (a "
                                     f"byline or page chrome only: {obj['text'][:60]!r}).")
                articles.append(article)
    return [_named(a) for a in articles]


def _named(article: Article) -> Article:
    """A document's article is named by its id (its path says it came from no file)."""
    from dataclasses import replace

    return replace(article, path=f"{DOCUMENT_PREFIX}{article.id}")
