"""The trained reader, run with onnxruntime: finds the answer span in each passage, or none.

The model files live in one directory (by default `qa/reader/model/`, shipped with the
package): `reader.onnx` (int8), `tokenizer.json` and `reader.json` (format, lengths and the
calibration that turns a span's margin over "no answer", how much of the question its
passage covers and how close that passage is to it in meaning, into a probability of being
right).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from functools import lru_cache
from pathlib import Path

from qa.core.errors import ReaderModelError

__all__ = ["MODEL_DIR", "ConfidenceFeatures", "ConfidenceFit", "Reader", "SpanGuess",
           "calibrated_confidence", "load_reader"]

MODEL_DIR = Path(__file__).resolve().parent / "model"
FORMAT = 2
#: what a reader's ONNX graph takes: `PairBatch.inputs()`.
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: tokens per question + passage pair when answering; indexed chunks (~120 words) fit whole.
READ_LENGTH = 256
#: the longest answer span considered, in tokens.
MAX_ANSWER_TOKENS = 24
#: one passage's best spans, per sentence: (start, end, margin, sentence).
_Span = tuple[int, int, float, int]


@dataclass(frozen=True)
class ConfidenceFeatures:
    """What the confidence in an answer is computed from (`qa.answering.extractive`)."""

    #: the best span's score over its passage's "no answer" score.
    margin: float
    #: the share (0-1) of the question's content words that the span's passage holds.
    coverage: float
    #: the cosine of the question with the closest sentence of the span's passage.
    similarity: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class ConfidenceFit:
    """A logistic confidence over `ConfidenceFeatures` (one weight per feature name, and
    "bias"; a feature it was not fitted with weighs 0), and the confidence below which the
    answer is an abstention."""

    weights: dict[str, float]
    threshold: float

    def confidence(self, features: ConfidenceFeatures) -> float:
        """The calibrated probability (0-1) that the answer these features describe is right."""
        return calibrated_confidence(self.weights, features)


@dataclass(frozen=True)
class SpanGuess:
    """The best answer span in one passage (or one of its sentences): character offsets
    into that passage's text."""

    passage: int
    start: int
    end: int
    #: span score minus the passage's "no answer" score: above 0, the model prefers the span.
    margin: float
    #: the passage sentence the span is in, when read by sentence (else 0).
    sentence: int = 0


