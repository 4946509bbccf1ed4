"""Writing an index into PostgreSQL + pgvector (`qa index PATH --store postgresql://...`).

Each article is written in ONE transaction keyed by its content hash (`INSERT ... ON CONFLICT
DO NOTHING`): its row, its chunks with exact character offsets, its sentence vectors
(halfvec, HNSW) and its BM25 postings, and the corpus counters last. Two writers that meet on
the same article never duplicate it (the second one's insert waits for the first's commit,
then does nothing), and a writer killed at any moment leaves no partial article visible: an
uncommitted transaction is rolled back by the server. Writers on one folder split it with
`shard=(i, n)` (a stable hash of each file's path under its folder). Only new articles are
embedded: the others are already in the database, by hash.

The lexical side is BM25 over postings tables, not PostgreSQL full-text search: the same
tokenizer and scores as the directory store (see bench/results/POSTGRES.md for the
comparison). The schema and its migrations are in `postgres_schema.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qa.index import ingest
from qa.index.build import CHUNKER_VERSION, build_index, own_article_folders
from qa.index.embed import get_embedder, resolve_model
from qa.index.generations import UPLOADS, uploads_owner
from qa.index.ingest import BuildReport, Progress
from qa.index.load import find_files, location
from qa.index.postgres_schema import (
    UPLOADED_BEFORE_4,
    describe_url,
    migrate,
    read_meta,
    schema_version,
    set_dimension,
    store_connection,
)

from qa.core.errors import IndexMismatchError, IndexNotFoundError, InputError
from qa.core.records import DOCUMENT_PREFIX, Article, Chunk, name_of
from qa.core.settings import Settings
from qa.core.text import tokenize

if TYPE_CHECKING:
    import numpy as np
    import psycopg

__all__ = ["delete_articles", "index_into", "index_into_postgres", "names_uploaded_elsewhere",
           "parse_shard", "recorded_copies", "write_article", "write_articles"]

#: Articles embedded together before each is written in its own transaction.
_BATCH = 16


@dataclass(frozen=True)
class _Place:
    """Where a stored article is kept: the `path` it was stored from and, for one `uploaded`
    in a chat, the id of the server it was `uploaded_to` (None for uploads from before
    schema version 5)."""

    path: str
    uploaded: bool = False
    uploaded_to: str | None = None


def parse_shard(text: str | None) -> tuple[int, int]:
    """`"i/n"` (0 <= i < n) as `(i, n)`; None means the whole folder, `(0, 1)`."""
    if text is None:
        return 0, 1
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        i, n = -1, 0
    if not 0 <= i < n:
        raise InputError(f"--shard must be i/n with 0 <= i < n (e.g. 0/2 and 1/2), not {text!r}.")
    return i, n


def _shard_files(paths: list[str | Path], shard: tuple[int, int]) -> list[Path]:
    """The files under `paths` that belong to shard `i` of `n`: by a hash of each file's path
    relative to the folder given, so every writer agrees wherever the folder is mounted."""
    i, n = shard
    files: list[Path] = []
    for given in paths:
        root = Path(given).expanduser()
        found, _ = find_files([root])
        for file in found:
            relative = os.path.relpath(location(file), location(root)) if root.is_dir() \
                else file.name
            if int(hashlib.sha1(relative.encode()).hexdigest()[:8], 16) % n == i:
                files.append(file)
    return files


def index_into(paths: Iterable[str | Path], settings: Settings, *, rebuild: bool = False,
               shard: str | None = None, progress: Progress | None = None) -> BuildReport:
    """Index `paths` into the store `settings` names: the PostgreSQL database
    `settings.store`, else the index directory (`build_index`). `shard` ("i/n") splits a
    folder among writers of one database."""
    if settings.store and rebuild and shard is not None:
        raise InputError("--rebuild empties the whole store, so writers of shards would empty "
                         "each other's work: rebuild with one writer, without --shard, then "
                         "update with the shards.")
    if settings.store:
        return index_into_postgres(paths, settings.store, settings, rebuild=rebuild,
                                   shard=parse_shard(shard), progress=progress)
    if shard is not None:
        raise InputError("--shard splits a folder among writers of one PostgreSQL store: "
                         "give --store postgresql://... (an index directory has one writer).")
    return build_index(paths, settings, rebuild=rebuild, progress=progress)


def index_into_postgres(paths: Iterable[str | Path], url: str, settings: Settings | None = None,
                        *, rebuild: bool = False, shard: tuple[int, int] = (0, 1),
                        progress: Progress | None = None) -> BuildReport:
    """Index the articles under `paths` (shard `i` of `n` of their files) into the store at
    `url`. New articles are embedded and written one transaction each; articles whose files
    under `paths` are gone or changed are removed. Raises `StoreUnavailableError`,
    `IndexMismatchError` (another model or chunking, or a newer schema) or `NoArticlesError`."""
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    given = list(paths)
    own = own_article_folders(settings.index_dir, (UPLOADS,)) if rebuild else []
    paths = given + own  # (a rebuild reads this server's chat uploads; others' are stored)
    where = describe_url(url)
    given_roots = ingest.roots_of(given)
    report = BuildReport(None, store=where, roots=given_roots + ingest.roots_of(own))
    files = _shard_files(paths, shard) if shard != (0, 1) else paths
    found, read_files = ingest.load_articles(files, settings, report) if files else ([], set())
    if rebuild and not ingest.from_given(found, given_roots):  # before anything
        # is emptied: nothing (or this server's uploads alone) would replace it
        raise ingest.nothing_to_index(given, report, f", so --rebuild left the store at "
                                                     f"{where} as it was")

    with store_connection(url) as connection, (
            connection.transaction() if rebuild else contextlib.nullcontext()):
        # --rebuild is one transaction from emptying the store to its last article: readers
        # answer from the old articles until all the new ones are in, and a writer that
        # dies or fails leaves the old ones as they were
        _enter_as_writer(connection, where, rebuild)
        _rehome_uploads(connection, settings)
        found = _without_others_uploads(connection, found, settings, report)
        emptied: list[str] = []
        from_store: dict[str, _Place] = {}  # the articles carried over from their text
        if rebuild and (version := schema_version(connection)):
            # documents, and uploads to any server, have no file here to read again
            unique = {a.content_hash: a for a in found}  # each once: a file first
            paths_read = {a.path for a in found}
            for article, place in _kept_by_store(connection, version):
                if article.path in paths_read:  # (its file's text now is the one)
                    continue
                first = unique.setdefault(article.content_hash, article)
                if first is not article and _on_another_server(place, settings):
                    # ... but not over another server's upload, which its page lists: the
                    # file is its copy (deleting the file must not take the article away)
                    unique[article.content_hash] = article
                    ingest.note_duplicate(report, article.content_hash, first.path,
                                          article.path)
                from_store[article.content_hash] = place
            found = list(unique.values())
            emptied = [row[0] for row in connection.execute("SELECT path FROM articles")]
        model = _prepare(connection, where, settings, rebuild)
        stored = _stored_places(connection, [a.content_hash for a in found])
        new: list[Article] = []
        copies = ingest.StoredCopies(read_files, settings)
        for article in found:
            if article.content_hash not in stored:
                new.append(article)
                continue
            place = stored[article.content_hash]
            previous = place.path
            if copies.elsewhere(previous, article) or (
                    previous != article.path and _another_servers_upload(place, settings)):
                ingest.note_duplicate(report, article.content_hash, article.path, previous)
                continue
            marks = _upload_marks(article.path, settings)
            if previous != article.path or (place.uploaded_to is None
                                            and marks != (place.uploaded, None)):
                # the file moved: the article follows it; or an upload from before servers
                # had ids is claimed by the server whose folder holds it (not one another
                # server's id names: its folder may have the same path and the same file)
                connection.execute("UPDATE articles SET path = %s, name = %s, uploaded = %s, "
                                   "uploaded_to = %s WHERE content_hash = %s",
                                   (article.path, article.name, *marks, article.content_hash))
            report.unchanged.append(article.path)
        kept_hashes = {a.content_hash for a in found}
        _record_copies(connection, read_files, report.copies)
        replaced = _paths_held(connection, [a.path for a in new])
        for path, content_hash in replaced.items():  # a new version takes its path: a copy
            if content_hash not in kept_hashes:  # elsewhere keeps the old one, if there is one
                _keep_from_copy(connection, content_hash, path, copies, report)
        for article in new:
            (report.updated if article.path in replaced else report.added).append(article.path)
        skipped, stale, taken = _write_new(connection, new, model, settings, report,
                                           progress, from_store)
        _settle_skipped(connection, skipped, report)
        _skip_taken([a.path for a in taken], report)
        _set_aside(stale, read_files, report)
        _record_copies(connection, set(), report.copies)  # of the articles written just now
        report.removed.extend(_remove_gone(connection, report.roots, copies, kept_hashes,
                                           uploads_owner(settings.index_dir), report))
        report.removed.extend(sorted(set(emptied) - {a.path for a in found}))
        report.articles_total, report.chunks_total = connection.execute(
            "SELECT articles, chunks FROM corpus_stats").fetchone()
    if not found and not report.articles_total and shard == (0, 1):
        raise ingest.nothing_to_index(paths, report)
    report.written = bool(report.added or report.updated or report.removed)
    ingest.note_query_model(settings, model, report)
    report.seconds = time.perf_counter() - started
    return report


def _rehome_uploads(connection: psycopg.Connection, settings: Settings) -> None:
    """Store this server's uploads (by its id) from its uploads folder as it is now: its
    index folder was moved since they were stored, and a Remove there (which indexes that
    folder again) would otherwise miss them."""
    own = uploads_owner(settings.index_dir)
    if own is None or schema_version(connection) < 5:
        return
    folder = _own_uploads(settings)
    for content_hash, path in connection.execute(
            "SELECT content_hash, path FROM articles WHERE uploaded_to = %s AND NOT "
            "starts_with(path, %s)", (own, f"{folder}/")).fetchall():
        here = f"{folder}/{name_of(path)}{path[len(ingest.file_of(path)):]}"  # (and its #n)
        connection.execute("UPDATE articles SET path = %s WHERE content_hash = %s AND path = %s "
                           "AND NOT EXISTS (SELECT 1 FROM articles WHERE path = %s)",
                           (here, content_hash, path, here))


def _without_others_uploads(connection: psycopg.Connection, found: list[Article],
                            settings: Settings, report: BuildReport) -> list[Article]:
    """`found` without the articles read from a path another server's upload is stored from
    (servers whose index folders have the same path): written, they would replace it."""
    if schema_version(connection) < 5:
        return found
    held = {row[0] for row in connection.execute(
        f"SELECT path FROM articles WHERE {_OTHERS_UPLOAD} AND path = ANY(%s)",
        (uploads_owner(settings.index_dir), [a.path for a in found]))}
    _skip_taken(sorted(held), report)
    return [a for a in found if a.path not in held]


#: an article uploaded to another server than the one whose id is the parameter.
_OTHERS_UPLOAD = "uploaded_to IS NOT NULL AND uploaded_to IS DISTINCT FROM %s"


def _skip_taken(paths: list[str], report: BuildReport) -> None:
    """Report the files not indexed because another server's upload is stored under their
    path (servers whose index folders have the same path)."""
    from qa.index.load import Notice

    for path in paths:
        _unlist(path, report)
        report.notices.append(Notice(path, "skipped", "another server's upload is stored "
                                     "under this path (its index folder has the same path): "
                                     "rename this file to index it"))


def _unlist(path: str, report: BuildReport) -> None:
    """Take `path` off the report's added and updated articles: it was not written."""
    for listed in (report.added, report.updated):
        if path in listed:
            listed.remove(path)


