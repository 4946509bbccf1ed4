"""What tells a question the index cannot answer: candidate confidence features, side by side.

    python -m bench.abstention            # all 2,049 NewsQA dev questions (about 6 minutes)

On the held-out index of `bench.reader` (dev articles whose file name's MD5 starts with 0-b),
every question is read as `qa ask` reads it; those on the other articles (c-f) cannot be
answered. Each feature set is fitted as `qa.reader.calibrate` fits the shipped confidence
(a logistic separation of answerable from unanswerable), cross-fitted on two halves of the
articles (the MD5's second hex digit 0-7 / 8-f), then thresholded where 8% (and 10%) of the
answerable questions abstain. Also: the shipped confidence on vague questions (no name or
number, at most 3 content words: "What was cancelled?") and on the rest.
Writes `bench/results/ABSTENTION.md`.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from dataclasses import astuple
from pathlib import Path

from bench.common import BENCH_DIR, DEFAULT_ARTICLES, DEFAULT_QUESTIONS

#: the shipped features first, then each candidate with them.
FEATURE_SETS = {
    "shipped: margin, coverage, similarity": (),
    "+ the question's words in the whole article": ("article_coverage",),
    "+ the question's names in the whole article": ("names_in_article",),
    "+ margin over the next span": ("runner_up_gap",),
    "+ share of the passages from the answer's article": ("article_share",),
    "+ vague question": ("vague",),
    "+ all five": ("article_coverage", "names_in_article", "runner_up_gap", "article_share",
                   "vague"),
}
SHIPPED = ("margin", "coverage", "similarity")


def _rows(index_dir: Path, questions: list[dict]) -> list[dict[str, float] | None]:
    """Per question, every candidate feature of its best span (None: no span at all)."""
    from qa.answering.extractive import (
        confidence_features,
        question_coverage,
        question_names,
        read_spans,
    )
    from qa.core.text import content_words
    from qa.engine import QA

    engine = QA(index_dir=index_dir)
    rows: list[dict[str, float] | None] = []
    for item in questions:
        question = item["question"]
        passages = engine.retrieve(question)
        ranked = read_spans(question, passages, engine.reader)
        if not ranked:
            rows.append(None)
            continue
        article = passages[ranked[0].passage].article
        names = question_names(question)
        in_article = content_words(article.text)
        shipped = confidence_features(question, passages, ranked)
        rows.append({
            **dict(zip(SHIPPED, astuple(shipped))),
            "confidence": engine.reader.calibration.confidence(shipped),
            "article_coverage": question_coverage(question, article.text),
            "names_in_article": sum(n in in_article for n in names) / len(names) if names
            else 1.0,
            "runner_up_gap": ranked[0].margin - ranked[1].margin if len(ranked) > 1 else 10.0,
            "article_share": sum(p.article.id == article.id for p in passages) / len(passages),
            "vague": float(_vague(question)),
        })
    return rows


def _vague(question: str) -> bool:
    from qa.answering.extractive import question_names
    from qa.core.text import content_words

    return not question_names(question) and len(content_words(question)) <= 3


def _abstained(rows: list[dict[str, float] | None], answerable, halves, names: tuple[str, ...],
               false_rate: float) -> float:
    """Unanswerable questions abstained with the cross-fitted mix of `names`, at the
    threshold where `false_rate` of the answerable ones abstain."""
    import numpy as np

    from qa.reader.calibrate import logistic

    read = np.array([r is not None for r in rows])
    features = np.array([[r[n] for n in names] + [1.0] if r else [0.0] * (len(names) + 1)
                         for r in rows])
    score = np.full(len(rows), -np.inf)
    for fit in (halves, ~halves):
        weights = logistic(features[fit & read], answerable[fit & read].astype(float))
        score[~fit & read] = features[~fit & read] @ weights
    threshold = np.quantile(score[answerable], false_rate)
    return float((score[~answerable] < threshold).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-reader",
                        help="Where the NewsQA indexes are built (reused when present).")
    args = parser.parse_args()

    import numpy as np

    from qa.evaluate import load_questions
    from qa.reader.calibrate import build_once, held_out_split

    questions = load_questions(DEFAULT_QUESTIONS)
    kept = [p for p in sorted(DEFAULT_ARTICLES.glob("*.txt")) if held_out_split(p.name)]
    build_once(kept, args.work / "held-out")
    rows = _rows(args.work / "held-out", questions)
    gold = [q["sources"][0] for q in questions]
    answerable = np.array([held_out_split(name) for name in gold])
    halves = np.array([hashlib.md5(name.encode()).hexdigest()[1] in "01234567" for name in gold])
    lines = ["# What tells an unanswerable question (held-out index, "
             f"{len(questions)} NewsQA dev questions)", "",
             "`python -m bench.abstention`: unanswerable questions abstained, each feature set "
             "cross-fitted on two halves of the articles.", "",
             "| confidence features | at 8% false abstention | at 10% |", "|---|---:|---:|"]
    for label, extra in FEATURE_SETS.items():
        at = [_abstained(rows, answerable, halves, SHIPPED + extra, rate) for rate in (.08, .1)]
        lines.append(f"| {label} | {at[0]:.1%} | {at[1]:.1%} |")
    from qa.reader.model import load_reader

    threshold = load_reader().calibration.threshold
    lines += ["", f"The shipped confidence and threshold ({threshold}), by kind of question:", "",
              "| questions | share | answerable abstained | unanswerable abstained |",
              "|---|---:|---:|---:|"]
    abstains = np.array([r is None or r["confidence"] < threshold for r in rows])
    vague = np.array([_vague(q["question"]) for q in questions])
    for label, group in (("vague (no name or number, ≤ 3 content words)", vague),
                         ("the rest", ~vague)):
        lines.append(f"| {label} | {group.mean():.1%} | "
                     f"{abstains[group & answerable].mean():.1%} | "
                     f"{abstains[group & ~answerable].mean():.1%} |")
    report = "\n".join(lines) + "\n"
    (BENCH_DIR / "results" / "ABSTENTION.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