class _PairCache:
    """The spans of the `size` (question, passage) pairs read last, safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._spans: OrderedDict[bytes, tuple[_Span, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> tuple[_Span, ...] | None:
        with self._lock:
            spans = self._spans.get(key)
            if spans is not None:
                self._spans.move_to_end(key)
            return spans

    def put(self, key: bytes, spans: tuple[_Span, ...]) -> None:
        if not self._size:
            return
        with self._lock:
            self._spans[key] = spans
            self._spans.move_to_end(key)
            while len(self._spans) > self._size:
                self._spans.popitem(last=False)


def _pair_key(question: str, passage: str, bounds: list[tuple[int, int]]) -> bytes:
    """A digest of what one pair's spans depend on: the question, the passage, its sentences."""
    text = f"{len(question)}:{question}{len(passage)}:{passage}{bounds}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Reader:
    """Reads `(question, passage)` pairs and returns the best span of each passage."""

    def __init__(self, directory: Path = MODEL_DIR, threads: int = 1,
                 cache_pairs: int = 0) -> None:
        """`cache_pairs`: how many recently read (question, passage) pairs to remember, so
        that a question asked again (an example question, a popular one) costs no reading."""
        import onnxruntime as ort

        from qa.reader.features import load_tokenizer

        directory = Path(directory).absolute()
        files = {name: directory / name for name in ("reader.onnx", "tokenizer.json",
                                                     "reader.json")}
        for path in files.values():
            if not path.is_file():
                raise _damaged(path, "is missing")
        meta = _read_meta(files["reader.json"])
        #: the confidence of an answer found by searching the whole index.
        self.calibration = _fit_of(meta)
        #: ... of an answer to a question restricted to articles named by file name: there
        #: the user has said where the answer is, and a passage far from the question in
        #: meaning is often right (the open fit would abstain on 18% of NewsQA dev's
        #: questions given their article, against 8% when searching). A model calibrated
        #: before this has only the open fit.
        self.named_calibration = _fit_of(meta["named"]) if "named" in meta \
            else self.calibration
        try:
            self._tokenizer = load_tokenizer(str(files["tokenizer.json"]))
        except Exception as exc:  # tokenizers raises its own untyped errors
            raise _damaged(files["tokenizer.json"], f"cannot be loaded ({exc})") from None
        if None in (self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")):
            raise _damaged(files["tokenizer.json"], "has no [CLS] or [SEP] token")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(files["reader.onnx"]), options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise _damaged(files["reader.onnx"], f"cannot be loaded ({exc})") from None
        inputs = {i.name for i in self._session.get_inputs()}
        if inputs != set(_INPUTS) or len(self._session.get_outputs()) != 2:
            raise _damaged(files["reader.onnx"], "is not a reader (inputs "
                           f"{sorted(inputs)}, {len(self._session.get_outputs())} outputs)")
        self._cache = _PairCache(cache_pairs)

    def fit(self, named: bool = False) -> ConfidenceFit:
        """The confidence for a question asked of the whole index, or (`named`) restricted to
        articles the user named."""
        return self.named_calibration if named else self.calibration

    def read(self, question: str, passages: Sequence[str],
             sentences: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[SpanGuess]:
        """The best span of every passage, in passage order (empty passages are skipped).

        With `sentences` (per passage, its sentences' character bounds in the passage): the
        best span inside each sentence instead, so that a passage's second-best sentence can
        be an answer's runner-up too. A (question, passage) pair read recently is not read
        again: its spans come from the reader's cache (a pair is read alone, and so always
        reads the same: `_read_pairs`)."""
        bounds = [list(sentences[i]) if sentences and sentences[i] else [(0, len(text))]
                  for i, text in enumerate(passages)]
        keys = {i: _pair_key(question, text, bounds[i])
                for i, text in enumerate(passages) if text.strip()}
        found = {i: spans for i, key in keys.items()
                 if (spans := self._cache.get(key)) is not None}
        unread = [i for i in keys if i not in found]
        if unread:
            read = self._read_pairs(question, [passages[i] for i in unread],
                                    [bounds[i] for i in unread])
            for i, spans in zip(unread, read):
                found[i] = spans
                self._cache.put(keys[i], spans)
        return [SpanGuess(i, *span) for i in keys for span in found[i]]

    def spans_in(self, question: str, passages: Sequence[str],
                 sentences: Sequence[tuple[int, int]],
                 n: int) -> list[list[tuple[int, int, float]]]:
        """Per passage, the `n` best spans inside one of its sentences (its character bounds
        in `sentences`), best first, as (start, end, margin): the runners-up that a question's
        own form may call for (`qa.answering.description`). Not cached: asked of a few
        sentences at most."""
        read = self._read_pairs(question, list(passages), [[bound] for bound in sentences], n)
        return [[(start, end, margin) for start, end, margin, _ in spans] for spans in read]

    def _read_pairs(self, question: str, passages: list[str],
                    bounds: list[list[tuple[int, int]]], n: int = 1) -> list[tuple[_Span, ...]]:
        """Run the model on (question, passage) pairs: per passage, the `n` best spans of each
        of its sentences (`bounds`), best first, as (start, end, margin, sentence).

        One pair per run: the int8 graph quantizes each activation with a scale taken over
        the whole batch, padding included, so a pair read beside others scored otherwise than
        alone (a margin of 6.25 alone, 6.54 in a batch of 6), and which answer a question got
        hung on what had been read before it (the cache keeps a pair's first reading). Alone,
        a pair always reads the same, and without padding 6 pairs read faster than in one
        batch (309 against 351 ms on an AVX2 EPYC)."""
        import numpy as np

        from qa.reader.features import encode_pairs

        read = []
        for passage, sentences in zip(passages, bounds):
            pair = encode_pairs(self._tokenizer, [question], [passage], READ_LENGTH)
            start, end = (scores[0] for scores in self._session.run(None, pair.inputs()))
            length = start.shape[0]
            band = np.triu(np.ones((length, length), dtype=bool)) \
                & ~np.triu(np.ones((length, length), dtype=bool), MAX_ANSWER_TOKENS)
            scores = np.where(band, start[:, None] + end[None, :], -np.inf)
            null = float(start[0] + end[0])
            offsets = pair.offsets[0]
            spans = []
            for sentence, (first, last) in enumerate(sentences):
                allowed = pair.passage_mask[0] & (offsets[:, 0] >= first) \
                    & (offsets[:, 1] <= last)
                if not allowed.any():
                    continue
                inside = np.where(allowed[:, None] & allowed[None, :], scores, -np.inf).ravel()
                best = np.argpartition(-inside, n - 1)[:n] if n < inside.size else \
                    np.arange(inside.size)
                for flat in sorted(best, key=lambda i: -inside[i]):
                    if not np.isfinite(inside[flat]):
                        break
                    s, e = divmod(int(flat), length)
                    spans.append((int(offsets[s][0]), _whole_letters(passage, int(offsets[e][1])),
                                  float(inside[flat]) - null, sentence))
            read.append(tuple(spans))
        return read


def calibrated_confidence(weights: dict[str, float], features: ConfidenceFeatures) -> float:
    """The logistic confidence with `weights` (per feature name, and "bias"; a missing
    feature weighs 0)."""
    z = weights["bias"] + sum(weights.get(name, 0.0) * value
                              for name, value in zip(ConfidenceFeatures.names(), astuple(features)))
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _whole_letters(text: str, end: int) -> int:
    """`end` moved past the combining marks that follow it: the tokenizer's offsets leave a
    decomposed letter's accent out ("Dupre" + U+0301 is "Dupré")."""
    while end < len(text) and unicodedata.combining(text[end]):
        end += 1
    return end


def _damaged(path: Path, what: str) -> ReaderModelError:
    """The error for a reader model file that cannot be used: which file, and how to make
    the model again."""
    folder = path.parent
    return ReaderModelError(
        f"The reader model file {path} {what}. Rebuild the model with: python -m "
        f"qa.reader.train --out {folder} && python -m qa.reader.calibrate --model-dir {folder}")


def _read_meta(path: Path) -> dict:
    """`reader.json`, checked: its format, and a calibration of finite numbers."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, f"is not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _damaged(path, "does not hold a JSON object")
    if meta.get("format") != FORMAT:
        raise _damaged(path, f"has format {meta.get('format')!r}; this version reads format "
                             f"{FORMAT}")
    for fitted in (meta, meta.get("named", {})):
        calibration = fitted.get("calibration", {}) if isinstance(fitted, dict) else None
        threshold = fitted.get("threshold", 0.5) if isinstance(fitted, dict) else None
        numbers = [threshold, *calibration.values()] if isinstance(calibration, dict) \
            else [None]
        if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                   for x in numbers) or not 0 <= threshold <= 1:
            raise _damaged(path, "holds a calibration or threshold that is not a finite "
                                 "number (the threshold between 0 and 1)")
    return meta


def _fit_of(fitted: dict) -> ConfidenceFit:
    """The confidence fitted in `reader.json` (or its "named" part); a model not calibrated
    yet ranks by the margin alone, at 0.5."""
    return ConfidenceFit({"margin": 1.0, "bias": 0.0, **fitted.get("calibration", {})},
                         float(fitted.get("threshold", 0.5)))


@lru_cache(maxsize=4)
def load_reader(directory: Path = MODEL_DIR, threads: int = 1, cache_pairs: int = 0) -> Reader:
    """The reader in `directory`, loaded once per process (see `Reader`)."""
    return Reader(directory, threads, cache_pairs)