def _settle_skipped(connection: psycopg.Connection, skipped: list[Article],
                    report: BuildReport) -> None:
    """Report the articles another writer stored while this one embedded them: unchanged
    when stored from the same place, else duplicates whose places are recorded as copies."""
    holders = _stored_paths(connection, [a.content_hash for a in skipped])
    elsewhere: dict[str, list[str]] = {}
    for article in skipped:
        _unlist(article.path, report)
        holder = holders.get(article.content_hash, article.path)
        if holder == article.path:
            report.unchanged.append(article.path)
            continue
        report.notices.append(ingest.duplicate_notice(article.path, holder))
        elsewhere.setdefault(article.content_hash, []).append(article.path)
    if elsewhere:
        _record_copies(connection, set(), elsewhere)


def _set_aside(stale: list[Article], read_files: set[str], report: BuildReport) -> None:
    """Report the articles not written because their file changed while they were embedded;
    their files count as not read, so that what the store holds from them stays."""
    from qa.index.load import Notice

    for article in stale:
        _unlist(article.path, report)
        read_files.discard(ingest.file_of(article.path))
        report.notices.append(Notice(article.path, "skipped", "the file changed while it was "
                                     "being indexed: index it again for its new text"))


def _prepare(connection: psycopg.Connection, where: str, settings: Settings,
             rebuild: bool) -> str | None:
    """Create or migrate the store and record (or check) its model and chunking; with
    `rebuild`, empty it first. Returns the model to embed with."""
    try:
        existing = read_meta(connection, where) if schema_version(connection) else {}
    except IndexNotFoundError:  # made, but a first writer stopped before recording the model
        existing = {}
    model = settings.model or existing.get("model")
    model_name = resolve_model(model)[0]
    chunking = f"{CHUNKER_VERSION}/{settings.chunk_words}/{settings.chunk_overlap_sentences}"
    if not rebuild:  # refused before the model loads
        _check_same(existing, {"model": model_name, "chunking": chunking}, where)
    embedder = get_embedder(model)
    migrate(connection, where, embedder.dimension)
    wanted = {"model": model_name, "dimension": str(embedder.dimension), "chunking": chunking}
    with connection.transaction():
        if rebuild:
            connection.execute("DELETE FROM articles")
            connection.execute("UPDATE corpus_stats SET articles = 0, chunks = 0, "
                               "sentences = 0, chunk_words = 0, article_words = 0, "
                               "generation = generation + 1")
            connection.execute("DELETE FROM store_meta")
            set_dimension(connection, embedder.dimension)
        for key, value in wanted.items():
            connection.execute("INSERT INTO store_meta (key, value) VALUES (%s, %s) "
                               "ON CONFLICT (key) DO NOTHING", (key, value))
        recorded = dict(connection.execute("SELECT key, value FROM store_meta").fetchall())
    _check_same(recorded, wanted, where)
    return model


