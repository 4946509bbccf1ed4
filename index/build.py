"""Build or update an index from article files: only new or changed articles are embedded."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.index.chunk import CHUNKER_VERSION, chunk_article
from qa.index.clean import clean_record
from qa.index.embed import get_embedder, resolve_model
from qa.index.load import Notice, find_files, load_file, location
from qa.index.onnx_embed import export_query_model
from qa.index.store import FORMAT_VERSION, open_index, write_generation, writer_lock

from qa.core.errors import IndexNotFoundError, NoArticlesError, QAError, UnusableFileError
from qa.core.records import Article, Chunk
from qa.core.settings import Settings

__all__ = ["BuildReport", "build_index"]

#: progress(done, total) is called while chunks are embedded.
Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What one `build_index` (or PostgreSQL indexing) call did."""

    #: the directory index written, or None when it was a PostgreSQL store (`store`).
    index_dir: Path | None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    chunks_embedded: int = 0
    articles_total: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    written: bool = False
    #: the PostgreSQL store written (its URL, password masked), or None for a directory.
    store: str | None = None

    @property
    def kept_files(self) -> set[str]:
        """The files (as `qa.index.load.location` names them) whose articles the index holds
        after this build, among those it read: not the refused, empty or duplicate ones."""
        return {_file_of(p) for p in (*self.added, *self.updated, *self.unchanged)}

    @property
    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} "
                f"removed, {len(self.unchanged)} unchanged; {self.chunks_embedded} chunks "
                f"embedded; index now holds {self.articles_total} articles in "
                f"{self.chunks_total} chunks ({self.seconds:.1f} s)")


def _file_of(article_path: str) -> str:
    return article_path.split("#", 1)[0]


