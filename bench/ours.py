"""article-qa measured the same way as the baselines, each step in its own process:

    python -m bench.ours build --index-dir DIR [--rebuild]   # index build (or re-index)
    python -m bench.ours serve --index-dir DIR               # retrieval quality + warm latency

Every command prints one JSON object on stdout. `bench/run.py` drives them; cold start and
`--help` are timed on the real `qa` command line there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.common import (
    DEFAULT_ARTICLES,
    DEFAULT_QUESTIONS,
    Hit,
    dir_size,
    load_questions,
    peak_rss_mb,
    percentiles,
    score,
)

#: passages drawn per question for the quality figures, as `qa eval` does (context cut at
#: 4,000 characters; article ranking = their distinct articles).
QUALITY_K = 10


def build(args) -> dict:
    from qa.index import build_index

    from qa.core.settings import Settings

    t0 = time.perf_counter()
    report = build_index([args.articles], Settings.from_env(index_dir=Path(args.index_dir)),
                         rebuild=args.rebuild)
    seconds = time.perf_counter() - t0
    return {
        "system": "ours",
        "summary": report.summary,
        "articles": report.articles_total,
        "chunks": report.chunks_total,
        "chunks_embedded": report.chunks_embedded,
        "report_s": report.seconds,
        "build_s": seconds,
        "index_bytes": dir_size(args.index_dir),
        "rss_mb": peak_rss_mb(),
    }


def serve(args) -> dict:
    from qa import QA

    t0 = time.perf_counter()
    engine = QA(index_dir=args.index_dir)
    engine.answer("warm up: who was killed?")
    load_s = time.perf_counter() - t0
    questions = load_questions(args.questions, args.limit)
    rankings = {}
    for q in questions:
        passages = engine.retrieve(q["question"], QUALITY_K)
        rankings[q["id"]] = [Hit(p.chunk.text, p.article.name) for p in passages]
    quality = score(questions, lambda q: rankings[q["id"]])
    retrieve_times, answer_times = [], []
    for q in questions[:args.latency_n]:
        t = time.perf_counter()
        engine.retrieve(q["question"], 4)
        retrieve_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.answer(q["question"])
        answer_times.append(time.perf_counter() - t)
    return {"system": "ours", "load_s": load_s, "quality": quality.to_dict(),
            "retrieve_latency": percentiles(retrieve_times),
            "answer_latency": percentiles(answer_times), "rss_mb": peak_rss_mb(),
            "stats": asdict(engine.stats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--articles", default=str(DEFAULT_ARTICLES))
    b.add_argument("--index-dir", required=True)
    b.add_argument("--rebuild", action="store_true")
    s = sub.add_parser("serve")
    s.add_argument("--index-dir", required=True)
    s.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--latency-n", type=int, default=300)
    args = parser.parse_args(argv)
    print(json.dumps({"build": build, "serve": serve}[args.command](args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
