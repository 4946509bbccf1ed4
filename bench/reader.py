"""The trained reader on NewsQA dev and the seeds: the figures of the learned-reader issue.

    python -m bench.reader                 # all 2,049 questions (about 15 minutes on 2 cores)
    python -m bench.reader --limit 300     # quicker
    python -m bench.reader --latency-only  # re-measure only the latency (on a quiet machine)

Runs each with `qa.evaluate.evaluate` (what `qa eval` prints), the first four in two
worker processes side by side, then the last two alone:
- open retrieval over an index of all 638 dev articles;
- `--oracle`: each question restricted to its gold article;
- held-out abstention: an index of the articles whose file name's MD5 starts with 0-b; the
  questions on the other articles (c-f) must abstain, those on 0-b must not;
- the same c-f questions, each restricted (as `--oracle` restricts) to the held-out index's
  best-retrieved article, which is on topic but not the question's: they must abstain too
  (a user who names an article that does not say must hear so);
- the seed set;
- warm answer latency on one thread, against retrieval alone in the same run.
Writes `bench/results/reader.json` and `bench/results/READER.md`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import BENCH_DIR, DEFAULT_ARTICLES, DEFAULT_QUESTIONS, SHARED, machine

SEED_QUESTIONS = SHARED / "eval" / "seed_questions.jsonl"


def _engine(index_dir: Path, articles: list[Path]):
    from qa.core.settings import Settings
    from qa.engine import QA
    from qa.reader.calibrate import build_once

    build_once(articles, index_dir)
    # no reader cache: the latency is measured on questions answered earlier in this run
    return QA(settings=Settings.from_env(index_dir=index_dir, reader_cache_pairs=0))


def _wrong_article(index_dir: Path, articles: list[Path], questions: list[dict]) -> list[dict]:
    """`questions` restricted to their closest wrong article (`closest_wrong_articles`)."""
    from qa.reader.calibrate import closest_wrong_articles

    return closest_wrong_articles(_engine(index_dir, articles), questions)


def _evaluate(index_dir: Path, articles: list[Path], questions: list[dict],
              oracle: bool = False) -> dict:
    """`qa eval`'s report without its failure list."""
    from qa.evaluate import evaluate

    report = evaluate(_engine(index_dir, articles), questions, oracle=oracle).to_dict()
    report.pop("failures")
    return report


def _latency(engine, questions: list[dict]) -> dict[str, float]:
    """Warm p50 of a whole answer and of retrieval alone, same questions, one thread."""
    answer, retrieve = [], []
    for item in questions:
        started = time.perf_counter()
        engine.retrieve(item["question"])
        retrieve.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.answer(item["question"])
        answer.append(time.perf_counter() - started)
    return {"answer_p50_ms": round(statistics.median(answer) * 1000, 1),
            "retrieve_p50_ms": round(statistics.median(retrieve) * 1000, 1),
            "answer_over_retrieve": round(statistics.median(answer)
                                          / statistics.median(retrieve), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-reader",
                        help="Where the NewsQA indexes are built (reused when present).")
    parser.add_argument("--latency-only", action="store_true",
                        help="Measure only the latency and update it in the results.")
    args = parser.parse_args()

    from qa.evaluate import evaluate, load_questions
    from qa.reader.calibrate import build_once, held_out_split

    articles = sorted(DEFAULT_ARTICLES.glob("*.txt"))
    questions = load_questions(DEFAULT_QUESTIONS)[:args.limit]
    out = BENCH_DIR / "results"
    if args.latency_only:
        results = json.loads((out / "reader.json").read_text())
        results["latency"] = _latency(_engine(args.work / "all", articles), questions[:200])
        results["latency_load"] = _load_average()
        print("latency", results["latency"], flush=True)
        _write(results, out)
        return
    results: dict = {"machine": machine(), "questions": len(questions)}
    kept = [p for p in articles if held_out_split(p.name)]
    split = [{**q, "answers": q["answers"] if held_out_split(q["sources"][0]) else []}
             for q in questions]
    build_once(articles, args.work / "all")
    build_once(kept, args.work / "held-out")
    not_indexed = [q for q in questions if not held_out_split(q["sources"][0])]
    # spawned, not forked: a fork after this process loaded onnxruntime (a first build) hangs
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        wrong = pool.submit(_wrong_article, args.work / "held-out", kept, not_indexed)
        runs = {"open": (args.work / "all", articles, questions, False),
                "oracle": (args.work / "all", articles, questions, True),
                "held_out": (args.work / "held-out", kept, split, False)}
        reports = {name: pool.submit(_evaluate, *run) for name, run in runs.items()}
        restricted = wrong.result()
        results["wrong_article_left_out"] = len(not_indexed) - len(restricted)
        reports["wrong_article"] = pool.submit(_evaluate, args.work / "held-out", kept,
                                               restricted, True)
        for name, report in reports.items():
            results[name] = report.result()
            print(name, json.dumps(results[name]), flush=True)

    full = _engine(args.work / "all", articles)
    seeds = _engine(args.work / "seeds", [BENCH_DIR.parent / "seeds"])
    report = evaluate(seeds, load_questions(SEED_QUESTIONS)).to_dict()
    results["seeds"] = {k: report[k] for k in ("answerable", "unanswerable", "answer_accuracy",
                                               "abstention_recall", "abstained_answerable")}
    results["latency"] = _latency(full, questions[:200])
    results["latency_load"] = _load_average()
    print("latency", results["latency"], flush=True)
    _write(results, out)


def _write(results: dict, out: Path) -> None:
    """`reader.json` and the `READER.md` table drawn from it."""
    (out / "reader.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "READER.md").write_text(_report(results))


def _load_average() -> float:
    """The machine's 1-minute load average, to read the latency against."""
    import os

    return round(os.getloadavg()[0], 2)


def _report(r: dict) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:.1f}%"

    o, g, h, s, lat = r["open"], r["oracle"], r["held_out"], r["seeds"], r["latency"]
    wrong = r.get("wrong_article", {}).get("abstention_recall")
    rows = [
        ("answer accuracy, open retrieval", pct(o["answer_accuracy"]), "≥ 55%"),
        ("answer accuracy, gold article (`--oracle`)", pct(g["answer_accuracy"]), "≥ 75%"),
        ("short-answer token F1, open", pct(o["short_f1"]), "≥ 40%"),
        ("short-answer exact match, open", pct(o["short_exact_match"]), ""),
        ("citation accuracy (answered), open", pct(o["citation_accuracy"]), "≥ 80%"),
        ("held-out: unanswerable abstained", pct(h["abstention_recall"]), "≥ 70%"),
        ("held-out: answerable abstained",
         pct(h["abstained_answerable"] / h["answerable"] if h["answerable"] else None),
         "≤ 10%"),
        ("held-out, each restricted to its closest wrong article: abstained", pct(wrong),
         "(no target)"),
        ("seed set", f"{s['answerable'] - s['abstained_answerable']}/{s['answerable']} "
                     f"answered, {pct(s['answer_accuracy'])} right, "
                     f"{pct(s['abstention_recall'])} of unanswerable abstained", "12/12 + 2/2"),
        ("answer latency p50 (warm, one thread)",
         f"{lat['answer_p50_ms']} ms ({lat['answer_over_retrieve']}× retrieval alone; load "
         f"{r.get('latency_load', '?')})",
         "≤ 150 ms"),
    ]
    lines = [f"# The trained reader on NewsQA dev ({r['questions']} questions)", "",
             "`python -m bench.reader` on " + r["machine"].get("cpu", "this machine") + ".", "",
             "| metric | measured | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
