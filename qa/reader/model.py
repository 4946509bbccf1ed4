"""The trained reader, run with onnxruntime: finds the answer span in each passage, or none.

The model files live in one directory (by default `qa/reader/model/`, shipped with the
package): `reader.onnx` (int8), `tokenizer.json` and `reader.json` (format, lengths and the
calibration that turns a span's margin over "no answer", how much of the question its
passage covers and how close that passage is to it in meaning, into a probability of being
right).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from functools import lru_cache
from pathlib import Path

from qa.core.errors import ReaderModelError

__all__ = ["MODEL_DIR", "ConfidenceFeatures", "Reader", "SpanGuess", "calibrated_confidence",
           "load_reader"]

MODEL_DIR = Path(__file__).resolve().parent / "model"
FORMAT = 2
_REBUILD = "python -m qa.reader.train --out qa/reader/model"
#: tokens per question + passage pair when answering; indexed chunks (~120 words) fit whole.
READ_LENGTH = 256
#: the longest answer span considered, in tokens.
MAX_ANSWER_TOKENS = 24


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


class Reader:
    """Reads `(question, passage)` pairs and returns the best span of each passage."""

    def __init__(self, directory: Path = MODEL_DIR, threads: int = 1) -> None:
        import onnxruntime as ort

        from qa.reader.features import load_tokenizer

        files = {name: directory / name for name in ("reader.onnx", "tokenizer.json",
                                                     "reader.json")}
        for path in files.values():
            if not path.is_file():
                raise ReaderModelError(f"The reader model file {path} is missing. Rebuild it "
                                       f"with: {_REBUILD}")
        try:
            meta = json.loads(files["reader.json"].read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                raise ReaderModelError(
                    f"The reader model {files['reader.json']} has format "
                    f"{meta.get('format')!r}; this version reads format {FORMAT}. Rebuild it "
                    f"with: {_REBUILD}")
            #: weights of the logistic confidence: one per feature, and the bias (a feature
            #: a model was not calibrated with weighs 0).
            self.calibration: dict[str, float] = {"margin": 1.0, "bias": 0.0,
                                                  **meta.get("calibration", {})}
            #: below this calibrated confidence the answer is an abstention.
            self.threshold = float(meta.get("threshold", 0.5))
            self._tokenizer = load_tokenizer(str(files["tokenizer.json"]))
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(files["reader.onnx"]), options,
                                                 providers=["CPUExecutionProvider"])
        except ReaderModelError:
            raise
        except Exception as exc:  # onnxruntime and tokenizers raise their own untyped errors
            raise ReaderModelError(f"The reader model in {directory} cannot be loaded ({exc}). "
                                   f"Rebuild it with: {_REBUILD}") from None

    def confidence(self, features: ConfidenceFeatures) -> float:
        """The calibrated probability (0-1) that the answer these features describe is right."""
        return calibrated_confidence(self.calibration, features)

    def read(self, question: str, passages: Sequence[str],
             sentences: Sequence[Sequence[tuple[int, int]]] | None = None) -> list[SpanGuess]:
        """The best span of every passage, in passage order (empty passages are skipped).

        With `sentences` (per passage, its sentences' character bounds in the passage): the
        best span inside each sentence instead, so that a passage's second-best sentence can
        be an answer's runner-up too."""
        import numpy as np

        from qa.reader.features import encode_pairs

        rows = [i for i, text in enumerate(passages) if text.strip()]
        if not rows:
            return []
        batch = encode_pairs(self._tokenizer, [question] * len(rows),
                             [passages[i] for i in rows], READ_LENGTH)
        start, end = self._session.run(None, batch.inputs())
        length = start.shape[1]
        band = np.triu(np.ones((length, length), dtype=bool)) \
            & ~np.triu(np.ones((length, length), dtype=bool), MAX_ANSWER_TOKENS)
        guesses = []
        for row, passage in enumerate(rows):
            offsets = batch.offsets[row]
            pair = np.where(band, start[row][:, None] + end[row][None, :], -np.inf)
            null = float(start[row, 0] + end[row, 0])
            bounds = sentences[passage] if sentences and sentences[passage] \
                else [(0, len(passages[passage]))]
            for sentence, (first, last) in enumerate(bounds):
                allowed = batch.passage_mask[row] & (offsets[:, 0] >= first) \
                    & (offsets[:, 1] <= last)
                if not allowed.any():
                    continue
                inside = np.where(allowed[:, None] & allowed[None, :], pair, -np.inf)
                s, e = np.unravel_index(int(inside.argmax()), inside.shape)
                guesses.append(SpanGuess(passage, int(offsets[s][0]), int(offsets[e][1]),
                                         float(inside[s, e]) - null, sentence))
        return guesses


def calibrated_confidence(weights: dict[str, float], features: ConfidenceFeatures) -> float:
    """The logistic confidence with `weights` (per feature name, and "bias"; a missing
    feature weighs 0)."""
    z = weights["bias"] + sum(weights.get(name, 0.0) * value
                              for name, value in zip(ConfidenceFeatures.names(), astuple(features)))
    return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=4)
def load_reader(directory: Path = MODEL_DIR, threads: int = 1) -> Reader:
    """The reader in `directory`, loaded once per process."""
    return Reader(directory, threads)