def _kept_by_store(connection: psycopg.Connection,
                   version: int) -> list[tuple[Article, _Place]]:
    """The articles a rebuild keeps from their stored text, whole, with where each is kept:
    those added as documents (`qa.vectorstore`) and those uploaded in the chat of any server
    (schema `version`)."""
    from qa.index.postgres_read import ARTICLE_COLUMNS, article_of

    uploaded = "uploaded" if version >= 4 else UPLOADED_BEFORE_4
    uploaded_to = "uploaded_to" if version >= 5 else "NULL"
    rows = connection.execute(f"SELECT {uploaded}, {uploaded_to}, {ARTICLE_COLUMNS} FROM "
                              f"articles WHERE starts_with(path, %s) OR {uploaded}",
                              (DOCUMENT_PREFIX,)).fetchall()
    kept = [(article_of(row[2:]), row[:2]) for row in rows]
    return [(article, _Place(article.path, *place)) for article, place in kept]


def _check_same(recorded: dict[str, str], wanted: dict[str, str], where: str) -> None:
    """`IndexMismatchError` unless the store (when it records them) holds vectors made as
    `wanted` says (model, dimension, chunking)."""
    if any(key in recorded and recorded[key] != value for key, value in wanted.items()):
        raise IndexMismatchError(
            f"The PostgreSQL store at {where} holds vectors of model {recorded.get('model')!r} "
            f"(chunking {recorded.get('chunking')}), not {wanted['model']!r} (chunking "
            f"{wanted['chunking']}); index with --model {recorded.get('model')}, or replace "
            "everything: qa index PATH... --rebuild --store URL")


