"""LangChain interoperability: the hybrid retriever as a `BaseRetriever`, and the answering
pipeline as a runnable, so both plug into a LangChain user's own chains.

This module knows `QA` only by what it uses (`Answerer`): `qa.engine` imports it (for
`QA.as_retriever` and `QA.as_chain`); it never imports `qa.engine`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda

from qa.core.records import Answer, Passage

__all__ = ["Answerer", "ArticleRetriever", "answer_chain", "passage_document"]


class Answerer(Protocol):
    """What these adapters need of a `qa.QA`."""

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]: ...

    def answer(self, question: str, history: list | None = None, k: int | None = None, *,
               mode: str | None = None, sources: list[str] | None = None,
               since: date | str | None = None, until: date | str | None = None) -> Answer: ...


def passage_document(passage: Passage, document_id: str | None = None) -> Document:
    """A LangChain `Document` for a passage, with its article and offsets as metadata; its
    id is `document_id` (the id its document was added under), else its article's."""
    article, chunk = passage.article, passage.chunk
    return Document(page_content=chunk.text, id=document_id or article.id, metadata={
        "article_id": article.id, "chunk_id": chunk.id, "title": article.title,
        "source": article.source,
        "author": article.author, "published": article.published, "url": article.url,
        "path": article.path, "start": chunk.start, "end": chunk.end,
        "score": passage.score, "rank": passage.rank})


class ArticleRetriever(BaseRetriever):
    """Dense + lexical retrieval over an article index, as a LangChain retriever."""

    qa: Any  # an `Answerer` (pydantic takes it as is)
    k: int = 6

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [passage_document(p) for p in self.qa.retrieve(query, self.k)]


def answer_chain(qa: Answerer) -> Runnable[Any, Answer]:
    """A runnable taking a question (str) or {"question", "history", "k", "mode", "sources",
    "since", "until"} and returning the cited `Answer` — the very pipeline behind
    `qa.answer`."""

    def run(request: str | dict[str, Any]) -> Answer:
        from qa.core.errors import InputError

        if isinstance(request, str):
            request = {"question": request}
        keys = ("question", "history", "k", "mode", "sources", "since", "until")
        if not isinstance(request, dict) or "question" not in request \
                or not set(request) <= set(keys):
            raise InputError(f'the chain takes a question: a string or {{"question": ..., '
                             f'and any of {", ".join(map(repr, keys[1:]))}}}, not '
                             f'{request!r:.80}')
        return qa.answer(request["question"], request.get("history"), request.get("k"),
                         mode=request.get("mode"), sources=request.get("sources"),
                         since=request.get("since"), until=request.get("until"))

    return RunnableLambda(run, name="article_qa")
