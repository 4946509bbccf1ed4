"""`QA`: the long-lived question-answering object behind the Python API, the CLI and the UI."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.core.errors import LLMError
from qa.core.records import Answer, ArticleFilter, Passage
from qa.core.settings import Settings
from qa.extract import extract_answer
from qa.followup import cap_question, standalone_question
from qa.index.build import BuildReport
from qa.index.directory_store import open_store
from qa.index.embed import get_embedder
from qa.index.onnx_embed import load_query_model
from qa.index.postgres import index_into
from qa.inputs import article_filter, check_history, check_k, check_mode, clean_question
from qa.reader.model import MODEL_DIR, Reader, load_reader
from qa.retrieve import HybridRetriever

if TYPE_CHECKING:
    from qa.core.store import ArticleStore
    from qa.vectorstore import ArticleVectorStore

__all__ = ["MAX_QUESTION_CHARS", "QA", "AnswerStream"]

MAX_QUESTION_CHARS = Settings.max_question_chars


class AnswerStream:
    """Iterate to receive the answer text as it is produced; `.answer` is the final `Answer`
    once iteration has finished."""

    def __init__(self, produce: Callable[[Callable[[str], None]], Answer]) -> None:
        self._produce = produce
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        pieces: queue.Queue[str | None] = queue.Queue()
        outcome: dict[str, Any] = {}
        sent: list[str] = []

        def run() -> None:
            try:
                outcome["answer"] = self._produce(pieces.put)
            except BaseException as exc:  # re-raised in the consumer's thread below
                outcome["error"] = exc
            finally:
                pieces.put(None)

        threading.Thread(target=run, daemon=True).start()
        while (piece := pieces.get()) is not None:
            sent.append(piece)
            yield piece
        if "error" in outcome:
            raise outcome["error"]
        self.answer = outcome["answer"]
        streamed = "".join(sent)
        if not streamed:  # computed at once (extractive): hand it out word by word
            yield from re.findall(r"\S+\s*", self.answer.text)
        elif self.answer.text.startswith(streamed):
            yield self.answer.text[len(streamed):]
        else:  # the generated text was corrected after its citations were checked
            yield "\n\n" + self.answer.text


class QA:
    """Answers questions over one index. Loads the embedding model and the index once.

    >>> qa = QA(index_dir="~/articles-index")
    >>> a = qa.answer("Who was killed by a car bomb in Balashikha?")
    >>> a.text, a.citations[0].article.title
    """

    def __init__(self, index_dir: str | Path | None = None, *, settings: Settings | None = None,
                 model: str | None = None, llm: str | None = None,
                 store: str | None = None) -> None:
        self.settings = settings or Settings.from_env(index_dir=index_dir, model=model,
                                                      store=store)
        self.llm_spec = llm
        self._chat_model: Any = None
        self._write_lock = threading.Lock()
        self._reader = load_reader(self.settings.reader_dir or MODEL_DIR,
                                   self.settings.query_threads)
        self._model_lock = threading.Lock()
        self._retriever = self._open()

    def _open(self) -> HybridRetriever:
        if self.settings.store:  # PostgreSQL: nothing of the corpus is loaded here
            from qa.index.postgres_read import open_postgres_store

            store = open_postgres_store(self.settings.store, self.settings.model)
        else:
            store = open_store(self.settings.index_dir, self.settings.model)
        model = store.stats().model
        threads = self.settings.query_threads
        embedder = load_query_model(self.settings.cache_dir, model, threads)
        if embedder is None:  # no ONNX copy: sentence-transformers (loads torch, slower)
            import torch

            torch.set_num_threads(threads)
            embedder = get_embedder(self.settings.model or model)
        return HybridRetriever(store, embedder, candidates=self.settings.candidates)

    @property
    def stats(self) -> dict[str, Any]:
        stats = self._retriever.store.stats()
        return {"articles": stats.articles, "chunks": stats.chunks, "model": stats.model,
                "index_dir": str(self.settings.index_dir),
                "store": getattr(self.store, "where", str(self.settings.index_dir))}

    @property
    def store(self) -> ArticleStore:
        """The store answering now (the index directory's, or a PostgreSQL database)."""
        return self._retriever.store

    @property
    def reader(self) -> Reader:
        """The trained extractive reader."""
        return self._reader

    @property
    def llm_available(self) -> bool:
        return bool(self.llm_spec)

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions that the loaded articles can answer, made from their titles."""
        from qa.examples import example_questions

        # the first 1,000 articles: every one of a folder, a bounded sample of a large store
        return example_questions(self._retriever.store.sample_articles(1000), n)

    def retrieve(self, question: str, k: int | None = None, *,
                 sources: list[str] | None = None, since: date | str | None = None,
                 until: date | str | None = None) -> list[Passage]:
        """The passages most relevant to `question` (dense + lexical, fused); `sources`
        (publisher or file names) and `since`/`until` (YYYY-MM-DD) limit the articles."""
        question = self._clean_question(question)
        k = check_k(k, self.settings)
        retriever = self._retriever
        where = article_filter(sources, since, until, retriever.store)
        return retriever.retrieve(question, k, where=where)

    def answer(self, question: str, history: list | None = None, k: int | None = None, *,
               stream: bool = False, mode: str | None = None,
               sources: list[str] | None = None, since: date | str | None = None,
               until: date | str | None = None) -> Answer | AnswerStream:
        """Answer `question` from the articles, citing every claim.

        `history`: earlier turns ([{"role", "content"}...] or [(question, answer)...]).
        `mode`: "extractive" (default) or "llm" (needs `llm=` when creating the QA).
        `sources` (publisher or file names), `since`, `until` (YYYY-MM-DD): cite only those
        articles.
        `stream=True` returns an `AnswerStream` that yields the text as it is produced."""
        question = self._clean_question(question)
        k = check_k(k, self.settings)
        use_llm = check_mode(mode, bool(self.llm_spec))
        messages = check_history(history, self.settings)
        where = article_filter(sources, since, until, self._retriever.store)
        if use_llm and not self.llm_spec:
            raise LLMError("No language model is configured: start with --llm SPEC "
                           "(see README, 'Generated answers').")

        def produce(emit: Callable[[str], None] | None) -> Answer:
            return self._answer(question, messages, k, use_llm, where, emit)

        if stream:
            return AnswerStream(produce)
        return produce(None)

    def _answer(self, question: str, messages: list[dict[str, str]], k: int, use_llm: bool,
                where: ArticleFilter | None, emit: Callable[[str], None] | None) -> Answer:
        started = time.perf_counter()
        retriever = self._retriever
        notes: list[str] = []
        limit = self.settings.max_question_chars
        standalone = standalone_question(question, messages, limit)
        if use_llm:
            try:
                from qa.generate import rewrite_question

                if messages:
                    standalone = cap_question(rewrite_question(
                        question, messages, self.chat_model, fallback=standalone), limit)
            except LLMError as exc:
                notes.append(f"The language model could not rewrite the question ({exc}).")
        passages = retriever.retrieve(standalone, k, where=where)
        retrieved = time.perf_counter()
        answer = None
        if use_llm and not notes:
            try:
                from qa.generate import generate_answer

                answer = generate_answer(standalone, passages, messages, self.chat_model,
                                         on_token=emit, embedder=retriever.embedder)
                answer.mode = "llm"
            except LLMError as exc:
                notes.append(f"The language model failed ({exc}); showing the extractive "
                             "answer instead.")
        if answer is None:
            answer = extract_answer(standalone, passages, self._reader)
            answer.mode = "llm-fallback" if use_llm else "extractive"
        answer.question = question
        answer.standalone_question = standalone
        answer.notes = notes + answer.notes
        done = time.perf_counter()
        answer.timings = {**answer.timings, "retrieve": retrieved - started,
                          "answer": done - retrieved, "total": done - started}
        return answer

    @property
    def chat_model(self) -> Any:
        """The LangChain chat model named by `llm`, created on first use."""
        with self._model_lock:  # answers run in many threads: make it once
            if self._chat_model is None:
                from qa.llm import make_chat_model

                self._chat_model = make_chat_model(self.llm_spec)
        return self._chat_model

    def as_retriever(self, k: int | None = None) -> Any:
        """This index's hybrid retrieval as a LangChain `BaseRetriever`."""
        from qa.chain import ArticleRetriever

        return ArticleRetriever(qa=self, k=check_k(k, self.settings))

    def as_chain(self) -> Any:
        """The answering pipeline as a LangChain runnable (see `qa.chain.answer_chain`)."""
        from qa.chain import answer_chain

        return answer_chain(self)

    def as_vectorstore(self) -> ArticleVectorStore:
        """This index as a LangChain `VectorStore` (see `qa.vectorstore`)."""
        from qa.vectorstore import ArticleVectorStore

        return ArticleVectorStore(self)

    def add_files(self, paths: list[str | Path],
                  progress: Callable[[int, int], None] | None = None) -> BuildReport:
        """Index more article files into this QA's index and start answering from them."""
        with self._write_lock:
            report = index_into(paths, self.settings, progress=progress)
            self._retriever = self._open()
        return report

    def reload(self) -> None:
        """Pick up an index rebuilt by another process (e.g. `qa index`)."""
        self._retriever = self._open()


    def _clean_question(self, question: object) -> str:
        return clean_question(question, self.settings)

