"""Reader models side by side, the reader alone: the model card's curves.

    python -m bench.reader_curve qa/reader/model /tmp/other/model --limit 300
    python -m bench.reader_curve qa/reader/model --skip 300 --limit 500 --open

For the first `--limit` answerable NewsQA dev questions (after `--skip`): retrieve 6
passages from the gold article (`--open`: from all 638 articles), read them with each model,
compose the answer and never abstain. Prints, per model, the answer accuracy (a gold string
in the answer), the short answer's token F1 and, with `--open`, the citation accuracy and
how often a passage of the gold article holding a gold string was among those read (the
ceiling retrieval sets).
Calibration and abstention are left out on purpose: they are fitted per model, after the
model is chosen. The index is the one `bench.reader` builds (`--work`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import DEFAULT_ARTICLES, DEFAULT_QUESTIONS


@dataclass(frozen=True)
class CurvePoint:
    """One model's figures on the chosen questions."""

    model: str
    questions: int
    open_retrieval: bool
    answer_accuracy: float
    short_f1: float
    citation_accuracy: float
    #: share of the questions for which a read passage of the gold article holds a gold string.
    answer_passage_read: float
    seconds: float


def measure(model_dir: Path, index_dir: Path, questions: list[dict],
            open_retrieval: bool) -> CurvePoint:
    """Answer `questions` with the reader in `model_dir`, never abstaining."""
    import time

    from qa.answering.extractive import compose_answer, read_spans
    from qa.core.settings import Settings
    from qa.engine import QA
    from qa.evaluate import contains_answer, token_f1

    engine = QA(settings=Settings.from_env(index_dir=index_dir, reader_dir=model_dir))
    right = f1 = cited = held = 0.0
    started = time.perf_counter()
    for item in questions:
        passages = engine.retrieve(item["question"], 6,
                                   sources=None if open_retrieval else item["sources"])
        held += any(Path(p.article.path).name in item["sources"]
                    and contains_answer(p.chunk.text, item["answers"]) for p in passages)
        ranked = read_spans(item["question"], passages, engine.reader)
        if not ranked:
            continue
        answer = compose_answer(item["question"], passages, ranked, 1.0)
        right += contains_answer(answer.text, item["answers"])
        f1 += max(token_f1(answer.short.text, gold) for gold in item["answers"])
        cited += Path(answer.citations[0].article.path).name in item["sources"]
    n = len(questions)
    return CurvePoint(str(model_dir), n, open_retrieval, round(right / n, 4), round(f1 / n, 4),
                      round(cited / n, 4), round(held / n, 4),
                      round(time.perf_counter() - started, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help="Reader model directories.")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--open", action="store_true", help="Retrieve from all articles.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-reader",
                        help="Where the NewsQA index is built (reused when present).")
    args = parser.parse_args()

    from qa.evaluate import load_questions
    from qa.reader.calibrate import build_once

    index_dir = args.work / "all"
    build_once(sorted(DEFAULT_ARTICLES.glob("*.txt")), index_dir)
    answerable = [q for q in load_questions(DEFAULT_QUESTIONS) if q["answers"]]
    questions = answerable[args.skip:][:args.limit]
    for model_dir in args.models:
        print(json.dumps(asdict(measure(model_dir, index_dir, questions, args.open))), flush=True)


if __name__ == "__main__":
    main()
