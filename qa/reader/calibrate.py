"""Calibrate the reader's confidence and choose its abstention threshold on NewsQA dev.

    python -m qa.reader.calibrate --model-dir qa/reader/model

Two indexes: all dev articles, and only those whose file name's MD5 starts with 0-b (the
held-out index). On the held-out index, questions on the other articles (c-f) cannot be
answered, since their article is missing.
1. Confidence: a logistic function of the best span's margin, of the share of the
   question's words its passage holds and of the passage's closeness to the question in
   meaning (`ConfidenceFeatures`). Their mix is the one that best tells answerable from
   unanswerable questions on the held-out index; its scale and bias fit "the answer is
   right": "holds a gold string" on the full index, never for the unanswerable questions.
2. Threshold: the highest confidence at which at most 8% (`max_false_abstention`) of the
   answerable held-out questions abstain.
The same again for questions restricted to articles the user named (`Reader.fit`): every
question restricted to its gold article (answerable), and the held-out index's unanswerable
questions each restricted to its best-retrieved article there, on topic but not theirs.
Both are written into the model's `reader.json`. Tuning only: nothing is trained on NewsQA.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.core.errors import InputError, QAError
from qa.core.files import replace_text
from qa.reader.model import ConfidenceFeatures

if TYPE_CHECKING:
    import numpy as np

    from qa.engine import QA

__all__ = ["Calibration", "Calibrations", "build_once", "calibrate", "closest_wrong_articles",
           "held_out_split", "logistic"]

DEFAULT_NEWSQA = Path(__file__).resolve().parents[2].parent / "shared/eval/newsqa"
#: the NewsQA indexes, kept for re-runs: the user's own cache, not a shared /tmp name.
DEFAULT_WORK = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
    / "article-qa" / "calibration"


@dataclass
class Calibration:
    """The fitted confidence, the chosen threshold, and what they give on dev."""

    weights: dict[str, float]
    threshold: float
    answerable_abstained: float
    unanswerable_abstained: float
    questions: int


@dataclass
class Calibrations:
    """The confidence of questions asked of the whole index, and of questions restricted to
    articles named by file name."""

    open: Calibration
    named: Calibration


def held_out_split(name: str) -> bool:
    """True for articles kept in the held-out index (file name MD5 starting 0-b)."""
    return hashlib.md5(name.encode()).hexdigest()[0] in "0123456789ab"


def build_once(articles: list[Path], index_dir: Path, fresh: bool = False) -> None:
    """Index `articles` into `index_dir` unless it already holds exactly them, as they are
    now (names, sizes and times are kept beside it: another article set is indexed afresh);
    `fresh`: build it again. A folder that holds other things than an index is refused,
    never emptied."""
    from qa.core.settings import Settings
    from qa.index.build import build_index

    stamp = index_dir.with_name(f"{index_dir.name}.articles")
    listed = "".join(f"{p.resolve()}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}\n"
                     for p in articles)
    built = (index_dir / "CURRENT").exists()
    if fresh or not built or not stamp.is_file() or stamp.read_text() != listed:
        build_index([str(p) for p in articles], Settings(index_dir=index_dir),
                    rebuild=fresh or built)
        replace_text(stamp, listed)


@dataclass(frozen=True)
class _Point:
    """What the confidence sees of one question's best span, and whether its answer is right."""

    features: ConfidenceFeatures
    correct: bool


def closest_wrong_articles(engine: QA, questions: list[dict]) -> list[dict]:
    """`questions` (whose own article is not indexed) each restricted to its best-retrieved
    article of `engine`'s index, as unanswerable; left out where that article holds a gold
    answer string (another story on the same event may answer)."""
    from qa.evaluate import contains_answer

    restricted = []
    for q in questions:
        top = engine.retrieve(q["question"], 1)
        if top and not contains_answer(top[0].article.text, q["answers"]):
            restricted.append({**q, "answers": [], "sources": [top[0].article.name]})
    return restricted


def _points(index_dir: Path, questions: list[dict], model_dir: Path, k: int,
            named: bool = False, closest_wrong: bool = False) -> list[_Point | None]:
    """One point per question, None where the reader finds no span at all. `named`: each
    question restricted to its `sources`; `closest_wrong`: to `closest_wrong_articles`."""
    from qa.answering.extractive import compose_answer, confidence_features, read_spans
    from qa.core.settings import Settings
    from qa.engine import QA
    from qa.evaluate import contains_answer

    engine = QA(settings=Settings.from_env(index_dir=index_dir, reader_dir=model_dir))
    if closest_wrong:
        questions = closest_wrong_articles(engine, questions)
    out = []
    for item in questions:
        passages = engine.retrieve(item["question"], k,
                                   sources=item["sources"] if named or closest_wrong else None)
        ranked = read_spans(item["question"], passages, engine.reader)
        if not ranked:
            out.append(None)
            continue
        text = compose_answer(item["question"], passages, ranked, 1.0).text
        out.append(_Point(confidence_features(item["question"], passages, ranked),
                          bool(item["answers"]) and contains_answer(text, item["answers"])))
    return out


def logistic(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Logistic regression weights (last column of `features` all ones for the bias), by
    Newton's method with a slight L2 penalty."""
    import numpy as np

    w = np.zeros(features.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-features @ w))
        gradient = features.T @ (p - labels) + 1e-3 * w
        hessian = (features * (p * (1 - p))[:, None]).T @ features + 1e-3 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


