"""Build or update an index from article files: only new or changed articles are embedded."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from qa.index import ingest
from qa.index.chunk import CHUNKER_VERSION
from qa.index.embed import resolve_model
from qa.index.generations import DOCUMENTS, UPLOADS, read_pointer
from qa.index.ingest import BuildReport, Progress
from qa.index.load import Notice
from qa.index.store import (
    FORMAT_VERSION,
    StoredIndex,
    current_paths,
    open_index,
    stranded_articles,
    write_generation,
    writer_lock,
)

from qa.core.errors import IndexNotFoundError
from qa.core.records import Article
from qa.core.settings import Settings

__all__ = ["CHUNKER_VERSION", "BuildReport", "Progress", "build_index", "own_article_folders"]


def _reread_stranded(settings: Settings, old: StoredIndex, roots: list[Path],
                     report: BuildReport) -> tuple[list[Article], set[str], dict[str, list[str]]]:
    """The articles of the files that only the damaged generations held, read again (those
    under `roots` are read anyway), those files, and the copies those generations recorded:
    a file counts only when one of its articles is, by content hash, one those generations
    held, so a damaged path can never bring in another file. What cannot be recovered is
    reported."""
    lost = stranded_articles(settings.index_dir, old)
    for name in lost.unreadable:
        report.notices.append(Notice(name, "lost", "its list of articles cannot be read: an "
                                     "article only it held is gone from the index; index its "
                                     "file again"))
    files = sorted({ingest.file_of(path) for path in lost.paths
                    if not ingest.under(path, roots)})
    there = [file for file in files if _is_file(file)]
    for file in sorted(set(files) - set(there)):
        report.notices.append(Notice(file, "lost", "only the damaged generation held it, and "
                                     "its file is gone: index it again if you have it"))
        report.removed.append(file)
    read_back, _ = ingest.load_articles(there, settings, report) if there else ([], set())
    held = {ingest.file_of(a.path) for a in read_back if a.id in lost.ids}
    for file in sorted({ingest.file_of(a.path) for a in read_back} - held):
        report.notices.append(Notice(file, "lost", "only the damaged generation held it, and "
                                     "the file is not what it held: index it again"))
    found = [a for a in read_back if ingest.file_of(a.path) in held]
    if recovered := sum(a.id not in old.articles for a in found):
        report.notices.append(Notice(str(settings.index_dir), "recovered",
                                     f"{recovered} articles that only the damaged generation "
                                     "held, read again from their files"))
    return found, held, lost.copies


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except OSError:  # a name too long, from a damaged list
        return False


def own_article_folders(index_dir: Path, names: Iterable[str]) -> list[Path]:
    """The folders of `index_dir` named `names` (`UPLOADS`, `DOCUMENTS`) that hold files: the
    articles the index keeps itself, which a rebuild must read again."""
    return [own for name in names if (own := index_dir / name).is_dir() and any(own.iterdir())]


def build_index(paths: Iterable[str | Path], settings: Settings | None = None, *,
                rebuild: bool = False, progress: Progress | None = None) -> BuildReport:
    """Index the articles under `paths` into `settings.index_dir`.

    Unchanged articles keep their vectors; changed ones are re-embedded; articles whose files
    under the given paths are gone are removed (articles indexed from other paths stay).
    Raises `NoArticlesError` when nothing could be indexed and no index exists."""
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    given = list(paths)
    own = own_article_folders(settings.index_dir, (UPLOADS, DOCUMENTS)) if rebuild else []
    paths = given + own  # (a rebuild reads the index's own articles, uploads and documents)
    given_roots = ingest.roots_of(given)
    roots = given_roots + ingest.roots_of(own)
    report = BuildReport(settings.index_dir, roots=roots)
    seen = read_pointer(settings.index_dir).name
    found, read_files = ingest.load_articles(paths, settings, report)
    if not found and not settings.index_dir.exists():  # no empty index folder left behind
        raise ingest.nothing_to_index(paths, report)

    with writer_lock(settings.index_dir) as waited:
        if waited or read_pointer(settings.index_dir).name != seen:
            # another writer ran meanwhile: the files may hold newer text than was read
            report = BuildReport(settings.index_dir, roots=roots)
            found, read_files = ingest.load_articles(paths, settings, report)
        if rebuild and not ingest.from_given(found, given_roots):  # (an unmounted drive):
            # the index's own articles alone would replace every other one
            raise ingest.nothing_to_index(given, report, ", so --rebuild left the index as "
                                                         "it was")
        old = None
        reread: set[str] = set()  # files read again after a fallback: their old copies go
        stranded_copies: dict[str, list[str]] = {}  # copies only damaged generations recorded
        replaced: set[str] = set()  # with rebuild: the paths of the articles it replaces
        if not rebuild:
            with contextlib.suppress(IndexNotFoundError):
                old = open_index(settings.index_dir)
        else:
            replaced = current_paths(settings.index_dir)
        if old is not None and old.fallback is not None:
            report.notices.append(Notice(str(settings.index_dir), "recovered",
                                         f"{old.fallback}; the new generation is built from "
                                         f"{old.path.name}, the newest intact one"))
            more, reread, stranded_copies = _reread_stranded(settings, old, roots, report)
            first = {a.id: a.path for a in found}
            for article in more:  # each article once: a copy under the paths given comes first
                if article.id not in first:
                    found.append(article)
                    continue
                ingest.note_duplicate(report, article.content_hash, article.path,
                                      first[article.id])
            read_files |= reread
        model = settings.model or (old.model if old else None)
        model_name = resolve_model(model)[0]
        chunking = {"version": CHUNKER_VERSION, "words": settings.chunk_words,
                    "overlap": settings.chunk_overlap_sentences}
        reusable = old is not None and resolve_model(old.model)[0] == model_name \
            and old.manifest.get("chunking") == chunking
        if old is not None and not reusable:
            report.notices.append(Notice(str(settings.index_dir), "rebuilding",
                                         "model, chunking or format changed: re-embedding "
                                         "every article"))

        old_articles = dict(old.articles) if old else {}
        kept: dict[str, Article] = {}
        fresh: list[Article] = []  # not indexed before: added, or a new version of a file's
        copies = ingest.StoredCopies(read_files, settings)
        recorded: dict[str, list[str]] = dict(old.manifest.get("copies", {})) if old else {}
        for content_hash, places in stranded_copies.items():
            recorded[content_hash] = list(dict.fromkeys([*recorded.get(content_hash, []),
                                                         *places]))
        for article in found:
            previous = old_articles.get(article.id)
            if previous is not None and copies.elsewhere(previous.path, article):
                ingest.note_duplicate(report, article.content_hash, article.path,
                                      previous.path)
                continue
            if previous is not None:
                report.unchanged.append(article.path)
            else:
                fresh.append(article)
            kept[article.id] = article
        gone: set[str] = set()
        for article in old_articles.values():
            if article.id in kept:
                continue
            file = ingest.file_of(article.path)
            if file in reread or (ingest.under(article.path, roots) and (
                    file in read_files or not Path(file).exists())):
                survivor = copies.surviving(recorded.get(article.content_hash, []),
                                            article.content_hash)
                if survivor is None:
                    gone.add(article.path)
                    continue
                report.notices.append(ingest.kept_notice(article.path, survivor))
                article = replace(article, path=survivor)
            kept[article.id] = article
        for article in fresh:
            (report.updated if article.path in gone else report.added).append(article.path)
        report.removed.extend(sorted((gone | replaced) - {a.path for a in fresh}))
        if not kept:
            raise ingest.nothing_to_index(paths, report)

        now_copies: dict[str, list[str]] = {}  # the copies the new manifest records
        for article in kept.values():
            if places := copies.still_copies(recorded.get(article.content_hash, []),
                                             article.content_hash, article.path,
                                             report.copies.get(article.content_hash, [])):
                now_copies[article.content_hash] = places
        changed = report.added or report.updated or report.removed or not reusable or \
            old.fallback is not None or now_copies != recorded or \
            any(old_articles[i].path != a.path for i, a in kept.items() if i in old_articles)
        if not changed and old is not None:
            ingest.note_query_model(settings, model, report)
            report.articles_total, report.chunks_total = len(old.articles), len(old.chunks)
            report.seconds = time.perf_counter() - started
            return report

        articles = list(kept.values())
        # export first, while the process holds only the model: its peak (+280 MB) then
        # does not land on top of the embedded corpus (bench/results/BUILD_MEMORY.md)
        ingest.note_query_model(settings, model, report)
        chunks, sentences = ingest.embed_chunks(articles, old if reusable else None, model,
                                                settings, report, progress)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model_name,
            "dimension": int(sentences.shape[1]),
            "articles": len(articles),
            "chunks": len(chunks),
            "chunking": chunking,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # (its uploads' and documents' paths are under it: rehomed if it moves)
            "index_dir": str(settings.index_dir.resolve()),
            "article_hashes": {a.id: a.content_hash for a in articles},
            "copies": now_copies,
        }
        write_generation(settings.index_dir, manifest, articles, chunks, sentences,
                         settings.hnsw_threshold,
                         built_from=old.path.name if old and old.fallback else None)
    report.written = True
    report.articles_total, report.chunks_total = len(articles), len(chunks)
    report.seconds = time.perf_counter() - started
    return report