def _stored_places(connection: psycopg.Connection, hashes: list[str]) -> dict[str, _Place]:
    """Of `hashes`, those stored: content hash -> where it is kept."""
    rows = connection.execute("SELECT content_hash, path, uploaded, uploaded_to FROM articles "
                              "WHERE content_hash = ANY(%s)", (hashes,)).fetchall()
    return {content_hash: _Place(*place) for content_hash, *place in rows}


def _stored_paths(connection: psycopg.Connection, hashes: list[str]) -> dict[str, str]:
    """Of `hashes`, those stored: content hash -> the path stored from."""
    return {content_hash: place.path for content_hash, place in
            _stored_places(connection, hashes).items()}


def _on_another_server(place: _Place, settings: Settings) -> bool:
    """Whether an article kept by the store (an upload or a document) was uploaded to another
    server's chat, not this one's: by the server's id, or for uploads from before ids by
    whether its file is in this server's uploads folder."""
    if place.path.startswith(DOCUMENT_PREFIX):
        return False
    if place.uploaded_to is not None:
        return place.uploaded_to != uploads_owner(settings.index_dir)
    return Path(ingest.file_of(place.path)).parent != _own_uploads(settings)


def names_uploaded_elsewhere(settings: Settings) -> set[str]:
    """The file names in this server's uploads folder under which the PostgreSQL store holds
    another server's uploads (servers whose index folders have the same path): a new upload
    named so would replace that server's article. Empty for an index directory."""
    if not settings.store:
        return set()
    uploads = _own_uploads(settings)
    own = uploads_owner(settings.index_dir)
    with store_connection(settings.store) as connection:
        version = schema_version(connection)
        if version < 4:
            return set()
        uploaded_to = "uploaded_to" if version >= 5 else "NULL"
        rows = connection.execute(f"SELECT path, {uploaded_to} FROM articles WHERE uploaded "
                                  "AND starts_with(path, %s)", (f"{uploads}/",)).fetchall()
    files = [(Path(ingest.file_of(path)), to) for path, to in rows]
    return {file.name for file, to in files if file.parent == uploads and (
        to != own if to is not None else not file.exists())}  # (from before ids: maybe theirs)


