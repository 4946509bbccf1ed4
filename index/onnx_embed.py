"""An ONNX copy of the embedding model, for embedding questions fast.

Loading sentence-transformers (torch, transformers) takes 7-10 s and ~500 MB; onnxruntime
and `tokenizers` load in 0.4 s and embed one question in ~4 ms on one core, with vectors
equal to sentence-transformers' (cosine 1.0000). A build exports each model once into the
cache, shared by all indexes built with it:

    CACHE_DIR/query-models/<model>-<fingerprint>/model.onnx        the exported transformer
    CACHE_DIR/query-models/<model>-<fingerprint>/tokenizer.json    its fast tokenizer
    CACHE_DIR/query-models/<model>-<fingerprint>/query_model.json  pooling, window, padding

The export is checked against sentence-transformers before it is kept; models it cannot
reproduce (other pooling, extra modules) are embedded with sentence-transformers instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.index.embed import resolve_model

from qa.core.errors import ConfigWarning

if TYPE_CHECKING:
    import numpy as np
    from qa.index.embed import Embedder

__all__ = ["OnnxEmbedder", "export_query_model", "load_query_model", "query_model_dir"]

_META = "query_model.json"
#: the content digests of model files, by path, size and time (`_content_digests`).
_DIGESTS = "file-digests.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_PROBES = ["Who was killed?", "a", "Steve Witkoff met Vladimir Putin in Moscow, officials said.",
           "Prices rose 3.5% in 2024 " * 60]  # the last one is longer than the window


class OnnxEmbedder:
    """Same vectors and `embed` interface as `Embedder`, from an exported model directory."""

    def __init__(self, directory: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((directory / _META).read_text())
        self.name: str = meta["model"]
        self.dimension: int = int(meta["dimension"])
        self._pooling: str = meta["pooling"]
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts, `batch_size` at a time."""
        import numpy as np

        parts = [np.zeros((0, self.dimension), dtype=np.float32)]
        for start in range(0, len(texts), batch_size):
            parts.append(self._embed_batch(list(texts[start:start + batch_size])))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, dict(zip(_INPUTS, (ids, mask, types))))[0]
        if self._pooling == "cls":
            vectors = hidden[:, 0]
        else:
            vectors = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True),
                                                                     1)
        # normalised like `Embedder.embed`, whatever the model's own last module
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def query_model_dir(cache_dir: Path, model: str | None) -> Path:
    """Where the ONNX copy of `model` lives: named after the model and a digest of its files'
    contents, so that an updated model is exported again and a reinstalled one (same files,
    new paths and times) is not: each install once added a copy of ~90 MB."""
    name, path = resolve_model(model)
    root = Path(path)
    files = sorted(f for f in root.rglob("*") if f.is_file() and not any(
        part.startswith(".") for part in f.relative_to(root).parts)) if root.is_dir() else []
    contents = _content_digests(cache_dir / "query-models" / _DIGESTS, files)
    fingerprint = [name] + [f"{f.relative_to(root).as_posix()}:{contents[f]}" for f in files]
    digest = hashlib.sha256("\n".join(fingerprint).encode()).hexdigest()[:16]
    slug = re.sub(r"[^\w.-]+", "-", name).strip("-")[-60:]
    return cache_dir / "query-models" / f"{slug}-{digest}"


def _content_digests(memo_path: Path, files: list[Path]) -> dict[Path, str]:
    """The sha256 of each file, read again only when its size or time changed since the
    last call (`memo_path` remembers them, so a question does not hash 90 MB of weights)."""
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}
    digests, changed = {}, False
    for file in files:
        stat = file.stat()
        key, stamp = str(file.absolute()), [stat.st_size, stat.st_mtime_ns]
        known = memo.get(key)
        if isinstance(known, list) and known[:2] == stamp and len(known) == 3:
            digests[file] = known[2]
            continue
        content = hashlib.sha256()
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                content.update(block)
        digests[file] = content.hexdigest()
        memo[key], changed = [*stamp, digests[file]], True
    if changed:
        memo = {key: value for key, value in memo.items() if Path(key).exists()}
        partial = memo_path.with_name(f".{memo_path.name}.{os.getpid()}.partial")
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(memo), encoding="utf-8")
            os.replace(partial, memo_path)
        except OSError:  # a read-only cache: digests are computed again next time
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return digests


