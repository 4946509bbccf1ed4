"""The on-disk index: one directory of generations and a pointer to the current one.

    INDEX_DIR/CURRENT          name of the current generation (replaced atomically)
    INDEX_DIR/gen-*/manifest.json   format version, model, dimension, counts, hashes,
                                    sequence number, every other file's size and sha256,
                                    and INDEX_DIR's own path when it was built
    INDEX_DIR/gen-*/articles.jsonl  one cleaned article per line
    INDEX_DIR/gen-*/chunks.jsonl    one chunk per line, with its sentences' offsets
    INDEX_DIR/gen-*/sentences.faiss the FAISS index retrieval searches, and the only copy of
                                    the vectors: each chunk sentence embedded in the chunk's
                                    context, chunk by chunk in chunks.jsonl order, as float16
                                    codes (inner product = cosine); exact (flat) below
                                    `Settings.hnsw_threshold` vectors, approximate (HNSW) above

A build writes a complete new generation beside the current one and then swaps `CURRENT`,
so a crash or kill at any moment leaves the previous index loadable and unchanged. The
manifest records each file's size and sha256: sizes are verified on every open, checksums by
`check_index` (`qa index --check`). The generation that was current before a swap is kept, so
that a reader which has just read `CURRENT` can still open it; a reader whose generation
vanished anyway reads `CURRENT` once more. A damaged pointer or generation falls back to the
newest intact generation with an `IndexFallbackWarning`, or raises `IndexDamagedError`
(see `index/generations.py` for the directory's rules).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.index.generations import (
    DOCUMENTS,
    POINTER,
    UPLOADS,
    GenerationDamaged,
    file_records,
    foreign_entries,
    generations,
    new_name,
    prune,
    read_pointer,
    sequence_of,
    set_pointer,
    verify_checksums,
    verify_sizes,
)

from qa.core.errors import (
    IndexDamagedError,
    IndexFallbackWarning,
    IndexMismatchError,
    IndexNotFoundError,
    InputError,
)
from qa.core.files import fsync_dir
from qa.core.records import Article, Chunk

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "StoredIndex",
    "Stranded",
    "current_generation",
    "load_generation",
    "open_index",
    "stranded_articles",
    "write_generation",
    "writer_lock",
]

#: 2: one FAISS index over the sentence vectors (sentences.faiss), which retrieval searches;
#: version 1's chunk vectors (embeddings.npy, vectors.faiss) and sentences.npy are gone.
FORMAT_VERSION = 2
_REQUIRED = ("articles.jsonl", "chunks.jsonl", "sentences.faiss")
#: the start of an `articles.jsonl` line, as `Article.to_dict` writes it: id, then path.
_PATH_FIELD = re.compile(r'\{"id": "([0-9a-f]{1,64})", "path": ("(?:[^"\\\n]|\\.){1,4096}")')
#: the files whose checksums are verified each time a generation is opened.
_QUOTED = ("articles.jsonl", "chunks.jsonl")
#: HNSW: neighbours per node, and the candidate lists while building and searching (a search
#: for k results looks at max(efSearch, k)).
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


@dataclass
class StoredIndex:
    """A loaded index generation: articles, chunks, the sentence vectors' FAISS index and the
    manifest. Retrieval reads it through `qa.index.directory_store.DirectoryStore`."""

    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    #: the FAISS index over every chunk sentence's vector in context, chunk by chunk (inner
    #: product over normalised vectors = cosine similarity; a zero vector: the sentence fell
    #: outside the model's window).
    sentences: Any = field(repr=False)
    #: why this generation answers instead of the one `CURRENT` names (None: it is current).
    fallback: str | None = None
    #: row of each chunk's first sentence vector; the last entry is the number of vectors.
    first_sentence: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import numpy as np

        self.first_sentence = np.cumsum([0] + [len(c.sentences) for c in self.chunks])

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        """The stored sentence vectors (float32) of the chunk in row `row` of `chunks`."""
        first, end = int(self.first_sentence[row]), int(self.first_sentence[row + 1])
        return self.sentences.reconstruct_n(first, end - first)


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it: qa index PATH... --rebuild --index-dir {index_dir}"


def current_generation(index_dir: Path) -> Path | None:
    """The generation folder `CURRENT` names, if it is a valid one and exists."""
    name = read_pointer(index_dir).name
    return index_dir / name if name is not None and (index_dir / name).is_dir() else None


def open_index(index_dir: str | Path, model: str | None = None) -> StoredIndex:
    """Load the current generation of an index (an older intact one, with a warning, when it
    is damaged). With `model`, insist that the index was built with it. Raises
    `IndexNotFoundError`, `IndexDamagedError` or `IndexMismatchError` with the command to fix
    it."""
    from qa.index.embed import resolve_model

    index_dir = Path(index_dir).expanduser()
    index = _open_current(index_dir)
    if model is not None and resolve_model(model)[0] != resolve_model(index.model)[0]:
        raise IndexMismatchError(
            f"Index at {index_dir} was built with model {index.model!r}, not "
            f"{resolve_model(model)[0]!r}; ask with --model {index.model} or "
            f"{_rebuild_hint(index_dir)} --model {model}")
    return index


def _open_current(index_dir: Path) -> StoredIndex:
    pointer = read_pointer(index_dir)
    if pointer.name is None:  # a folder of other things, with a file named CURRENT of its own
        strangers = foreign_entries(index_dir)  # (a LevelDB's), is not a damaged index
        if pointer.problem is None or (strangers and not generations(index_dir)):
            raise IndexNotFoundError(index_dir, strangers=strangers)
    problem = pointer.problem
    for _attempt in range(2):  # once more when a writer swapped CURRENT meanwhile
        if pointer.name is None:
            break
        try:
            return load_generation(index_dir / pointer.name, index_dir)
        except GenerationDamaged as exc:
            problem = f"the current generation {pointer.name} is damaged: {exc}"
        now = read_pointer(index_dir)
        if now == pointer:
            break
        pointer, problem = now, now.problem
    return _fallback(index_dir, str(problem), skip=pointer.name)


def _fallback(index_dir: Path, problem: str, skip: str | None) -> StoredIndex:
    """The newest intact generation other than `skip`, with a warning saying why."""
    unusable = []
    for generation in generations(index_dir):
        if generation.name == skip:
            continue
        try:
            index = load_generation(generation, index_dir)
        except (GenerationDamaged, IndexMismatchError) as exc:
            unusable.append(f"{generation.name}: {exc}")
            continue
        index.fallback = problem
        warnings.warn(
            f"Index at {index_dir}: {problem}. Answering from {generation.name}, the newest "
            f"intact generation ({len(index.articles)} articles, built "
            f"{index.manifest.get('built_at', '?')}); the next `qa index PATH...` makes a new "
            f"current generation from it (`qa index --check` shows the details).",
            IndexFallbackWarning, stacklevel=4)
        return index
    raise IndexDamagedError(f"Index at {index_dir} is damaged ({'; '.join([problem, *unusable])})"
                            f" and no intact generation is left; {_rebuild_hint(index_dir)}")


def load_generation(generation: Path, index_dir: Path) -> StoredIndex:
    """Load one generation, its files' sizes verified against the manifest. Raises
    `GenerationDamaged` (which file, and why) or `IndexMismatchError` (another format)."""
    if generation.is_symlink() or not generation.is_dir():
        raise GenerationDamaged(f"{generation.name} is missing")
    verify_sizes(generation, {"manifest.json": {}})
    manifest = _parse(generation / "manifest.json", lambda p: json.loads(p.read_text()))
    if not isinstance(manifest, dict):
        raise GenerationDamaged("manifest.json is not a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"Index at {index_dir} has format version {version}, this program reads version "
            f"{FORMAT_VERSION}; {_rebuild_hint(index_dir)}")
    if not isinstance(manifest.get("model"), str):
        raise GenerationDamaged("manifest.json names no model")
    records = manifest.get("files")
    if not isinstance(records, dict):  # sizes and checksums not recorded
        records = {name: {} for name in _REQUIRED}
    verify_sizes(generation, records)
    # the text every quote is cut from: a changed byte would be quoted as the author's words
    # (about 7 ms for NewsQA's 638 articles; the vectors are left to `qa index --check`)
    for problem in verify_checksums(generation, {name: records[name] for name in _QUOTED
                                                 if "sha256" in records.get(name, {})}):
        raise GenerationDamaged(problem)
    articles = _parse(generation / "articles.jsonl", lambda p: {
        a["id"]: Article.from_dict(a) for a in _read_jsonl(p)})
    home, here = manifest.get("index_dir"), str(index_dir.resolve())
    if isinstance(home, str) and home != here:  # moved or copied since: its own folders'
        # articles (chat uploads, added documents) are the files here now
        articles = {i: replace(a, path=_rehomed(a.path, home, here)) for i, a in articles.items()}
        copies = manifest.get("copies")
        if isinstance(copies, dict):
            manifest["copies"] = {h: [_rehomed(str(p), home, here) for p in places]
                                  for h, places in copies.items() if isinstance(places, list)}
    chunks = _parse(generation / "chunks.jsonl",
                    lambda p: [Chunk.from_dict(c) for c in _read_jsonl(p)])
    sentences = _parse(generation / "sentences.faiss", _read_faiss)
    try:
        _check_consistent(manifest, articles, chunks, sentences)
    except TypeError as exc:  # e.g. a chunk whose article_id is a list
        raise GenerationDamaged(f"chunks.jsonl holds a record of the wrong shape ({exc})") \
            from None
    return StoredIndex(generation, manifest, articles, chunks, sentences)


def _rehomed(path: str, home: str, here: str) -> str:
    """`path`, when it is in the uploads or documents folder of the index directory `home`,
    as the same place in `here`."""
    for folder in (UPLOADS, DOCUMENTS):
        if path.startswith(start := f"{home}/{folder}/"):
            return f"{here}/{folder}/{path[len(start):]}"
    return path


@dataclass(frozen=True)
class Stranded:
    """What the generations a fallback skipped (damaged ones, newer than it) held and it
    does not: article paths, the ids (content hashes) and the copies (content hash -> other
    places holding the article) their manifests recorded, and the generations whose list of
    articles could not be read."""

    paths: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    copies: dict[str, list[str]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def stranded_articles(index_dir: Path, fallback: StoredIndex) -> Stranded:
    """The articles the generations newer than `fallback` hold and `fallback` does not
    (a generation without a readable manifest counts as newer when its name, a time, is),
    read from their `articles.jsonl` line by line and their manifests, skipping what cannot
    be read, so that a build from `fallback` can read those articles' files again instead of
    losing them."""
    since = sequence_of(fallback.path)
    found = Stranded()
    for generation in generations(index_dir):
        sequence = sequence_of(generation)
        if not (sequence > since or (sequence < 0 and generation.name > fallback.path.name)):
            continue
        with contextlib.suppress(OSError, ValueError, AttributeError, RecursionError,
                                 TypeError):
            manifest = json.loads((generation / "manifest.json").read_text())
            found.ids.update(manifest.get("article_hashes", {}))
            for content_hash, places in manifest.get("copies", {}).items():
                known = found.copies.setdefault(str(content_hash), [])
                known.extend(str(p) for p in places if str(p) not in known)
        try:
            with (generation / "articles.jsonl").open(encoding="utf-8",
                                                     errors="replace") as lines:
                for line in lines:  # an article the fallback lacks, or holds another version of
                    record = _id_and_path(line)
                    if record is not None and record[0] not in fallback.articles:
                        found.paths.add(record[1])
        except OSError:
            found.unreadable.append(generation.name)
    return found


def current_paths(index_dir: Path) -> set[str]:
    """The article paths the current generation lists (lines that cannot be read are
    skipped; none when there is no current generation): what a rebuild replaces, read
    without opening the whole index."""
    generation = current_generation(index_dir)
    if generation is None:
        return set()
    with contextlib.suppress(OSError), (generation / "articles.jsonl").open(
            encoding="utf-8", errors="replace") as lines:
        return {record[1] for line in lines if (record := _id_and_path(line)) is not None}
    return set()


def _id_and_path(line: str) -> tuple[str, str] | None:
    """The `id` and `path` of an `articles.jsonl` line, also of one cut short (they come
    first)."""
    with contextlib.suppress(ValueError, AttributeError, RecursionError):
        record = json.loads(line)
        article_id, path = record.get("id"), record.get("path")
        return (article_id, path) if isinstance(article_id, str) and isinstance(path, str) \
            else None
    match = _PATH_FIELD.match(line)
    with contextlib.suppress(ValueError):
        return (match[1], json.loads(match[2])) if match else None
    return None


def _read_faiss(path: Path) -> Any:
    import faiss

    index = faiss.read_index(str(path))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def _parse(path: Path, read: Callable[[Path], Any]) -> Any:
    """`read(path)`, with any failure to read or parse it as `GenerationDamaged`."""
    try:
        return read(path)
    except FileNotFoundError:
        raise GenerationDamaged(f"{path.name} is missing") from None
    # RuntimeError: what FAISS raises for a damaged file (and RecursionError, deep JSON);
    # AttributeError and TypeError: a record of the wrong JSON type (5, or a list for a string)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError,
            RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else ""
        raise GenerationDamaged(f"{path.name} is unreadable ({type(exc).__name__}: "
                                f"{reason})") from None


def _check_consistent(manifest: dict, articles: dict[str, Article], chunks: list[Chunk],
                      sentences: Any) -> None:
    """Raise `GenerationDamaged` when the files of a generation do not fit together."""
    dimension = manifest.get("dimension")
    problems = [
        (manifest.get("articles", len(articles)) != len(articles),
         f"articles.jsonl holds {len(articles)} articles, the manifest says "
         f"{manifest.get('articles')}"),
        (manifest.get("chunks", len(chunks)) != len(chunks),
         f"chunks.jsonl holds {len(chunks)} chunks, the manifest says {manifest.get('chunks')}"),
        (any(c.article_id not in articles for c in chunks),
         "chunks.jsonl names articles that articles.jsonl does not hold"),
        (sentences.ntotal != sum(len(c.sentences) for c in chunks) or sentences.d != dimension,
         f"sentences.faiss holds {sentences.ntotal} vectors of dimension {sentences.d}, not one "
         f"of dimension {dimension} per chunk sentence"),
    ]
    for failed, problem in problems:
        if failed:
            raise GenerationDamaged(problem)


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, rows: Iterator[dict] | list[dict]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _build_faiss(vectors: np.ndarray, hnsw_threshold: int) -> Any:
    """The FAISS index over `vectors`, stored as float16 codes (half the memory of float32,
    the same ranking): exhaustive (flat) below `hnsw_threshold` vectors, HNSW above."""
    import faiss
    import numpy as np

    dimension = vectors.shape[1]
    fp16 = faiss.ScalarQuantizer.QT_fp16
    if len(vectors) >= hnsw_threshold:
        index = faiss.IndexHNSWSQ(dimension, fp16, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexScalarQuantizer(dimension, fp16, faiss.METRIC_INNER_PRODUCT)
    for start in range(0, len(vectors), 65536):  # float32 copies one slice at a time
        index.add(np.ascontiguousarray(vectors[start:start + 65536], dtype=np.float32))
    return index


def write_generation(index_dir: Path, manifest: dict[str, Any], articles: list[Article],
                     chunks: list[Chunk], sentence_vectors: np.ndarray,
                     hnsw_threshold: int, built_from: str | None = None) -> Path:
    """Write a complete generation beside the current one, then make it current atomically.
    `sentence_vectors`: every chunk sentence's vector, chunk by chunk (see the module doc).
    The generation that was current stays (a reader may be opening it), and so does
    `built_from`, the intact generation a build fell back to when the current one was
    damaged; older ones and unfinished builds are removed. Call with `writer_lock` held."""
    with _writing(index_dir):
        return _write_generation(index_dir, manifest, articles, chunks, sentence_vectors,
                                 hnsw_threshold, built_from)


def _write_generation(index_dir: Path, manifest: dict[str, Any], articles: list[Article],
                      chunks: list[Chunk], sentence_vectors: np.ndarray,
                      hnsw_threshold: int, built_from: str | None) -> Path:
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    existing = generations(index_dir)
    previous = read_pointer(index_dir).name or (existing[0].name if existing else None)
    name = new_name()
    tmp = index_dir / f".{name}.partial"
    tmp.mkdir()
    try:
        _write_jsonl(tmp / "articles.jsonl", [a.to_dict() for a in articles])
        _write_jsonl(tmp / "chunks.jsonl", [c.to_dict() for c in chunks])
        search = _build_faiss(sentence_vectors, hnsw_threshold)
        try:
            faiss.write_index(search, str(tmp / "sentences.faiss"))
        except RuntimeError:  # FAISS's way of saying that it could not write, and no more
            raise _faiss_write_error(tmp, search.ntotal * sentence_vectors.shape[1] * 4) \
                from None
        manifest = {**manifest, "sentences": int(search.ntotal),
                    "search": "hnsw" if hasattr(search, "hnsw") else "flat",
                    "files": file_records(tmp),
                    "sequence": 1 + max((sequence_of(g) for g in existing), default=0)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        for written in tmp.iterdir():
            with written.open("rb") as f:
                os.fsync(f.fileno())
        fsync_dir(tmp)
        os.rename(tmp, index_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(index_dir)
    set_pointer(index_dir, name)
    prune(index_dir, keep={name} | {g for g in (previous, built_from) if g})
    return index_dir / name


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[bool]:
    """Hold the index's writer lock; a second writer waits until the first is done (and is
    told so: True, the files it read before may have changed since). Raises
    `IndexDamagedError` before any work when the pointer cannot be replaced, `InputError`
    when `index_dir` is a folder of other things, not an index."""
    if strangers := foreign_entries(index_dir):
        shown = ", ".join(strangers[:5]) + (", ..." if len(strangers) > 5 else "")
        raise InputError(f"{index_dir} is not an article index: it holds other things "
                         f"({shown}), which an index written there could remove. Give a new "
                         "or empty folder as --index-dir (or QA_INDEX_DIR).")
    with _writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = (index_dir / ".lock").open("a")
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waited = False
        except BlockingIOError:  # another writer holds it
            fcntl.flock(lock, fcntl.LOCK_EX)
            waited = True
        try:
            pointer = index_dir / POINTER
            if pointer.is_dir() and not pointer.is_symlink():
                raise IndexDamagedError(
                    f"{pointer} is a folder, not the one-line file naming the current "
                    f"generation, so no build can switch to a new one. Move it out of the "
                    f"index; the generations beside it are untouched.")
            yield waited
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _faiss_write_error(folder: Path, size: int) -> OSError:
    """The error of a FAISS file of about `size` bytes that could not be written in `folder`:
    a full disk when less room than that is left there (FAISS says only "write error")."""
    if shutil.disk_usage(folder).free < size:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(f"the sentence vectors could not be written to {folder.name}")


@contextlib.contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    """Turn a failure to write in `index_dir` (no such folder can be made there, no right to
    write, a full disk) into one `InputError` line; what was current there stays current."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(_existing(index_dir)).free / 1e6
            advice = (f"free some space on that disk ({free:,.1f} MB free now), or give a "
                      "folder on another disk as --index-dir (or QA_INDEX_DIR)")
        else:
            advice = "give a folder you can write to as --index-dir (or QA_INDEX_DIR)"
        raise InputError(f"Cannot write the index in {index_dir}: {reason}. {advice[0].upper()}"
                         f"{advice[1:]}; the index that was there, if any, is "
                         "unchanged.") from None


def _existing(path: Path) -> Path:
    """`path`, or its nearest folder that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
