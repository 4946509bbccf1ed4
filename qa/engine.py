"""`QA`: the long-lived question-answering object behind the Python API, the CLI and the UI.

Two ways to ask, one answer type each, never a shape chosen by a flag: `QA.answer()` returns
the finished `Answer`; `QA.stream()` returns an `AnswerStream` that yields the text as it is
produced and whose `.answer` blocks for the same `Answer`. Both run one generator,
`QA._pieces`, in the caller's thread: the inputs are checked when the call is made, then
retrieval and answering run as the stream is read (`answer()` reads it to the end). The
final `Answer` is made once, from the answer to the standalone question and what only the
engine knows (the question as asked, notes on the model's failures, the mode, timings).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from qa.answering.compound import join_answers, split_question
from qa.answering.digest import digest_answer, is_broad
from qa.answering.extractive import MAX_WORDS, extract_answer
from qa.answering.followup import cap_question, question_to_read, standalone_question
from qa.answering.metadata import asked_field, metadata_answer
from qa.answering.publishers import cited_publishers
from qa.answering.stream import AnswerStream, Pieces
from qa.core.errors import (
    IndexFallbackWarning,
    IndexMismatchError,
    InputError,
    LLMError,
    QAError,
)
from qa.core.records import Answer, ArticleFilter, Passage
from qa.core.settings import Settings
from qa.core.text import LONE_SURROGATES
from qa.index.build import BuildReport
from qa.index.directory_store import open_store
from qa.index.embed import get_embedder
from qa.index.generations import read_pointer
from qa.index.onnx_embed import load_query_model
from qa.index.postgres import index_into
from qa.inputs import (
    article_filter,
    check_history,
    check_k,
    check_mode,
    clean_question,
    whole_number,
)
from qa.reader.model import MODEL_DIR, Reader, load_reader
from qa.retrieve import HybridRetriever

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.runnables import Runnable

    from qa.chain import ArticleRetriever
    from qa.core.store import ArticleStore
    from qa.vectorstore import ArticleVectorStore

__all__ = ["QA", "AnswerStream", "IndexStats"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStats:
    """What a QA's index holds (`QA.stats`)."""

    articles: int
    #: passages (chunks) that are searched and read.
    chunks: int
    #: the embedding model its vectors were made with.
    model: str
    index_dir: str
    #: where the articles are: the index directory, or the PostgreSQL store (no password).
    store: str


@dataclass(frozen=True)
class _Request:
    """One question's checked inputs."""

    question: str
    messages: list[dict[str, str]]
    k: int
    use_llm: bool
    where: ArticleFilter | None
    #: what is searched and read: the question, less the publishers it named if the
    #: answer keeps to their articles ("According to the Guardian, who ...?").
    asked: str