def load_query_model(cache_dir: Path, model: str | None,
                     threads: int = 1) -> OnnxEmbedder | None:
    """The ONNX copy of `model`, or None when there is none (or no onnxruntime): the caller
    then embeds with sentence-transformers. A damaged copy is removed, so that the next
    `qa index` exports it again."""
    try:
        directory = query_model_dir(cache_dir, model)
    except OSError:  # a cache that cannot be read (or a model folder gone): no copy to use
        return None
    if not (directory / _META).is_file():
        return None
    try:
        return _open_query_model(directory, threads)
    except ImportError:
        return None
    except Exception as exc:  # onnxruntime's and tokenizers' own errors too
        warnings.warn(f"The cached copy of the query model in {directory} could not be read "
                      f"({type(exc).__name__}); it was removed and is exported again at the "
                      "next `qa index`. Questions are embedded by sentence-transformers "
                      "meanwhile (slower to start).", ConfigWarning, stacklevel=2)
        shutil.rmtree(directory, ignore_errors=True)
        return None


@lru_cache(maxsize=4)
def _open_query_model(directory: Path, threads: int) -> OnnxEmbedder:
    """One session per exported model and thread count in a process (failures not cached)."""
    return OnnxEmbedder(directory, threads)


def export_query_model(cache_dir: Path, embedder: Embedder) -> str | None:
    """Export `embedder`'s model into the cache unless it is there already. Returns None on
    success (or nothing to do), else why the export was skipped."""
    try:
        target = query_model_dir(cache_dir, embedder.name)
    except OSError as exc:  # an optional speed-up: never fail the build over it
        return f"{type(exc).__name__}: {exc}"
    if (target / _META).is_file():
        return None
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True)
        reason = _export(embedder, partial, contents=target.name.rsplit("-", 1)[1])
        if reason is not None:
            return reason
        try:
            os.rename(partial, target)
        except OSError:  # another build exported it meanwhile
            if not (target / _META).is_file():
                raise
        _remove_older_copies(target)
        return None
    except Exception as exc:  # an optional speed-up: never fail the build over it
        return f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _remove_older_copies(target: Path) -> None:
    """Remove the copies of `target`'s model that versions before content digests exported
    (named by the model files' paths and times, one per install; no later version reads
    them)."""
    slug = target.name.rsplit("-", 1)[0]
    for copy in target.parent.glob(f"{slug}-*"):
        meta = copy / _META
        try:
            legacy = copy != target and "contents" not in json.loads(meta.read_text())
        except (OSError, ValueError):
            legacy = False  # being exported, or not a copy: not ours to judge
        if legacy:
            shutil.rmtree(copy, ignore_errors=True)


def _export(embedder: Embedder, directory: Path, contents: str) -> str | None:
    """Write the model files into `directory` and check them; the reason if unsupported.
    `contents`: the digest of the model's files that names the copy."""
    import numpy as np
    import torch

    st = embedder.model
    modules = list(st)
    kinds = [type(m).__name__ for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        return f"modules {kinds} are not transformer, pooling[, normalize]"
    pooling = modules[1].get_config_dict().get("pooling_mode")
    if pooling not in ("mean", "cls"):
        return f"pooling {pooling!r} is not supported"
    transformer = modules[0].auto_model.eval()
    tokenizer = st.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        return "the model has no fast tokenizer"
    tokenizer.backend_tokenizer.save(str(directory / "tokenizer.json"))

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about constants that hold for text
        torch.onnx.export(LastHiddenState(), (sample, torch.ones_like(sample),
                                              torch.zeros_like(sample)),
                          str(directory / "model.onnx"), input_names=list(_INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    meta = {"model": embedder.name, "dimension": embedder.dimension, "pooling": pooling,
            "max_seq_length": int(st.max_seq_length),
            "pad_id": int(tokenizer.pad_token_id or 0),
            "pad_token": str(tokenizer.pad_token or "[PAD]"), "contents": contents}
    (directory / _META).write_text(json.dumps(meta, indent=2))
    exported = OnnxEmbedder(directory).embed(_PROBES)
    reference = embedder.embed(_PROBES)
    agreement = float(np.min((exported * reference).sum(1) / (
        np.linalg.norm(exported, axis=1) * np.linalg.norm(reference, axis=1))))
    if agreement < 0.9999:
        return f"the exported model disagrees with sentence-transformers (cosine {agreement:.4f})"
    return None
