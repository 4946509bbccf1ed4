"""What both index writers (a directory, PostgreSQL) share: the articles the given paths
hold, their chunks' sentence vectors, and the report of what a build did."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.index.chunk import chunk_article
from qa.index.clean import clean_record
from qa.index.embed import get_embedder
from qa.index.generations import DOCUMENTS
from qa.index.load import Notice, find_files, load_file, location
from qa.index.onnx_embed import export_query_model

from qa.core.errors import NoArticlesError, QAError, UnusableFileError
from qa.core.records import DOCUMENT_PREFIX, Article, Chunk, file_of
from qa.core.settings import Settings

__all__ = ["BuildReport", "Progress", "StoredCopies", "embed_chunks", "embedding_text",
           "file_of", "from_given", "load_articles", "note_query_model", "roots_of",
           "under"]

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
    #: by content hash, the other places found holding an article stored once from one
    #: place (duplicates): should that one go, the article stays, from one of these.
    copies: dict[str, list[str]] = field(default_factory=dict)
    #: the files and folders read, resolved (a rebuild's include the index's own folders).
    roots: list[Path] = field(default_factory=list)

    @property
    def indexed_nothing(self) -> bool:
        """Whether nothing under the paths given could be indexed: every file was refused or
        skipped (and there was one), none added, kept, removed or found a copy of another."""
        return bool(self.notices) and not (self.added or self.updated or self.unchanged
                                           or self.removed or self.copies) \
            and all(n.action in ("refused", "skipped") for n in self.notices)

    def why_removed(self, path: str, rebuild: bool) -> str:
        """Why the build removed the article of `path` (one of `removed`)."""
        file = Path(file_of(path))
        if not file.exists():
            return "its file is gone"
        if any(n.path == str(file) for n in self.notices):
            return "its file could not be read this time (see above)"
        if rebuild and not any(root == file or root in file.parents for root in self.roots):
            return "not under the paths given to --rebuild"
        return "the record indexed from there is no longer in the file" if str(file) != path \
            else "the file no longer holds it"

    @property
    def kept_files(self) -> set[str]:
        """The files (as `qa.index.load.location` names them) whose articles the index holds
        after this build, among those it read: not the refused, empty or duplicate ones."""
        return {file_of(p) for p in (*self.added, *self.updated, *self.unchanged)}

    @property
    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} "
                f"removed, {len(self.unchanged)} unchanged; {self.chunks_embedded} chunks "
                f"embedded; index now holds {self.articles_total} articles in "
                f"{self.chunks_total} chunks ({self.seconds:.1f} s)")


class StoredCopies:
    """Tells a duplicate from a moved article. An article found in this build whose copy is
    stored from another place is a duplicate only if that place still holds it: a file this
    build did not read is read for that (another folder's, another shard's); one it did read
    no longer does, or it would have been found there. Otherwise the article moved (records
    shifted in a JSONL file, text moved to another file) and follows its new place."""

    def __init__(self, read_files: set[str], settings: Settings) -> None:
        self.read_files = read_files
        self.settings = settings
        self._held: dict[str, dict[str, str]] = {}  # file -> {content hash: record path}

    def elsewhere(self, stored_path: str, found: Article) -> bool:
        """Whether `found` is already stored from `stored_path`, which still holds it."""
        return stored_path != found.path and self.holds(stored_path, found.content_hash)

    def holds(self, path: str, content_hash: str) -> bool:
        """Whether the file of `path`, one this build did not read, holds the article with
        `content_hash` (a file it read would have been found holding it); a document added
        to a database store holds its article until it is deleted there."""
        if path.startswith(DOCUMENT_PREFIX):
            return True
        file = file_of(path)
        return file not in self.read_files and content_hash in self._records_of(file)

    def surviving(self, places: list[str], content_hash: str) -> str | None:
        """Where the first of `places` (an article's recorded copies) that still holds the
        article holds it now (a JSONL file's records may have moved)."""
        for place in places:
            if self.holds(place, content_hash):
                return place if place.startswith(DOCUMENT_PREFIX) else \
                    self._records_of(file_of(place))[content_hash]
        return None

    def _records_of(self, file: str) -> dict[str, str]:
        """The articles `file` holds (as first read in this build): content hash -> path."""
        if file not in self._held:
            self._held[file] = records_now(file, self.settings)
        return self._held[file]

    def still_copies(self, places: list[str], content_hash: str, stored_path: str,
                     found_now: list[str]) -> list[str]:
        """An article's copies after this build: those it found (`found_now`) and the
        recorded ones it did not read that still exist, not where it is stored from."""
        kept = [p for p in places if file_of(p) not in self.read_files
                and Path(file_of(p)).exists()]
        return sorted({*found_now, *kept} - {stored_path})


def records_now(file: str, settings: Settings) -> dict[str, str]:
    """The articles `file` holds now: content hash -> the path of its record (none when it is
    gone or no longer readable)."""
    try:
        records, _ = load_file(Path(file), settings.max_file_bytes,
                               cache_dir=settings.cache_dir)
    except UnusableFileError:
        return {}
    return {clean_record(r).content_hash: r.path for r in records}


def duplicate_notice(path: str, stored_from: str) -> Notice:
    """What a build says of a place holding an article it stores from another."""
    return Notice(path, "duplicate", f"same article as {stored_from}; stored once",
                  (stored_from,))


def note_duplicate(report: BuildReport, content_hash: str, path: str, stored_from: str) -> None:
    """Report `path` as a duplicate of the article stored from `stored_from`, recorded as one
    of its copies."""
    report.notices.append(duplicate_notice(path, stored_from))
    report.copies.setdefault(content_hash, []).append(path)


def kept_notice(path: str, survivor: str) -> Notice:
    """What a build says of an article whose file lost it while a copy still holds it."""
    return Notice(path, "kept", f"its file no longer holds it, but {survivor} does: stored "
                                "from there", (survivor,))


def roots_of(paths: Iterable[str | Path]) -> list[Path]:
    """Where the articles of `paths` are recorded: a folder resolved, a file as `location`
    names it (a link given as a file is the link: its article is recorded at the link's
    name, and so is the article of whatever the link leads to next)."""
    roots = []
    for given in paths:
        path = Path(given).expanduser()
        try:
            roots.append(path.resolve() if path.is_dir() else Path(location(path)))
        except (ValueError, OSError, RuntimeError):  # no usable path: loading says why
            roots.append(path)
    return roots


def from_given(articles: Iterable[Article], roots: list[Path]) -> bool:
    """Whether any of `articles` comes from under `roots` (the paths a user gave, not the
    index's own folders that a rebuild reads too)."""
    return any(under(article.path, roots) for article in articles)


def under(path: str, roots: list[Path]) -> bool:
    """Whether `path` (a file, or a record of one: "a.jsonl#3") is one of `roots` or inside
    one."""
    p = Path(file_of(path))
    return any(p == root or root in p.parents for root in roots)


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded for a chunk: its text, after the article's headline as context.

    A title made from the text's first sentence (articles without a headline) is left out:
    on NewsQA it added 17% more tokens to embed for no gain (recall@5 77.5% with it, 77.4%
    without; answer accuracy 38.6% with, 39.3% without)."""
    if article.title and article.title.rstrip("…") not in article.text[:400]:
        return f"{article.title}\n{chunk.text}"
    return chunk.text


#: how the file of a document added under its own id is named in `<index>/documents/`
#: ("doc-ID.json", or "doc~HASH.json" for an id a file name cannot hold).
KEYED_DOCUMENT = ("doc-", "doc~")


def keyed_document(article: Article, key: str) -> Article:
    """A document added under its own id (`key`, qa.vectorstore) as an article of its own:
    the id is part of its identity, so the same text under two ids is two documents, each
    replaced and deleted alone."""
    digest = hashlib.sha256(f"{DOCUMENT_PREFIX}{key}\n{article.content_hash}".encode()).hexdigest()
    return replace(article, id=digest[:16], content_hash=digest)


def load_articles(paths: Iterable[str | Path], settings: Settings,
                  report: BuildReport) -> tuple[list[Article], set[str]]:
    """The articles under `paths`, cleaned and each stored once, and the files read;
    what was refused, empty or a duplicate goes into `report.notices`. A file of the
    index's own documents folder named as `KEYED_DOCUMENT` says holds a document added under
    an id of its user's (`keyed_document`)."""
    documents = str(settings.index_dir.resolve() / DOCUMENTS)
    found: list[tuple[Path, Path]] = []  # (file, the folder it must lie in)
    for given in paths:
        files, notices = find_files([given])
        report.notices.extend(notices)
        folder = Path(given).expanduser()
        found += [(file, folder if folder.is_dir() else folder.parent) for file in files]
    articles: list[Article] = []
    seen: dict[str, str] = {}
    read_files: set[str] = set()
    visited: set[str] = set()
    for file, folder in found:
        resolved = location(file)
        if resolved in visited:  # named twice (a folder and a file in it): read once
            continue
        visited.add(resolved)
        try:
            records, file_notices = load_file(file, settings.max_file_bytes, within=folder,
                                              cache_dir=settings.cache_dir)
        except UnusableFileError as exc:
            report.notices.append(Notice(exc.path, exc.action, exc.reason))
            continue
        read_files.add(resolved)
        report.notices.extend(file_notices)
        for record in records:
            record.path = resolved + record.path[len(str(file)):]
            article = clean_record(record)
            stem = Path(resolved).stem
            if stem.startswith(KEYED_DOCUMENT) and str(Path(resolved).parent) == documents:
                article = keyed_document(article, stem)
            if not article.text.strip():
                report.notices.append(Notice(record.path, "skipped", "no article text"))
            elif article.id in seen:
                note_duplicate(report, article.content_hash, record.path, seen[article.id])
            else:
                seen[article.id] = record.path
                articles.append(article)
                if article.published and article.published_date is None:
                    report.notices.append(Notice(
                        record.path, "undated", f"its date {article.published[:40]!r} is not "
                        "one that can be read (2025-05-03, 3 May 2025, May 3, 2025, ...): date "
                        "filters leave the article out"))
    return articles, read_files


def nothing_to_index(paths: Iterable[str | Path], report: BuildReport,
                     consequence: str = "") -> NoArticlesError:
    """The error for a build that found no article under `paths`, with the reasons in
    `report.notices`; `consequence` says what that left as it was."""
    problems = "; ".join(str(n) for n in report.notices) or "no article files found"
    return NoArticlesError(f"Nothing to index under {', '.join(map(str, paths))}{consequence}: "
                           f"{problems}")


def note_query_model(settings: Settings, model: str | None, report: BuildReport) -> None:
    """Export `model`'s ONNX query encoder to the cache, or say in `report` why not."""
    reason = export_query_model(settings.cache_dir, get_embedder(model))
    if reason is not None:
        report.notices.append(Notice(str(settings.cache_dir), "slower questions",
                                     f"no ONNX query model ({reason}); questions are "
                                     "embedded with sentence-transformers"))


def embed_chunks(articles: list[Article], old, model: str | None, settings: Settings,
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
    # a slice's token embeddings stay small, and progress is told ten times or more
    batch = settings.embed_batch_size
    step = batch * min(8, max(1, len(todo) // (batch * 10)))
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