def _under(path: str, roots: list[Path]) -> bool:
    p = Path(path)
    return any(p == root or root in p.parents for root in roots)


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded for a chunk: its text, after the article's headline as context.

    A title made from the text's first sentence (articles without a headline) is left out:
    on NewsQA it added 17% more tokens to embed for no gain (recall@5 77.5% with it, 77.4%
    without; answer accuracy 38.6% with, 39.3% without)."""
    if article.title and article.title.rstrip("…") not in article.text[:400]:
        return f"{article.title}\n{chunk.text}"
    return chunk.text


def _load_articles(paths: Iterable[str | Path], settings: Settings,
                   report: BuildReport) -> tuple[list[Article], set[str]]:
    files, notices = find_files(paths)
    report.notices.extend(notices)
    articles: list[Article] = []
    seen: dict[str, str] = {}
    read_files: set[str] = set()
    for file in files:
        resolved = location(file)
        try:
            records, file_notices = load_file(file, settings.max_file_bytes)
        except UnusableFileError as exc:
            report.notices.append(Notice(exc.path, exc.action, exc.reason))
            continue
        read_files.add(resolved)
        report.notices.extend(file_notices)
        for record in records:
            record.path = resolved + record.path[len(str(file)):]
            article = clean_record(record)
            if not article.text.strip():
                report.notices.append(Notice(record.path, "skipped", "no article text"))
            elif article.id in seen:
                report.notices.append(Notice(record.path, "duplicate",
                                             f"same article as {seen[article.id]}; stored once"))
            else:
                seen[article.id] = record.path
                articles.append(article)
    return articles, read_files


def build_index(paths: Iterable[str | Path], settings: Settings | None = None, *,
                rebuild: bool = False, progress: Progress | None = None) -> BuildReport:
    """Index the articles under `paths` into `settings.index_dir`.

    Unchanged articles keep their vectors; changed ones are re-embedded; articles whose files
    under the given paths are gone are removed (articles indexed from other paths stay).
    Raises `NoArticlesError` when nothing could be indexed and no index exists."""
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    paths = list(paths)
    report = BuildReport(settings.index_dir)
    roots = [Path(p).expanduser().resolve() for p in paths]
    found, read_files = _load_articles(paths, settings, report)

    with writer_lock(settings.index_dir):
        old = None
        if not rebuild:
            with contextlib.suppress(IndexNotFoundError):
                old = open_index(settings.index_dir)
        if old is not None and old.fallback is not None:
            report.notices.append(Notice(str(settings.index_dir), "recovered",
                                         f"{old.fallback}; the new generation is built from "
                                         f"{old.path.name}, the newest intact one"))
        model = settings.model or (old.model if old else None)
        model_name = resolve_model(model)[0]
        chunking = {"version": CHUNKER_VERSION, "words": settings.chunk_words,
                    "overlap": settings.chunk_overlap_sentences}
        reusable = old is not None and old.model == model_name \
            and old.manifest.get("chunking") == chunking
        if old is not None and not reusable:
            report.notices.append(Notice(str(settings.index_dir), "rebuilding",
                                         "model, chunking or format changed: re-embedding "
                                         "every article"))

        old_articles = dict(old.articles) if old else {}
        by_path = {a.path: a for a in old_articles.values()}
        kept: dict[str, Article] = {}
        found_paths = {a.path for a in found}
        for article in found:
            previous = old_articles.get(article.id)
            if previous is not None and previous.path != article.path \
                    and Path(_file_of(previous.path)).exists():
                report.notices.append(Notice(article.path, "duplicate",
                                             f"same article as {previous.path}; stored once"))
                continue
            if previous is not None:
                report.unchanged.append(article.path)
            elif article.path in by_path:
                report.updated.append(article.path)
            else:
                report.added.append(article.path)
            kept[article.id] = article
        for article in old_articles.values():
            if article.id in kept:
                continue
            gone = _under(article.path, roots) and (
                _file_of(article.path) in read_files or not Path(_file_of(article.path)).exists())
            if gone:
                if article.path not in found_paths:
                    report.removed.append(article.path)
            else:
                kept[article.id] = article
        if not kept:
            problems = "; ".join(str(n) for n in report.notices) or "no article files found"
            where = ", ".join(map(str, paths))
            raise NoArticlesError(f"Nothing to index under {where}: {problems}")

        changed = report.added or report.updated or report.removed or not reusable or \
            old.fallback is not None or \
            any(old_articles[i].path != a.path for i, a in kept.items() if i in old_articles)
        if not changed and old is not None:
            _export_query_model(settings, model, report)
            report.articles_total, report.chunks_total = len(old.articles), len(old.chunks)
            report.seconds = time.perf_counter() - started
            return report

        articles = list(kept.values())
        # export first, while the process holds only the model: its peak (+280 MB) then
        # does not land on top of the embedded corpus (bench/results/BUILD_MEMORY.md)
        _export_query_model(settings, model, report)
        chunks, sentences = _assemble(articles, old if reusable else None, model, settings,
                                      report, progress)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model_name,
            "dimension": int(sentences.shape[1]),
            "articles": len(articles),
            "chunks": len(chunks),
            "chunking": chunking,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "article_hashes": {a.id: a.content_hash for a in articles},
        }
        write_generation(settings.index_dir, manifest, articles, chunks, sentences,
                         settings.hnsw_threshold)
    report.written = True
    report.articles_total, report.chunks_total = len(articles), len(chunks)
    report.seconds = time.perf_counter() - started
    return report


def _export_query_model(settings: Settings, model: str | None, report: BuildReport) -> None:
    reason = export_query_model(settings.cache_dir, get_embedder(model))
    if reason is not None:
        report.notices.append(Notice(str(settings.cache_dir), "slower questions",
                                     f"no ONNX query model ({reason}); questions are "
                                     "embedded with sentence-transformers"))


def _assemble(articles: list[Article], old, model: str | None, settings: Settings,
              report: BuildReport, progress: Progress | None):
    """Chunks and their sentences' vectors (in context, chunk by chunk) for `articles`,
    reusing `old`'s where the article is unchanged."""
    import numpy as np

    reuse: dict[str, list[int]] = {}
    if old is not None:
        for row, chunk in enumerate(old.chunks):
            reuse.setdefault(chunk.article_id, []).append(row)
    chunks: list[Chunk] = []
    rows: list[int] = []  # old row per chunk, or -1 when it must be embedded
    for article in articles:
        if article.id in reuse:
            for row in reuse[article.id]:
                chunks.append(old.chunks[row])
                rows.append(row)
        else:
            for chunk in chunk_article(article, settings.chunk_words,
                                       settings.chunk_overlap_sentences):
                chunks.append(chunk)
                rows.append(-1)
    if not chunks:
        raise QAError("The articles produced no text to index.")
    todo = [i for i, row in enumerate(rows) if row < 0]
    embedder = get_embedder(model)
    dimension = int(old.manifest["dimension"]) if old else embedder.dimension
    # float16, as stored: at 16x NewsQA that is 300 MB of sentence vectors instead of 600
    sentences = np.zeros((sum(len(c.sentences) for c in chunks), dimension), dtype=np.float16)
    first = np.cumsum([0] + [len(c.sentences) for c in chunks])
    for i, row in enumerate(rows):
        if row >= 0:
            sentences[first[i]:first[i + 1]] = old.sentence_vectors_of(row)
    by_id = {a.id: a for a in articles}
    step = settings.embed_batch_size * 8  # a slice's token embeddings stay small
    if progress is not None:
        progress(0, len(todo))
    for begin in range(0, len(todo), step):
        texts, spans = [], []
        for i in todo[begin:begin + step]:
            text = embedding_text(by_id[chunks[i].article_id], chunks[i])  # context, then text
            shift = len(text) - len(chunks[i].text) - chunks[i].start
            texts.append(text)
            spans.append([(s + shift, e + shift) for s, e in chunks[i].sentences])
        _, fresh_sentences = embedder.embed_with_spans(texts, spans, settings.embed_batch_size)
        row = 0
        for i in todo[begin:begin + step]:
            count = len(chunks[i].sentences)
            sentences[first[i]:first[i + 1]] = fresh_sentences[row:row + count]
            row += count
        if progress is not None:
            progress(min(begin + step, len(todo)), len(todo))
    report.chunks_embedded = len(todo)
    return chunks, sentences