def _own_uploads(settings: Settings) -> Path:
    """This server's uploads folder (`<QA_INDEX_DIR>/uploads`), as paths under it are stored."""
    return (settings.index_dir / UPLOADS).resolve()


def _upload_marks(path: str, settings: Settings) -> tuple[bool, str | None]:
    """Whether an article stored from the file at `path` was uploaded to this server's chat,
    and if so this server's id."""
    if Path(ingest.file_of(path)).parent != _own_uploads(settings):
        return False, None
    return True, uploads_owner(settings.index_dir, make=True)


def _another_servers_upload(place: _Place, settings: Settings) -> bool:
    """Whether an article was uploaded to another server whose file is not on this machine
    to read: that server's page lists it, so it still holds it."""
    return place.uploaded and _on_another_server(place, settings) and \
        not Path(ingest.file_of(place.path)).exists()


def _paths_held(connection: psycopg.Connection, paths: list[str]) -> dict[str, str]:
    """Of `paths`, those an article is stored from: path -> its content hash."""
    rows = connection.execute("SELECT path, content_hash FROM articles WHERE path = ANY(%s)",
                              (paths,)).fetchall()
    return dict(rows)


def _write_new(connection: psycopg.Connection, articles: list[Article], model: str | None,
               settings: Settings, report: BuildReport, progress: Progress | None,
               from_store: dict[str, _Place] | None = None
               ) -> tuple[list[Article], list[Article], list[Article]]:
    """Embed `articles` a batch at a time and write each in its own transaction; those whose
    content hash is in `from_store` were carried over from the store's text (no file to check;
    uploads stay marked as such, to the server they were uploaded to), and the files in this
    server's uploads folder are marked uploaded to this server. Returns the articles another
    writer stored meanwhile, those whose file no longer holds them (it changed while they
    were embedded: another writer may have stored its new text already), and those whose
    path another server's upload took meanwhile; nothing of these was written."""
    skipped: list[Article] = []
    stale: list[Article] = []
    taken: list[Article] = []
    from_store = from_store or {}
    # file -> (its size and time when read, what it held then): read again when it changes
    held_now: dict[str, tuple[tuple[int, int] | None, dict[str, str]]] = {}
    for begin in range(0, len(articles), _BATCH):
        batch = articles[begin:begin + _BATCH]
        scratch = BuildReport(None, store=report.store)
        chunks, *_, sentences = ingest.embed_chunks(batch, None, model, settings, scratch, None)
        report.chunks_embedded += scratch.chunks_embedded
        chunk_row = sentence_row = 0
        for article in batch:
            count = sum(1 for c in chunks if c.article_id == article.id)
            own = chunks[chunk_row:chunk_row + count]
            vectors = sum(len(c.sentences) for c in own)
            chunk_row, sentence_row = chunk_row + count, sentence_row + vectors
            document = article.path.startswith(DOCUMENT_PREFIX)
            kept = from_store.get(article.content_hash)
            uploaded_to = kept.uploaded_to if kept else None
            uploaded = not document and kept is not None
            if not document and not uploaded:
                file = ingest.file_of(article.path)
                stamp = _stamp(file)
                if file not in held_now or held_now[file][0] != stamp:
                    held_now[file] = (stamp, ingest.records_now(file, settings))
                if article.content_hash not in held_now[file][1]:
                    stale.append(article)
                    continue
                uploaded, uploaded_to = _upload_marks(file, settings)
            outcome = write_article(connection, article, own,
                                    sentences[sentence_row - vectors:sentence_row],
                                    uploaded=uploaded, uploaded_to=uploaded_to)
            if outcome != "written":
                (skipped if outcome == "stored" else taken).append(article)
        if progress is not None:
            progress(min(begin + _BATCH, len(articles)), len(articles))
    return skipped, stale, taken


