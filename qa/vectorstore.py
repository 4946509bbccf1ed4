"""Either store as a LangChain `VectorStore` (`QA.as_vectorstore()`).

`similarity_search` is the product's own retrieval (dense sentence vectors + BM25, fused,
spread across articles), so a LangChain chain gets the passages `qa ask` would cite, each a
`Document` with its article and exact character offsets. `add_documents`/`add_texts` index
each document as one article (metadata `title`, `source`, `author`, `published`/
`published_at`, `url`); its id is the article id (from its content hash), so adding the same
text twice stores it once. `delete(ids)` removes articles by those ids.

Why not `langchain-postgres` (`PGVector`, `PGVectorStore`): both keep one embedding per
document row, next to its text, in tables of their own. Our vectors are one per sentence
(halfvec, embedded in the chunk's context) pointing at exact character offsets of a chunk
whose text lives in `chunks`, and retrieval fuses them with BM25 postings; mapping that onto
their one-row-per-document schema would store the corpus twice and search it without the
lexical half or the article spread. So the PostgreSQL side is plain SQL in
`qa.index.postgres*`, and this adapter serves both stores through `QA`.

The directory store is built from files: documents are written as JSON files named by their
article id to `<index_dir>/documents/` and indexed from there (deleting one deletes its file
and re-indexes that folder). In both stores, articles indexed from the user's own files are
deleted by deleting the file, never through `delete`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore

from qa.chain import passage_document
from qa.core.errors import InputError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from qa.core.records import Article
    from qa.core.store import ArticleStore
    from qa.engine import QA

__all__ = ["ArticleVectorStore"]

#: how a document path starts in a PostgreSQL store (no file behind it).
_DOCUMENT_PREFIX = "document:"


class ArticleVectorStore(VectorStore):
    """A `QA`'s index (directory or PostgreSQL) as a LangChain vector store."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa

    @property
    def embeddings(self) -> Embeddings | None:
        return None  # questions are embedded inside `QA.retrieve`, with the index's model

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The `k` passages `QA.retrieve` finds; `sources`, `since`, `until` filter."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        filters = {name: kwargs.get(name) for name in ("sources", "since", "until")}
        passages = self.qa.retrieve(query, k, **filters)
        return [(passage_document(p), p.score) for p in passages]

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        """Index each text as an article; returns the article ids (`ids` given here are not
        used: an article's id comes from its content). Metadata never replaces the text."""
        from qa.index.load import BODY_FIELDS

        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        if len(metadatas) != len(texts):
            raise InputError("metadatas must hold one dict per text.")
        empty = [n for n, text in enumerate(texts, 1)
                 if not isinstance(text, str) or not text.strip()]
        if empty:  # before anything is written
            raise InputError(f"texts must be text, not empty: text {empty[0]} is not.")
        objects = [{**{k: v for k, v in (m or {}).items()
                       if isinstance(v, str | int | float) and k not in BODY_FIELDS},
                    "text": text} for text, m in zip(texts, metadatas)]
        articles = _cleaned(objects)
        if self.qa.settings.store:
            from qa.index.postgres import write_articles

            write_articles(self.qa.settings.store, articles, self.qa.settings)
        else:
            folder = self._documents_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for obj, article in zip(objects, articles):  # the same article: the same file
                (folder / f"{article.id}.json").write_text(
                    json.dumps(obj, ensure_ascii=False, sort_keys=True), encoding="utf-8")
            self.qa.add_files([folder])
        return [a.id for a in articles]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the articles added as documents with these ids; True when all were found
        and deleted. Articles indexed from files are deleted by deleting their file."""
        if not ids:
            return None
        found = {a.id: a for a in self._articles(list(ids))}
        folder = self._documents_dir()
        # (a document file of an older version is named after its payload's hash, not its id)
        outside = [a.path for a in found.values() if not (
            a.path == f"{_DOCUMENT_PREFIX}{a.id}" or Path(a.path).parent == folder)]
        if outside:
            raise InputError(f"Articles indexed from files are deleted by deleting the file "
                             f"and indexing its folder again: {', '.join(outside[:3])}")
        if self.qa.settings.store:
            from qa.index.postgres import delete_articles

            delete_articles(self.qa.settings.store, list(found))
        elif found:
            if len(found) >= self.qa.stats["articles"]:  # before any file goes
                raise InputError("These are all the index's articles, and an index directory "
                                 "cannot be empty: delete the directory instead.")
            left, gone = list(found.values()), set()
            while left:  # another document file holding the same article brings it back
                for article in left:
                    Path(article.path).unlink(missing_ok=True)
                    gone.add(article.path)
                self.qa.add_files([folder])
                left = [a for a in self._articles(list(found))
                        if Path(a.path).parent == folder and a.path not in gone]
        return len(found) == len(set(ids))

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The articles with these ids, whole, as documents (unknown ids are left out)."""
        return [Document(page_content=a.text, id=a.id, metadata={
            "title": a.title, "source": a.source, "author": a.author, "published": a.published,
            "url": a.url, "path": a.path}) for a in self._articles(list(ids))]

    def _articles(self, ids: list[str]) -> list[Article]:
        """The stored articles among `ids` (unknown ones left out)."""
        odd = [i for i in ids if not isinstance(i, str) or not i.isprintable()]
        if odd:  # never an article id (16 hex digits), and a database would fail on some
            raise InputError(f"ids must be article ids (text), not {odd[0]!r:.40}")
        store = self.qa.store
        try:
            return store.articles(ids)
        except KeyError:
            return [a for i in ids for a in _found(store, i)]

    def _documents_dir(self) -> Path:
        """Where added documents are written as files (the directory store), resolved as the
        paths of indexed articles are."""
        return self.qa.settings.index_dir.resolve() / "documents"

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
        store.add_texts(texts, metadatas)
        return store


def _found(store: ArticleStore, article_id: str) -> list[Article]:
    try:
        return store.articles([article_id])
    except KeyError:
        return []


def _cleaned(objects: list[dict]) -> list[Article]:
    """Clean JSON article objects exactly as `qa index` cleans a .json file."""
    from qa.index.clean import clean_record
    from qa.index.load import load_file

    articles = []
    with tempfile.TemporaryDirectory() as scratch:
        for n, obj in enumerate(objects):
            path = Path(scratch) / f"{n}.json"
            path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
            records, _ = load_file(path, max_bytes=len(path.read_bytes()) + 1)
            for record in records:
                record.path = f"{_DOCUMENT_PREFIX}{n}"
                article = clean_record(record)
                articles.append(article)
    return [_named(a) for a in articles]


def _named(article: Article) -> Article:
    """A document's article is named by its id (its path says it came from no file)."""
    from dataclasses import replace

    return replace(article, path=f"{_DOCUMENT_PREFIX}{article.id}")