class QA:
    """Answers questions over one index. Loads the embedding model and the index once.

    >>> qa = QA(index_dir="~/articles-index")
    >>> a = qa.answer("Who was killed by a car bomb in Balashikha?")
    >>> a.text, a.citations[0].article.title
    """

    def __init__(self, index_dir: str | Path | None = None, *, settings: Settings | None = None,
                 model: str | None = None, llm: str | None = None,
                 store: str | None = None) -> None:
        """`index_dir`: the index directory (default: `QA_INDEX_DIR`, else
        ~/.local/share/article-qa/index); or `store`: a PostgreSQL URL (`QA_STORE`).
        `model`: the embedding model, when not the index's own. `llm`: a language model to
        answer with (an `--llm` setting such as "openai:http://host:8080/v1#MODEL",
        "ollama:MODEL", "gguf:PATH", "smollm2", or a LangChain chat model). `settings`: a
        whole `Settings` instead of the above. Raises `IndexNotFoundError` when there is no
        index yet (build one with `qa index PATH`), `IndexMismatchError`, `InputError` or
        `LLMError` for bad arguments."""
        if settings is not None and not isinstance(settings, Settings):
            raise InputError(f"settings must be a qa.core.settings.Settings, not "
                             f"{type(settings).__name__}.")
        self.settings = settings or Settings.from_env(index_dir=index_dir, model=model,
                                                      store=store)
        if llm is not None:  # a malformed setting fails here, not at the first question
            from qa.llm import check_llm

            check_llm(llm)
        self.llm_spec = llm
        self._chat_model: Any = None
        self._write_lock = threading.Lock()
        self._reader = load_reader(self.settings.reader_dir or MODEL_DIR,
                                   self.settings.query_threads, self.settings.reader_cache_pairs)
        self._model_lock = threading.Lock()
        #: whether `add_files` is indexing articles now (uploads, a watched folder).
        self.adding = False
        #: what `QA.build` indexed, when this QA was made by it.
        self.last_build: BuildReport | None = None
        #: the `CURRENT` of the index directory when it was last opened, and when to look again.
        self._opened_pointer: str | None = None
        self._next_check = 0.0
        self._retriever_now = self._open()

    @classmethod
    def build(cls, paths: str | Path | list[str | Path], index_dir: str | Path | None = None,
              *, store: str | None = None, model: str | None = None, llm: str | None = None,
              rebuild: bool = False) -> QA:
        """Index the article files and folders `paths` (creating the index, or updating it as
        `qa index` does) and return a `QA` over it; the `BuildReport` is its `last_build`.

        >>> qa = QA.build("~/articles", index_dir="~/articles-index")"""
        if not isinstance(rebuild, bool):
            raise InputError(f"rebuild must be True or False, not {rebuild!r:.40}.")
        settings = Settings.from_env(index_dir=index_dir, model=model, store=store)
        if llm is not None:  # before the build, not after it
            from qa.llm import check_llm

            check_llm(llm)
        report = index_into(_checked_paths(paths), settings, rebuild=rebuild)
        engine = cls(settings=settings, llm=llm)
        engine.last_build = report
        return engine

    def _open(self) -> HybridRetriever:
        if self.settings.store:  # PostgreSQL: nothing of the corpus is loaded here
            from qa.index.postgres_read import open_postgres_store

            store = open_postgres_store(self.settings.store, self.settings.model)
        else:
            self._opened_pointer = read_pointer(self.settings.index_dir).name
            store = open_store(self.settings.index_dir, self.settings.model)
        self._next_check = time.monotonic() + self.settings.reopen_check_seconds
        model = store.stats().model
        threads = self.settings.query_threads
        embedder = load_query_model(self.settings.cache_dir, model, threads)
        if embedder is None:  # no ONNX copy: sentence-transformers (loads torch, slower)
            import torch

            torch.set_num_threads(threads)
            embedder = get_embedder(self.settings.model or model)
        return HybridRetriever(store, embedder, candidates=self.settings.candidates)

    @property
    def _retriever(self) -> HybridRetriever:
        """The retriever over the index as it is now: an index directory whose `CURRENT` has
        named another generation since it was opened (another process ran `qa index`) is
        opened again first, by one thread while the others answer from the old one; so is a
        database rebuilt with another embedding model (otherwise always current). Looked at
        every `settings.reopen_check_seconds` at most."""
        if time.monotonic() < self._next_check:
            return self._retriever_now
        self._next_check = time.monotonic() + self.settings.reopen_check_seconds
        if not self._superseded() or not self._write_lock.acquire(blocking=False):
            return self._retriever_now
        try:
            replaced, self._retriever_now = self._retriever_now, self._open()
            if self.settings.store:  # its pooled connections (it still works if in use)
                replaced.store.close()  # type: ignore[attr-defined]
        except QAError as exc:  # keep answering from what is open; say why, once
            if not self.settings.store:
                self._opened_pointer = read_pointer(self.settings.index_dir).name
            warnings.warn(f"The index was changed by another process but could not be opened "
                          f"again ({exc}); answering from the articles loaded before.",
                          IndexFallbackWarning, stacklevel=3)
        finally:
            self._write_lock.release()
        return self._retriever_now

    def _superseded(self) -> bool:
        """Whether the index must be opened again: the directory's `CURRENT` names another
        generation, or the database now holds vectors of another model."""
        if not self.settings.store:
            return read_pointer(self.settings.index_dir).name not in (None, self._opened_pointer)
        try:
            self._retriever_now.store.stats()
        except IndexMismatchError:
            return True
        except QAError:  # unreachable now: the question meets that itself
            pass
        return False

    @property
    def stats(self) -> IndexStats:
        """What the index holds: articles, chunks, the embedding model, where it is."""
        stats = self._retriever.store.stats()
        return IndexStats(stats.articles, stats.chunks, stats.model, str(self.settings.index_dir),
                          getattr(self.store, "where", str(self.settings.index_dir)))

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
        """Whether a language model was given (`llm=`), so that `mode="llm"` can be asked."""
        return bool(self.llm_spec)

    def example_questions(self, n: int = 4) -> list[str]:
        """Up to `n` (1-50) questions that the loaded articles can answer."""
        from qa.examples import example_questions

        if (count := whole_number(n, 1, 50)) is None:
            raise InputError(f"n must be a whole number from 1 to 50, not {n!r:.40}.")

        # the first 1,000 articles: every one of a folder, a bounded sample of a large store
        return example_questions(self._retriever.store.sample_articles(1000), count)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of `texts` (L2-normalised, one row each) by the index's embedding model, the
        one questions are embedded with."""
        if isinstance(texts, str) or not isinstance(texts, list | tuple) or \
                not all(isinstance(t, str) for t in texts):
            raise InputError(f"texts must be a list of strings, not {texts!r:.60}.")
        return self._retriever.embedder.embed([LONE_SURROGATES.sub("\ufffd", t) for t in texts])

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

    @overload
    def answer(self, question: str, history: list | None = None, k: int | None = None, *,
               stream: Literal[False] = False, mode: str | None = None,
               sources: list[str] | None = None, since: date | str | None = None,
               until: date | str | None = None) -> Answer: ...

    @overload
    def answer(self, question: str, history: list | None = None, k: int | None = None, *,
               stream: Literal[True], mode: str | None = None,
               sources: list[str] | None = None, since: date | str | None = None,
               until: date | str | None = None) -> AnswerStream: ...

    def answer(self, question: str, history: list | None = None, k: int | None = None, *,
               stream: bool = False, mode: str | None = None,
               sources: list[str] | None = None, since: date | str | None = None,
               until: date | str | None = None) -> Answer | AnswerStream:
        """Answer `question` from the articles, citing every claim.

        `history`: earlier turns ([{"role", "content"}...] or [(question, answer)...]).
        `mode`: "extractive" (default) or "llm" (needs `llm=` when creating the QA).
        `sources` (publisher or file names), `since`, `until` (YYYY-MM-DD): cite only those
        articles. To receive the text as it is produced, use `stream()` (`stream=True`, which
        returns its `AnswerStream`, is deprecated)."""
        if stream:
            warnings.warn("QA.answer(stream=True) is deprecated: use QA.stream(), which "
                          "returns the same AnswerStream.", DeprecationWarning, stacklevel=2)
            return self.stream(question, history, k, mode=mode, sources=sources,
                               since=since, until=until)
        return self.stream(question, history, k, mode=mode, sources=sources, since=since,
                           until=until).answer

    def stream(self, question: str, history: list | None = None, k: int | None = None, *,
               mode: str | None = None, sources: list[str] | None = None,
               since: date | str | None = None,
               until: date | str | None = None) -> AnswerStream:
        """`answer()` as it is produced: iterate the `AnswerStream` for the text, then read
        its `.answer` (which also waits for the end). Bad input raises here, before any
        work; closing the stream early stops a generating model."""
        return AnswerStream(self._pieces(self._request(question, history, k, mode, sources,
                                                       since, until)))

    def _request(self, question: object, history: object, k: object, mode: object,
                 sources: object, since: object, until: object) -> _Request:
        question = self._clean_question(question)
        k = check_k(k, self.settings)
        use_llm = check_mode(mode, bool(self.llm_spec))
        messages = check_history(history, self.settings)
        store = self._retriever.store
        asked = question
        if sources is None:  # "the Guardian article": its articles alone are searched
            named, asked = cited_publishers(question, store.stats().publishers)
            sources = named or None
        where = article_filter(sources, since, until, store)
        if use_llm and not self.llm_spec:
            raise LLMError("No language model is configured: start with --llm SPEC "
                           "(see README, 'Generated answers').")
        return _Request(question, messages, k, use_llm, where, asked)

    def _pieces(self, request: _Request) -> Pieces:
        """Retrieve, then answer (with the model when asked, falling back to extraction):
        yields the generated text as it comes, returns the final `Answer`."""
        started = time.perf_counter()
        retriever = self._retriever
        notes: list[str] = []
        limit = self.settings.max_question_chars
        standalone = standalone_question(request.asked, request.messages, limit)
        if request.use_llm and request.messages:
            from qa.answering.rewrite import rewrite_question

            try:
                standalone = cap_question(rewrite_question(
                    request.asked, request.messages, self.chat_model, fallback=standalone),
                    limit)
            except LLMError as exc:
                notes.append(_llm_failed("could not rewrite the question", exc))
        passages = retriever.retrieve(standalone, request.k, where=request.where)
        retrieved = time.perf_counter()
        made = None
        if request.use_llm and not notes:
            from qa.answering.generate import iter_answer

            try:
                made = yield from iter_answer(standalone, passages, request.messages,
                                              self.chat_model, embedder=retriever.embedder)
            except LLMError as exc:
                notes.append(_llm_failed("failed", exc) + " Showing the extractive answer "
                                                          "instead.")
            if made is not None and not made.abstained and \
                    not any(c.supported for c in made.citations):
                notes.append("The language model's answer cited no passage that backs it; "
                             "showing the extractive answer instead.")
                made = None  # every claim shown must rest on a cited passage
        if made is None and (field := asked_field(standalone)) is not None:
            made = metadata_answer(standalone, field, passages, 0 if request.where else
                                   retriever.store.stats().articles)
        if made is None and is_broad(standalone):
            made = digest_answer(standalone, passages, retriever.embedder.embed)
        if made is None and len(parts := split_question(standalone)) > 1:
            made = join_answers(standalone, parts, lambda part, words: self._extract(
                part, retriever.retrieve(part, request.k, where=request.where), request.where,
                words))
        if made is None:
            made = self._extract(question_to_read(request.asked, standalone), passages,
                                 request.where)
        done = time.perf_counter()
        if request.where is not None:  # answered or not: the rest was not searched
            notes.append(f"Searched {request.where.describe()}." if passages else
                         f"No indexed article is "
                         f"{request.where.describe().removeprefix('only articles ')}: nothing "
                         "was searched.")
        fallback = request.use_llm and made.mode != "llm"
        if request.asked != request.question:  # shown as read: with the publisher's name
            standalone = standalone_question(request.question, request.messages, limit)
        return replace(made, question=request.question, standalone_question=standalone,
                       mode="llm-fallback" if fallback else made.mode,
                       notes=notes + made.notes,
                       timings={**made.timings, "retrieve": retrieved - started,
                                "answer": done - retrieved, "total": done - started})

    def _extract(self, question: str, passages: list[Passage], where: ArticleFilter | None,
                 max_words: int = MAX_WORDS) -> Answer:
        """The reader's answer from `passages`; weighed as from articles the user named
        when every passage is from one named by file name (`Reader.fit`)."""
        named = where is not None and bool(passages) \
            and all(where.names(p.article) for p in passages)
        return extract_answer(question, passages, self._reader, max_words, named=named)

    @property
    def chat_model(self) -> Any:
        """The LangChain chat model named by `llm`, created on first use."""
        with self._model_lock:  # answers run in many threads: make it once
            if self._chat_model is None:
                from qa.llm import make_chat_model

                try:
                    self._chat_model = make_chat_model(self.llm_spec)
                except LLMError as exc:  # (its message names files, addresses, settings)
                    raise LLMError(str(exc), brief="it could not be set up") from exc
        return self._chat_model

    def as_retriever(self, k: int | None = None) -> ArticleRetriever:
        """This index's hybrid retrieval as a LangChain `BaseRetriever`."""
        from qa.chain import ArticleRetriever

        return ArticleRetriever(qa=self, k=check_k(k, self.settings))

    def as_chain(self) -> Runnable[Any, Answer]:
        """The answering pipeline as a LangChain runnable (see `qa.chain.answer_chain`)."""
        from qa.chain import answer_chain

        return answer_chain(self)

    def as_vectorstore(self) -> ArticleVectorStore:
        """This index as a LangChain `VectorStore` (see `qa.vectorstore`)."""
        from qa.vectorstore import ArticleVectorStore

        return ArticleVectorStore(self)

    def add_files(self, paths: str | Path | list[str | Path],
                  progress: Callable[[int, int], None] | None = None) -> BuildReport:
        """Index more article files or folders (a path, or a list of them) into this QA's
        index and start answering from them; returns the `BuildReport` (what was added,
        updated, removed, and why files were skipped). The index must exist: make it with
        `QA.build` (or `qa index PATH`). Raises `InputError` for bad paths."""
        from qa.index.load import Notice

        paths = _checked_paths(paths)

        with self._write_lock:
            self.adding = True
            try:
                report = index_into(paths, self.settings, progress=progress)
            finally:
                self.adding = False
            try:
                self._retriever_now = self._open()
            except QAError as exc:  # written, but not reopened: say so, lose nothing
                report.notices.append(Notice(
                    "index", "not answerable yet", f"the articles are indexed, but the index "
                    f"could not be opened again ({exc}); they are answered after a reload"))
        return report

    def reload(self) -> None:
        """Pick up an index rebuilt by another process (e.g. `qa index`)."""
        with self._write_lock:  # never back to an older index than a concurrent add_files's
            self._retriever_now = self._open()

    def _clean_question(self, question: object) -> str:
        return clean_question(question, self.settings)


def _llm_failed(what: str, exc: LLMError) -> str:
    """The answer's note on a language model that `what` ("failed"): what happened, not the
    model server's own words, which go to the log (a chat's visitors read the notes)."""
    logger.warning("The language model %s: %s", what, exc)
    return f"The language model {what} ({exc.brief})."


def _checked_paths(paths: object) -> list[str | Path]:
    """Article files or folders to index: one path, or a list of them (`InputError` else)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not isinstance(paths, list | tuple) or not paths or \
            not all(isinstance(p, str | os.PathLike) and str(p).strip() for p in paths):
        raise InputError(f"paths must be a file or folder path, or a list of them, not "
                         f"{paths!r:.80}.")
    return list(paths)