def _stamp(file: str) -> tuple[int, int] | None:
    """A file's size and modification time (None when it is gone)."""
    try:
        status = os.stat(file)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def write_article(connection: psycopg.Connection, article: Article, chunks: list[Chunk],
                  sentence_vectors: np.ndarray, *, uploaded: bool = False,
                  uploaded_to: str | None = None) -> Literal["written", "stored", "taken"]:
    """Write one article with its chunks, sentence vectors and postings in one transaction;
    an older version from the same path is replaced in it, unless that is another server's
    upload (servers whose index folders have the same path; it took the path while this
    article was embedded): "taken", nothing written. `uploaded`: it came from a chat upload
    (a rebuild keeps it), to the server whose id is `uploaded_to`. "stored" when the article
    (same content hash) is already stored: nothing is written then either."""
    from pgvector import HalfVector

    chunk_terms = [Counter(tokenize(f"{article.title}\n{c.text}")) for c in chunks]
    article_terms = Counter(tokenize(f"{article.title}\n{article.text}"))
    chunk_words = [sum(t.values()) for t in chunk_terms]
    words = sum(article_terms.values())
    with connection.transaction():
        # one writer of a path at a time: the next one's replacing sees this one's article
        connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           (article.path,))
        if connection.execute(f"SELECT 1 FROM articles WHERE path = %s AND {_OTHERS_UPLOAD}",
                              (article.path, uploaded_to)).fetchone():
            return "taken"
        inserted = connection.execute(
            "INSERT INTO articles (content_hash, id, path, name, title, text, source, author, "
            "published, published_on, url, section, captions, chunk_count, sentence_count, "
            "chunk_words, words, uploaded, uploaded_to) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING id",
            (article.content_hash, article.id, article.path, article.name, article.title,
             article.text, article.source, article.author, article.published,
             article.published_date, article.url, article.section,
             _json(list(article.captions)), len(chunks), len(sentence_vectors),
             sum(chunk_words), words, uploaded, uploaded_to)).fetchone()
        if inserted is None:
            return "stored"
        _delete_where(connection, "path = %s AND content_hash <> %s",
                      (article.path, article.content_hash))
        with connection.cursor() as cursor:
            with cursor.copy("COPY chunks (id, article_id, seq, start_offset, end_offset, "
                             "text, words) FROM STDIN") as copy:
                for seq, (chunk, n) in enumerate(zip(chunks, chunk_words)):
                    copy.write_row((chunk.id, article.id, seq, chunk.start, chunk.end,
                                    chunk.text, n))
            with cursor.copy("COPY sentences (chunk_id, i, start_offset, end_offset, "
                             "embedding) FROM STDIN") as copy:
                row = 0
                for chunk in chunks:
                    for i, (start, end) in enumerate(chunk.sentences):
                        vector = sentence_vectors[row]
                        copy.write_row((chunk.id, i, start, end,
                                        HalfVector(vector) if vector.any() else None))
                        row += 1
            with cursor.copy("COPY chunk_terms (term, chunk_id, tf, words) FROM STDIN") as copy:
                for chunk, terms, n in zip(chunks, chunk_terms, chunk_words):
                    for term, tf in terms.items():
                        copy.write_row((term, chunk.id, tf, n))
            with cursor.copy("COPY article_terms (term, article_id, tf, words) "
                             "FROM STDIN") as copy:
                for term, tf in article_terms.items():
                    copy.write_row((term, article.id, tf, words))
        connection.execute(  # last: the one row every writer updates is held briefly
            "UPDATE corpus_stats SET articles = articles + 1, chunks = chunks + %s, "
            "sentences = sentences + %s, chunk_words = chunk_words + %s, "
            "article_words = article_words + %s, generation = generation + 1",
            (len(chunks), len(sentence_vectors), sum(chunk_words), words))
    return "written"