def _fit(held: list[tuple[_Point, bool]], judged: list[_Point]) -> dict[str, float]:
    """The confidence's weights in two steps. The direction: which mix of the features best
    tells the held-out questions whose article is indexed from those whose article is not
    (`held`: point, answerable). The scale: a logistic fit of being right (`judged`) on that
    mix, so that the confidence is a probability."""
    import numpy as np

    features = np.array([[*astuple(p.features), 1.0] for p, _ in held])
    direction = logistic(features, np.array([ok for _, ok in held], dtype=float))[:-1]
    mix = np.array([astuple(p.features) for p in judged]) @ direction
    scale, bias = logistic(np.stack([mix, np.ones_like(mix)], 1),
                           np.array([p.correct for p in judged], dtype=float))
    weights = dict(zip(ConfidenceFeatures.names(), (scale * direction).tolist()))
    return {name: round(float(w), 4) for name, w in {**weights, "bias": bias}.items()}


def calibrate(model_dir: Path, newsqa: Path, work: Path, k: int = 6,
              max_false_abstention: float = 0.08, log=print, fresh: bool = False
              ) -> Calibrations:
    """Fit the confidences and choose the thresholds; write them into `reader.json`."""
    import numpy as np

    from qa.evaluate import load_questions

    articles = sorted((newsqa / "articles").iterdir())
    questions = load_questions(newsqa / "questions_dev.jsonl")
    unsourced = next((q["id"] for q in questions if not q["sources"]), None)
    if unsourced is not None:  # the held-out split is made by each question's article
        raise InputError(f"{newsqa / 'questions_dev.jsonl'}: question {unsourced} names no "
                         "source article; calibration needs each question's gold article")
    build_once(articles, work / "all", fresh)
    build_once([p for p in articles if held_out_split(p.name)], work / "held-out", fresh)
    log(f"{len(questions)} questions, on the full and the held-out index, searching and "
        "restricted to one article")
    answerable = np.array([held_out_split(q["sources"][0]) for q in questions])
    missing = [q for q, ok in zip(questions, answerable) if not ok]
    # two worker processes, one core each; spawned, not forked: a fork after this process
    # loaded onnxruntime or FAISS (a first build) can hang on a lock held by a thread
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = [pool.submit(_points, work / "all", questions, model_dir, k),
                pool.submit(_points, work / "held-out", questions, model_dir, k),
                pool.submit(_points, work / "all", questions, model_dir, k, named=True),
                pool.submit(_points, work / "held-out", missing, model_dir, k,
                            closest_wrong=True)]
        full, held, gold, wrong = (run.result() for run in runs)
    # Right or wrong on the full index; on the held-out one, questions whose article is
    # missing can only be answered wrong.
    unanswered = [replace(p, correct=False) for p, ok in zip(held, answerable) if p and not ok]
    searched = _calibration([(p, ok) for p, ok in zip(held, answerable)],
                            [p for p in full if p] + unanswered, max_false_abstention, log)
    named = _calibration([(p, True) for p in gold] + [(p, False) for p in wrong],
                         [p for p in gold + wrong if p], max_false_abstention, log)
    meta_path = model_dir / "reader.json"
    meta = json.loads(meta_path.read_text())
    meta.update(_written(searched, {"set": "NewsQA dev", "k": k}))
    meta["named"] = _written(named, {
        "set": "NewsQA dev, each question restricted to its own article (answerable), and "
               "the held-out index's unanswerable questions each to the article retrieved "
               "first there (unanswerable)", "k": k})
    replace_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return Calibrations(searched, named)


def _calibration(held: list[tuple[_Point | None, bool]], judged: list[_Point],
                 max_false_abstention: float, log) -> Calibration:
    """The confidence fitted on `held` (point, answerable) and `judged` (see `_fit`), with
    the highest threshold at which at most `max_false_abstention` of the answerable abstain
    (a question with no span at all always does)."""
    import numpy as np

    from qa.reader.model import calibrated_confidence

    weights = _fit([(p, ok) for p, ok in held if p], judged)
    terms = " + ".join(f"{w} * {name}" for name, w in weights.items() if name != "bias")
    log(f"confidence = sigmoid({terms} + {weights['bias']}); choosing the threshold")
    confidence = np.array([calibrated_confidence(weights, p.features) if p else 0.0
                           for p, _ in held])
    answerable = np.array([ok for _, ok in held])
    candidates = np.unique(np.round(confidence, 3))
    ok = [t for t in candidates
          if (confidence[answerable] < t).mean() <= max_false_abstention]
    threshold = float(max(ok)) if ok else 0.0
    return Calibration(weights, threshold,
                       float((confidence[answerable] < threshold).mean()),
                       float((confidence[~answerable] < threshold).mean()), len(held))


def _written(fitted: Calibration, on: dict) -> dict:
    """How `fitted` is kept in `reader.json`."""
    return {"calibration": fitted.weights, "threshold": round(fitted.threshold, 3),
            "calibrated_on": {**on, "answerable_abstained": round(fitted.answerable_abstained, 4),
                              "unanswerable_abstained":
                                  round(fitted.unanswerable_abstained, 4)}}


@click.command()
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(__file__).resolve().parent / "model", show_default=True)
@click.option("--newsqa", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_NEWSQA, show_default=True)
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_WORK, show_default=True,
              help="Where the two NewsQA indexes are built (kept for re-runs).")
@click.option("--fresh", is_flag=True, help="Rebuild the NewsQA indexes in --work.")
def main(model_dir: Path, newsqa: Path, work: Path, fresh: bool) -> None:
    """Fit the reader's confidence and abstention threshold on NewsQA dev."""
    missing = [p for p in (newsqa / "articles", newsqa / "questions_dev.jsonl") if not p.exists()]
    if missing:
        raise click.BadParameter(f"{missing[0]} does not exist: give the NewsQA folder of "
                                 "../shared/eval", param_hint="--newsqa")
    try:
        click.echo(calibrate(model_dir, newsqa, work, fresh=fresh))
    except QAError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
