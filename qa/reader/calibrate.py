"""Calibrate the reader's confidence and choose its abstention threshold on NewsQA dev.

    python -m qa.reader.calibrate --model-dir qa/reader/model

1. Confidence: over the dev questions answered from an index of all dev articles, a
   logistic fit of "the answer holds a gold string" on the best span's margin.
2. Threshold: index only the dev articles whose file name's MD5 starts with 0-b. Questions
   on those are answerable; questions on the others (c-f) are not, since their article is
   missing. The threshold is the highest confidence at which at most `--max-false-abstention`
   of the answerable questions abstain.
Both are written into the model's `reader.json`. Tuning only: nothing is trained on NewsQA.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import click

__all__ = ["Calibration", "build_once", "calibrate", "held_out_split"]

DEFAULT_NEWSQA = Path(__file__).resolve().parents[2].parent / "shared/eval/newsqa"


@dataclass
class Calibration:
    """The fitted confidence, the chosen threshold, and what they give on dev."""

    scale: float
    shift: float
    threshold: float
    answerable_abstained: float
    unanswerable_abstained: float
    questions: int


def held_out_split(name: str) -> bool:
    """True for articles kept in the held-out index (file name MD5 starting 0-b)."""
    return hashlib.md5(name.encode()).hexdigest()[0] in "0123456789ab"


def build_once(articles: list[Path], index_dir: Path) -> None:
    """Index `articles` into `index_dir` unless an index is already there."""
    from qa.core.settings import Settings
    from qa.index.build import build_index

    if not (index_dir / "CURRENT").exists():
        build_index([str(p) for p in articles], Settings(index_dir=index_dir))


def _margins(index_dir: Path, questions: list[dict], model_dir: Path, k: int
             ) -> list[tuple[float, bool]]:
    """(best margin, answer holds a gold string) per question; margin -inf without spans."""
    from qa.answering.extractive import compose_answer, read_spans
    from qa.core.settings import Settings
    from qa.engine import QA
    from qa.evaluate import contains_answer

    engine = QA(settings=Settings.from_env(index_dir=index_dir, reader_dir=model_dir))
    reader = engine.reader
    out = []
    for item in questions:
        passages = engine.retrieve(item["question"], k)
        ranked = read_spans(item["question"], passages, reader)
        if not ranked:
            out.append((float("-inf"), False))
            continue
        text = compose_answer(item["question"], passages, ranked, 1.0).text
        out.append((ranked[0].margin, contains_answer(text, item["answers"])))
    return out


def _fit(points: list[tuple[float, bool]]) -> tuple[float, float]:
    """Logistic regression of correctness on margin (Newton's method, slight L2)."""
    import numpy as np

    x = np.array([m for m, _ in points if np.isfinite(m)])
    y = np.array([c for m, c in points if np.isfinite(m)], dtype=float)
    w = np.zeros(2)
    features = np.stack([x, np.ones_like(x)], 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-features @ w))
        gradient = features.T @ (p - y) + 1e-3 * w
        hessian = (features * (p * (1 - p))[:, None]).T @ features + 1e-3 * np.eye(2)
        w -= np.linalg.solve(hessian, gradient)
    return float(w[0]), float(w[1])


def calibrate(model_dir: Path, newsqa: Path, work: Path, k: int = 6,
              max_false_abstention: float = 0.08, log=print) -> Calibration:
    """Fit the confidence and choose the threshold; write both into `reader.json`."""
    import numpy as np

    from qa.evaluate import load_questions

    articles = sorted((newsqa / "articles").iterdir())
    questions = load_questions(newsqa / "questions_dev.jsonl")
    build_once(articles, work / "all")
    build_once([p for p in articles if held_out_split(p.name)], work / "held-out")
    log(f"{len(questions)} questions: fitting confidence on the full index")
    scale, shift = _fit(_margins(work / "all", questions, model_dir, k))
    log(f"confidence = sigmoid({scale:.3f} * margin + {shift:.3f}); choosing the threshold")
    held = _margins(work / "held-out", questions, model_dir, k)
    answerable = np.array([held_out_split(q["sources"][0]) for q in questions])
    confidence = 1 / (1 + np.exp(-(scale * np.array([m for m, _ in held]) + shift)))
    candidates = np.unique(np.round(confidence, 3))
    ok = [t for t in candidates
          if (confidence[answerable] < t).mean() <= max_false_abstention]
    threshold = float(max(ok)) if ok else 0.0
    result = Calibration(scale, shift, threshold,
                         float((confidence[answerable] < threshold).mean()),
                         float((confidence[~answerable] < threshold).mean()), len(questions))
    meta_path = model_dir / "reader.json"
    meta = json.loads(meta_path.read_text())
    meta.update({"calibration": [round(scale, 4), round(shift, 4)],
                 "threshold": round(threshold, 3),
                 "calibrated_on": {"set": "NewsQA dev", "k": k,
                                   "answerable_abstained": round(result.answerable_abstained, 4),
                                   "unanswerable_abstained":
                                       round(result.unanswerable_abstained, 4)}})
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return result


@click.command()
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(__file__).resolve().parent / "model", show_default=True)
@click.option("--newsqa", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_NEWSQA, show_default=True)
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/tmp/article-qa-calibration"), show_default=True,
              help="Where the two NewsQA indexes are built (kept for re-runs).")
@click.option("--fresh", is_flag=True, help="Rebuild the NewsQA indexes in --work.")
def main(model_dir: Path, newsqa: Path, work: Path, fresh: bool) -> None:
    """Fit the reader's confidence and abstention threshold on NewsQA dev."""
    if fresh and work.exists():
        shutil.rmtree(work)
    click.echo(calibrate(model_dir, newsqa, work))


if __name__ == "__main__":
    main()