def write_articles(url: str, articles: list[Article], settings: Settings | None = None) -> int:
    """Embed and write `articles` (already cleaned) into the store at `url`, each replacing
    what was stored from its path before in the same transaction (a document added again
    with other text); returns how many were new. For callers that hold articles rather than
    files (the LangChain adapter)."""
    settings = settings or Settings.from_env()
    where = describe_url(url)
    with store_connection(url) as connection:
        _enter_as_writer(connection, where, rebuild=False)
        model = _prepare(connection, where, settings, rebuild=False)
        stored = _stored_paths(connection, [a.content_hash for a in articles])
        new = [a for a in articles if a.content_hash not in stored]
        skipped, *_ = _write_new(connection, new, model, settings,
                                 BuildReport(None, store=where), None)  # (documents: no file)
        copies: dict[str, list[str]] = {}  # stored from a file too: that file's copy is this
        for article in articles:
            holder = stored.get(article.content_hash)
            if holder is not None and holder != article.path:
                copies.setdefault(article.content_hash, []).append(article.path)
        _record_copies(connection, set(), copies)
    return len(new) - len(skipped)


def delete_articles(url: str, ids: list[str], settings: Settings | None = None, *,
                    copies: Sequence[str] = ()) -> int:
    """Delete the documents with these article ids, and the recorded `copies` (documents of
    articles stored from a file, by their paths); returns how many documents were deleted. One
    whose text a recorded copy (an indexed file) still holds stays, stored from there."""
    settings = settings or Settings.from_env()
    report = BuildReport(None, store=describe_url(url))
    deleted = 0
    with store_connection(url) as connection:
        _enter_as_writer(connection, describe_url(url), rebuild=False)
        if copies:
            deleted += len(connection.execute("DELETE FROM article_copies WHERE path = ANY(%s) "
                                              "RETURNING path", (list(copies),)).fetchall())
        holder = ingest.StoredCopies(set(), settings)
        for content_hash, path in connection.execute(
                "SELECT content_hash, path FROM articles WHERE id = ANY(%s)", (ids,)).fetchall():
            connection.execute("DELETE FROM article_copies WHERE content_hash = %s AND "
                               "path = %s", (content_hash, path))
            if not _keep_from_copy(connection, content_hash, path, holder, report):
                deleted += len(_delete_where(connection, "content_hash = %s AND path = %s",
                                             (content_hash, path)))
    return deleted


def recorded_copies(url: str, paths: list[str]) -> list[str]:
    """Those of `paths` recorded as copies of a stored article (stored from elsewhere)."""
    with store_connection(url) as connection:
        return [row[0] for row in connection.execute(
            "SELECT DISTINCT path FROM article_copies WHERE path = ANY(%s)", (paths,))]


#: pg advisory lock key that every writer holds shared, and a rebuild alone ("qa-write").
_WRITERS_LOCK = 0x71612D7772697465


def _enter_as_writer(connection: psycopg.Connection, where: str, rebuild: bool) -> None:
    """Take the store's writer lock: shared for the connection's life, or alone for a
    rebuild's transaction. `InputError` at once, rather than waiting for hours, when a
    rebuild runs (or, for a rebuild, when other writers do)."""
    if rebuild:
        if not connection.execute("SELECT pg_try_advisory_xact_lock(%s)",
                                  (_WRITERS_LOCK,)).fetchone()[0]:
            raise InputError(f"Other writers are indexing into the PostgreSQL store at {where} "
                             "now: rebuild it when they are done.")
    elif not connection.execute("SELECT pg_try_advisory_lock_shared(%s)",
                                (_WRITERS_LOCK,)).fetchone()[0]:
        raise InputError(f"The PostgreSQL store at {where} is being rebuilt (qa index "
                         "--rebuild): index again when that is done.")


