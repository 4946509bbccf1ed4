"""The on-disk index: one directory of generations and a pointer to the current one.

    INDEX_DIR/CURRENT          name of the current generation (replaced atomically)
    INDEX_DIR/gen-*/manifest.json   format version, model, dimension, counts, hashes
    INDEX_DIR/gen-*/articles.jsonl  one cleaned article per line
    INDEX_DIR/gen-*/chunks.jsonl    one chunk per line, in vector order
    INDEX_DIR/gen-*/embeddings.npy  float32 vectors, row i = chunk i
    INDEX_DIR/gen-*/sentences.npy   float16 vectors of each chunk's sentences in context,
                                    chunk by chunk (absent in indexes built before them)
    INDEX_DIR/gen-*/vectors.faiss   the FAISS index over those vectors

A build writes a complete new generation beside the current one and then swaps `CURRENT`,
so a crash or kill at any moment leaves the previous index loadable and unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.article import Article, Chunk
from index.errors import IndexMismatchError, IndexNotFoundError, QAError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FORMAT_VERSION", "StoredIndex", "open_index", "write_generation", "writer_lock"]

FORMAT_VERSION = 1
#: Above this many vectors the FAISS index is approximate (HNSW) instead of exact (flat).
HNSW_THRESHOLD = 200_000
_POINTER = "CURRENT"


@dataclass
class StoredIndex:
    """A loaded index generation: articles, chunks in vector order, vectors, manifest."""

    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    embeddings: np.ndarray
    #: the FAISS index (inner product over normalised vectors = cosine similarity).
    faiss: Any = field(repr=False)
    #: each chunk's sentences embedded in the chunk's context, chunk by chunk; None when the
    #: index predates them.
    sentence_vectors: np.ndarray | None = field(default=None, repr=False)
    _first_sentence: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        row = 0
        for chunk in self.chunks:
            self._first_sentence[chunk.id] = row
            row += len(chunk.sentences)

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    def sentence_vector(self, chunk: Chunk, i: int) -> np.ndarray | None:
        """The vector of `chunk.sentences[i]` in context; None if not stored (or it fell
        outside the model's window)."""
        if self.sentence_vectors is None:
            return None
        vector = self.sentence_vectors[self._first_sentence[chunk.id] + i]
        return vector if vector.any() else None

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        """The stored sentence vectors of the chunk in vector row `row`."""
        assert self.sentence_vectors is not None
        first = self._first_sentence[self.chunks[row].id]
        return self.sentence_vectors[first:first + len(self.chunks[row].sentences)]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.article_id == article_id]


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it: qa index PATH... --rebuild --index-dir {index_dir}"


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / _POINTER
    if not pointer.is_file():
        return None
    generation = index_dir / pointer.read_text().strip()
    return generation if generation.is_dir() else None


def open_index(index_dir: str | Path, model: str | None = None) -> StoredIndex:
    """Load the current generation of an index. With `model`, insist that the index was built
    with it. Raises `IndexNotFoundError` or `IndexMismatchError` with the command to fix it."""
    import numpy as np

    from index.embed import resolve_model

    index_dir = Path(index_dir).expanduser()
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(index_dir)
    try:
        manifest = json.loads((generation / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise QAError(
            f"Index at {index_dir} is unreadable ({exc}); {_rebuild_hint(index_dir)}") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"Index at {index_dir} has format version {version}, this program reads version "
            f"{FORMAT_VERSION}; {_rebuild_hint(index_dir)}")
    if model is not None and resolve_model(model)[0] != manifest["model"]:
        raise IndexMismatchError(
            f"Index at {index_dir} was built with model {manifest['model']!r}, not "
            f"{resolve_model(model)[0]!r}; ask with --model {manifest['model']} or "
            f"{_rebuild_hint(index_dir)} --model {model}")
    articles = {a["id"]: Article.from_dict(a) for a in _read_jsonl(generation / "articles.jsonl")}
    chunks = [Chunk.from_dict(c) for c in _read_jsonl(generation / "chunks.jsonl")]
    embeddings = np.load(generation / "embeddings.npy", allow_pickle=False, mmap_mode="r")
    if embeddings.shape != (len(chunks), manifest["dimension"]):
        raise IndexMismatchError(
            f"Index at {index_dir} is inconsistent: {embeddings.shape[0]} vectors of "
            f"dimension {embeddings.shape[1]} for {len(chunks)} chunks of dimension "
            f"{manifest['dimension']}; {_rebuild_hint(index_dir)}")
    sentences = None
    if (generation / "sentences.npy").exists():
        sentences = np.load(generation / "sentences.npy", allow_pickle=False, mmap_mode="r")
        if sentences.shape != (sum(len(c.sentences) for c in chunks), manifest["dimension"]):
            raise IndexMismatchError(
                f"Index at {index_dir} is inconsistent: {sentences.shape[0]} sentence vectors "
                f"for the chunks' sentences; {_rebuild_hint(index_dir)}")
    import faiss

    vectors = faiss.read_index(str(generation / "vectors.faiss"))
    return StoredIndex(generation, manifest, articles, chunks, embeddings, vectors, sentences)


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, rows: Iterator[dict] | list[dict]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _build_faiss(embeddings: np.ndarray) -> Any:
    import faiss

    dimension = embeddings.shape[1]
    if len(embeddings) >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(embeddings):
        index.add(embeddings)
    return index


def write_generation(index_dir: Path, manifest: dict[str, Any], articles: list[Article],
                     chunks: list[Chunk], embeddings: np.ndarray,
                     sentence_vectors: np.ndarray) -> Path:
    """Write a complete generation beside the current one, then make it current atomically.
    Older generations are removed afterwards. Call with `writer_lock` held."""
    import faiss
    import numpy as np

    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = index_dir / f".{name}.partial"
    tmp.mkdir()
    try:
        _write_jsonl(tmp / "articles.jsonl", [a.to_dict() for a in articles])
        _write_jsonl(tmp / "chunks.jsonl", [c.to_dict() for c in chunks])
        np.save(tmp / "embeddings.npy", np.ascontiguousarray(embeddings, dtype=np.float32))
        np.save(tmp / "sentences.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float16))
        faiss.write_index(_build_faiss(embeddings), str(tmp / "vectors.faiss"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        for written in tmp.iterdir():
            with written.open("rb") as f:
                os.fsync(f.fileno())
        os.rename(tmp, index_dir / name)
        pointer_tmp = index_dir / f".{_POINTER}.tmp"
        pointer_tmp.write_text(name + "\n")
        with pointer_tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(pointer_tmp, index_dir / _POINTER)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(index_dir / name, ignore_errors=True)
        raise
    for old in index_dir.iterdir():
        if old.name != name and (old.name.startswith("gen-") or old.name.endswith(".partial")):
            shutil.rmtree(old, ignore_errors=True)
    return index_dir / name


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's writer lock; a second writer waits until the first is done."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