#: Deletes articles and takes them off the corpus counters in one statement; `{condition}`
#: is a constant SQL fragment, its values are parameters.
_DELETE = """WITH gone AS (DELETE FROM articles WHERE {condition}
                 RETURNING path, chunk_count, sentence_count, chunk_words, words),
    counted AS (UPDATE corpus_stats SET articles = articles - (SELECT count(*) FROM gone),
                chunks = chunks - (SELECT coalesce(sum(chunk_count), 0) FROM gone),
                sentences = sentences - (SELECT coalesce(sum(sentence_count), 0) FROM gone),
                chunk_words = chunk_words - (SELECT coalesce(sum(chunk_words), 0) FROM gone),
                article_words = article_words - (SELECT coalesce(sum(words), 0) FROM gone),
                generation = generation + 1
                WHERE EXISTS (SELECT 1 FROM gone))
SELECT path FROM gone"""


def _delete_where(connection: psycopg.Connection, condition: str,
                  values: tuple) -> list[str]:
    """Delete the articles matching `condition` and return their paths."""
    rows = connection.execute(_DELETE.format(condition=condition), values).fetchall()
    return [row[0] for row in rows]


def _record_copies(connection: psycopg.Connection, read_files: set[str],
                   copies: dict[str, list[str]]) -> None:
    """Record where else a build found articles stored once, in one transaction: the copies
    recorded in the files it read are replaced by what it found there."""
    pairs = [(content_hash, path) for content_hash, paths in copies.items() for path in paths]
    with connection.transaction():
        if read_files:
            connection.execute("DELETE FROM article_copies WHERE split_part(path, '#', 1) = "
                               "ANY(%s)", (sorted(read_files),))
        if pairs:
            connection.execute(
                "INSERT INTO article_copies (content_hash, path) SELECT c.h, c.p FROM "
                "unnest(%s::text[], %s::text[]) AS c(h, p) WHERE EXISTS (SELECT 1 FROM "
                "articles a WHERE a.content_hash = c.h) ON CONFLICT DO NOTHING",
                ([h for h, _ in pairs], [p for _, p in pairs]))


def _keep_from_copy(connection: psycopg.Connection, content_hash: str, path: str,
                    holder: ingest.StoredCopies, report: BuildReport) -> bool:
    """Store the article with `content_hash`, whose `path` no longer holds it, from the first
    recorded copy that still does; False when none does."""
    places = [row[0] for row in connection.execute(
        "SELECT path FROM article_copies WHERE content_hash = %s ORDER BY path",
        (content_hash,))]
    survivor = holder.surviving(places, content_hash)
    if survivor is None:
        return False
    with connection.transaction():  # (unless another writer moved it meanwhile)
        connection.execute("UPDATE articles SET path = %s, name = %s, uploaded = %s, "
                           "uploaded_to = %s WHERE content_hash = %s AND path = %s",
                           (survivor, name_of(survivor), *_upload_marks(survivor, holder.settings),
                            content_hash, path))
        connection.execute("DELETE FROM article_copies WHERE content_hash = %s AND "
                           "split_part(path, '#', 1) = %s", (content_hash,
                                                            ingest.file_of(survivor)))
    report.notices.append(ingest.kept_notice(path, survivor))
    return True


def _remove_gone(connection: psycopg.Connection, roots: list[Path], holder: ingest.StoredCopies,
                 kept_hashes: set[str], own_uploads: str | None,
                 report: BuildReport) -> list[str]:
    """Remove the articles under `roots` whose file is gone, or was read and no longer holds
    them, unless a recorded copy still holds one: it is then stored from there. Each in its
    own transaction. Uploads to another server than `own_uploads` are kept: their files are
    on that server, wherever the path points here."""
    removed: list[str] = []
    for root in roots:
        rows = connection.execute("SELECT content_hash, path, uploaded_to FROM articles WHERE "
                                  "starts_with(path, %s)", (str(root),)).fetchall()
        for content_hash, path, uploaded_to in rows:
            if content_hash in kept_hashes or not ingest.under(path, roots) or \
                    uploaded_to not in (None, own_uploads):
                continue
            file = ingest.file_of(path)
            if file not in holder.read_files and Path(file).exists():
                continue
            if file in holder.read_files and content_hash in ingest.records_now(
                    file, holder.settings):  # another writer stored what the file holds now,
                continue  # after this one read it
            if not _keep_from_copy(connection, content_hash, path, holder, report):
                # (only while still stored from there: another writer may have moved it)
                removed.extend(_delete_where(connection, "content_hash = %s AND path = %s",
                                             (content_hash, path)))
    return removed


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
