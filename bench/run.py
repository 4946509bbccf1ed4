"""Measure article-qa against the two baselines in one run; write bench/results/REPORT.md,
bench/results/results.json and bench/results/bench.png.

    python -m bench.run                 # everything (about 15-25 minutes on 2 idle cores)
    python -m bench.run --limit 200     # a quicker pass on the first 200 questions
    python -m bench.run --skip-eval     # without `qa eval` over the dev set

Every step runs in a new process so that its wall time and peak RSS (from wait4) are its own.
Baselines: (a) the LangChain tutorial pipeline, (b) BM25 over the same chunks; see
bench/baselines.py. Both use the bundled all-MiniLM-L6-v2 and the same NewsQA articles.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.common import (
    BENCH_DIR,
    DEFAULT_ARTICLES,
    DEFAULT_QUESTIONS,
    REPO,
    child_env,
    dir_size,
    load_questions,
    machine,
    run_child,
    work_folder,
)

PY = sys.executable
QA_BIN = str(Path(sys.executable).with_name("qa"))


def step(name: str, argv: list[str], log: dict, *, json_out: bool = True) -> dict:
    """Run one measured step in a new process and record it under `log[name]`."""
    print(f"[bench] {name}: {' '.join(argv[:6])}{' ...' if len(argv) > 6 else ''}",
          file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    result = run_child(argv, env=child_env(), cwd=REPO)
    result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["cpu_s"] = round(result["cpu_s"], 3)
    if result["returncode"] != 0:
        tail = result["stderr"].strip().splitlines()[-5:]
        print(f"[bench] {name} FAILED ({result['returncode']}): {' | '.join(tail)}",
              file=sys.stderr, flush=True)
        result["error"] = "\n".join(tail)
    elif json_out:
        lines = [x for x in result["stdout"].strip().splitlines() if x.startswith("{")]
        result["data"] = json.loads(lines[-1]) if lines else {}
    result.pop("stderr")
    if json_out:
        result.pop("stdout")
    print(f"[bench] {name}: {result['seconds']:.2f} s, {result['rss_mb']:.0f} MB "
          f"(load {result['load_avg'][0]}->{result['load_avg'][1]})", file=sys.stderr,
          flush=True)
    log[name] = result
    return result


def repeat(name: str, argv: list[str], log: dict, times: int) -> dict:
    runs = [step(f"{name}#{i + 1}", argv, log, json_out=False) for i in range(times)]
    ok = [r for r in runs if r["returncode"] == 0]
    summary = {"seconds_median": statistics.median(r["seconds"] for r in ok) if ok else None,
               "seconds_min": min((r["seconds"] for r in ok), default=None),
               "rss_mb": max((r["rss_mb"] for r in ok), default=None),
               "runs": len(runs), "ok": len(ok),
               "sample_stdout": ok[0]["stdout"][:600] if ok else runs[-1].get("error")}
    log[name] = summary
    return summary


STEPS = ("tutorial_build", "tutorial_serve", "tutorial_cold", "bm25", "ours_build",
         "ours_reindex", "ours_reindex_cli", "ours_serve", "ours_cold_ask", "ours_help",
         "ours_eval")


def measure(args) -> dict:
    work = Path(args.work)
    redo = set(args.redo or ())
    if redo:  # re-measure some steps on the indexes of the previous run
        log = json.loads((Path(args.out) / "results.json").read_text())
        log.setdefault("redone", {}).update({name: time.strftime("%Y-%m-%d %H:%M %Z")
                                             for name in redo})
    else:
        work_folder(work, empty=True)
        log = {"machine": machine(), "articles_dir": str(args.articles),
               "questions": str(args.questions), "limit": args.limit}
        articles = sorted(Path(args.articles).glob("*.txt"))
        log["input"] = {"files": len(articles),
                        "text_mb": sum(p.stat().st_size for p in articles) / 1e6}

    def want(name: str) -> bool:
        return not redo or name in redo

    # our ONNX query model is exported on the first build into this cache: start it empty
    # so that the first build pays for the export
    os.environ["QA_CACHE_DIR"] = str(work / "cache")
    if want("ours_build"):
        shutil.rmtree(work / "cache", ignore_errors=True)

    q_args = ["--questions", str(args.questions), "--latency-n", str(args.latency_n)]
    if args.limit:
        q_args += ["--limit", str(args.limit)]
    question = load_questions(args.questions, 1)[0]["question"]
    started = time.time()

    # (a) the LangChain tutorial pipeline
    tut = work / "tutorial"
    if want("tutorial_build"):
        step("tutorial_build", [PY, "-m", "bench.baselines", "build-tutorial", "--articles",
                                str(args.articles), "--out", str(tut)], log)
    if want("tutorial_serve"):
        step("tutorial_serve", [PY, "-m", "bench.baselines", "serve-tutorial", "--index",
                                str(tut), *q_args], log)
    if want("tutorial_cold"):
        repeat("tutorial_cold", [PY, "-m", "bench.baselines", "cold-tutorial", "--index",
                                 str(tut), question], log, args.cold_runs)
    # (b) BM25 over the same chunks
    if want("bm25"):
        step("bm25", [PY, "-m", "bench.baselines", "bm25", "--articles", str(args.articles),
                      "--out", str(work / "bm25"), *q_args], log)

    # ours
    idx = work / "ours"
    build = [PY, "-m", "bench.ours", "build", "--articles", str(args.articles),
             "--index-dir", str(idx)]
    if want("ours_build"):
        step("ours_build", build, log)
    if want("ours_reindex"):
        step("ours_reindex", build, log)
    if want("ours_reindex_cli"):
        step("ours_reindex_cli", [QA_BIN, "index", str(args.articles), "--index-dir",
                                  str(idx)], log, json_out=False)
    log["ours_index_bytes"] = dir_size(idx)
    log["ours_query_model_bytes"] = dir_size(work / "cache")
    if want("ours_serve"):
        step("ours_serve", [PY, "-m", "bench.ours", "serve", "--index-dir", str(idx),
                            *q_args], log)
    if want("ours_cold_ask"):
        repeat("ours_cold_ask", [QA_BIN, "ask", question, "--index-dir", str(idx)], log,
               args.cold_runs)
    if want("ours_help"):
        repeat("ours_help", [QA_BIN, "--help"], log, 5)
    if want("ours_eval") and not args.skip_eval:
        argv = [QA_BIN, "eval", str(args.questions), "--index-dir", str(idx), "--json"]
        if args.limit:
            argv += ["--limit", str(args.limit)]
        r = step("ours_eval", argv, log, json_out=False)
        if r["returncode"] == 0:
            data = json.loads(r.pop("stdout"))
            data.pop("failures", None)
            r["data"] = data
    if not redo:
        log["total_s"] = time.time() - started
    log["machine"]["load_avg_at_end"] = os.getloadavg()
    return log


# ------------------------------------------------------------------ report

def _get(log: dict, *path, default=None):
    cur = log
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return cur


def figures(log: dict) -> list[dict]:
    """Rows of the report: name, unit, better ('lower'/'higher'), ours, (a), (b), target."""
    mb = log["input"]["text_mb"]
    g = lambda *p: _get(log, *p)  # noqa: E731
    bb = g("bm25")
    rows = []

    def row(name, unit, better, ours, a, b=None, target="", met=None):
        rows.append({"figure": name, "unit": unit, "better": better, "ours": ours,
                     "tutorial": a, "bm25": b, "target": target, "met": met})

    def per_s(count, seconds):
        return count / seconds if count and seconds else None

    o_build = g("ours_build", "seconds")
    a_build = g("tutorial_build", "seconds")
    row("First build of the corpus (new process, wall)", "s", "lower", o_build, a_build,
        g("bm25", "data", "build_s"), "≥ 1.5× faster than (a)",
        o_build and a_build and a_build / o_build >= 1.5)
    row("  CPU time of that process (user+sys)", "CPU s", "lower", g("ours_build", "cpu_s"),
        g("tutorial_build", "cpu_s"), None)
    row("  of which in-process build", "s", "lower", g("ours_build", "data", "report_s"),
        g("tutorial_build", "data", "build_s"), g("bm25", "data", "build_s"))
    row("Chunks in the index", "chunks", "", g("ours_build", "data", "chunks"),
        g("tutorial_build", "data", "chunks"), g("bm25", "data", "chunks"))
    row("Build throughput (own chunks)", "chunks/s", "higher",
        per_s(g("ours_build", "data", "chunks_embedded"), o_build),
        per_s(g("tutorial_build", "data", "chunks"), a_build),
        per_s(g("bm25", "data", "chunks"), g("bm25", "data", "build_s")))
    kb = mb * 1000
    row("Build throughput (article text)", "KB/s", "higher", per_s(kb, o_build),
        per_s(kb, a_build), per_s(kb, g("bm25", "data", "build_s")))
    o_re = g("ours_reindex", "seconds")
    row("Re-index, nothing changed (new process, wall)", "s", "lower", o_re, a_build,
        g("bm25", "data", "build_s"), "≥ 20× faster than first build",
        o_re and o_build and o_build / o_re >= 20)
    row("  CPU time of that process (user+sys)", "CPU s", "lower", g("ours_reindex", "cpu_s"),
        g("tutorial_build", "cpu_s"), None)
    row("  of which in-process", "s", "lower", g("ours_reindex", "data", "report_s"),
        g("tutorial_build", "data", "build_s"), g("bm25", "data", "build_s"))
    row("  `qa index` CLI, nothing changed", "s", "lower", g("ours_reindex_cli", "seconds"),
        a_build, None)
    row("Peak RSS while building", "MB", "lower", g("ours_build", "rss_mb"),
        g("tutorial_build", "rss_mb"), bb and bb.get("rss_mb"))
    o_serve_rss = g("ours_serve", "rss_mb")
    row("Peak RSS serving (load + all dev questions)", "MB", "lower", o_serve_rss,
        g("tutorial_serve", "rss_mb"), bb and bb.get("rss_mb"), "< 1 GB",
        o_serve_rss is not None and o_serve_rss < 1024)
    to_mb = lambda v: v / 1e6 if v else None  # noqa: E731
    row("Index size on disk", "MB", "lower", to_mb(log.get("ours_index_bytes")),
        to_mb(g("tutorial_build", "data", "index_bytes")), to_mb(g("bm25", "data", "index_bytes")))
    row("  plus our ONNX query model (cache, once per model)", "MB", "",
        to_mb(log.get("ours_query_model_bytes")), None)
    cold = g("ours_cold_ask", "seconds_median")
    row("Cold start: new process to first answer (median)", "s", "lower", cold,
        g("tutorial_cold", "seconds_median"), None, "< 6 s", cold is not None and cold < 6)
    row("Peak RSS of that process", "MB", "lower", g("ours_cold_ask", "rss_mb"),
        g("tutorial_cold", "rss_mb"), None)
    hlp = g("ours_help", "seconds_median")
    row("`qa --help` (median of 5)", "s", "lower", hlp, None, None, "< 0.5 s",
        hlp is not None and hlp < 0.5)
    o_ans = g("ours_serve", "data", "answer_latency", "p50_ms")
    a_ss = g("tutorial_serve", "data", "latency", "p50_ms")
    row("Warm latency p50: our answer vs (a) similarity_search(k=4)", "ms", "lower", o_ans,
        a_ss, g("bm25", "data", "latency", "p50_ms"), "≤ 2× (a); ≤ 50 ms",
        o_ans is not None and a_ss is not None and o_ans <= 2 * a_ss and o_ans <= 50)
    o_ans95 = g("ours_serve", "data", "answer_latency", "p95_ms")
    row("Warm latency p95: our answer vs (a) similarity_search(k=4)", "ms", "lower", o_ans95,
        g("tutorial_serve", "data", "latency", "p95_ms"), g("bm25", "data", "latency", "p95_ms"),
        "≤ 150 ms", o_ans95 is not None and o_ans95 <= 150)
    row("Warm latency p50: retrieval only (k=4)", "ms", "lower",
        g("ours_serve", "data", "retrieve_latency", "p50_ms"), a_ss,
        g("bm25", "data", "latency", "p50_ms"))
    row("Warm latency p95: retrieval only (k=4)", "ms", "lower",
        g("ours_serve", "data", "retrieve_latency", "p95_ms"),
        g("tutorial_serve", "data", "latency", "p95_ms"), g("bm25", "data", "latency", "p95_ms"))
    q = lambda who, key: g(who, "data", "quality", key)  # noqa: E731
    for key, label, target, goal in [
        ("answer_in_context", "Gold answer in 4,000 chars of retrieved context", "≥ 75%", 0.75),
        ("article_in_top4", "Gold article in top-4 chunks", "", None),
        ("article_recall_at_5", "Article recall@5", "≥ 85%", 0.85),
        ("article_mrr", "Article MRR", "", None),
    ]:
        ours = q("ours_serve", key)
        row(label, "%", "higher", ours, q("tutorial_serve", key), q("bm25", key), target,
            None if goal is None or ours is None else ours >= goal)
    ev = lambda key: g("ours_eval", "data", key)  # noqa: E731
    row("`qa eval`: answer accuracy (gold string in ≤50-word answer)", "%", "higher",
        ev("answer_accuracy"), None, None, "≥ 50%",
        ev("answer_accuracy") is not None and ev("answer_accuracy") >= 0.5)
    row("`qa eval`: citation accuracy (of answered)", "%", "higher", ev("citation_accuracy"),
        None, None, "≥ 80%",
        ev("citation_accuracy") is not None and ev("citation_accuracy") >= 0.8)
    row("`qa eval`: token F1", "%", "higher", ev("token_f1"), None, None)
    row("`qa eval`: answer in context@4000 (its own count)", "%", "higher",
        ev("answer_in_context_4000"), None, None)
    row("`qa eval`: article recall@5 (its own count)", "%", "higher",
        ev("article_recall_at_5"), None, None)
    row("`qa eval`: latency p50 / p95 per answer", "ms", "lower",
        ev("latency_p50_ms"), None, None, "p50 ≤ 50, p95 ≤ 150",
        ev("latency_p50_ms") is not None and ev("latency_p50_ms") <= 50
        and (ev("latency_p95_ms") or 1e9) <= 150)
    if rows[-1]["ours"] is not None:
        rows[-1]["ours"] = f"{ev('latency_p50_ms')} / {ev('latency_p95_ms')}"
    return rows


def _fmt(value, unit) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if unit == "%":
        return f"{100 * value:.1f}%"
    if isinstance(value, int) or unit == "chunks":
        return f"{value:,.0f}"
    if 0 < abs(value) < 1:
        return f"{value:.3g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(ours, base) -> str:
    if not isinstance(ours, (int, float)) or not isinstance(base, (int, float)) or not base:
        return "–"
    return f"{ours / base:.2f}"


def write_report(log: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(log, indent=2, default=str))
    rows = figures(log)
    m = log["machine"]
    v = m["versions"]
    lines = [
        "# article-qa benchmarks",
        "",
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, "
        f"{m['os']}, Python {m['python']}; torch {v.get('torch')}, sentence-transformers "
        f"{v.get('sentence_transformers')}, faiss {v.get('faiss')}, langchain-community "
        f"{v.get('langchain_community')}, rank_bm25 {v.get('rank_bm25')}. No GPU.",
        f"Load average at start {tuple(round(x, 2) for x in m['load_avg_at_start'])}, at end "
        f"{tuple(round(x, 2) for x in m.get('load_avg_at_end', ()))} (above ~2 the cores were "
        "shared with other work: times are then pessimistic for every system alike).",
        "",
        f"Corpus: {log['input']['files']} NewsQA CNN articles ({log['input']['text_mb']:.2f} MB "
        f"of text); questions: {log['questions']}"
        + (f" (first {log['limit']})" if log.get("limit") else " (all)") + ". "
        "Same embedding model (bundled all-MiniLM-L6-v2) for every system, all measured in "
        "this run, each step in a new process (wall time and peak RSS from `wait4`).",
        "",
        "- **ours**: `index.build_index` / `qa` CLI / `qa.QA` from this repository.",
        "- **(a) tutorial**: RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings "
        "+ FAISS.from_documents + similarity_search(k=4); saved with save_local.",
        "- **(b) BM25**: rank_bm25.BM25Okapi over the same 1000/200 chunks, lower-cased "
        "`\\w+` tokens, top-4.",
        "",
        "Ratio = ours / baseline (for times, sizes and memory lower is better; for "
        "throughput and quality higher is better). The tutorial pipeline has no incremental "
        "mode, so its re-index time is its full build.",
        "",
        "| figure | unit | ours | (a) tutorial | ours/(a) | (b) BM25 | ours/(b) | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(
            f"| {r['figure']} | {r['unit']} | {_fmt(r['ours'], r['unit'])} | "
            f"{_fmt(r['tutorial'], r['unit'])} | {_ratio(r['ours'], r['tutorial'])} | "
            f"{_fmt(r['bm25'], r['unit'])} | {_ratio(r['ours'], r['bm25'])} | {r['target']} | "
            f"{met} |")
    loads = [(k, v["load_avg"]) for k, v in log.items()
             if isinstance(v, dict) and "load_avg" in v and "#" not in k]
    if loads:
        lines += ["", "Machine load (1-minute average before → after) per step: "
                  + "; ".join(f"{k} {a}→{b}" for k, (a, b) in loads) + "."]
    if log.get("redone"):
        lines += ["", "Re-measured later with `--redo` (on the same indexes): "
                  + ", ".join(f"{k} ({v})" for k, v in log["redone"].items()) + "."]
    lines += ["", "## Commands", "",
              "```", "python -m bench.run" + (f" --limit {log['limit']}" if log.get("limit")
                                              else ""), "```", "",
              "Step by step (what `bench.run` launches, each in its own process):", "", "```"]
    seen = []
    for value in log.values():
        if isinstance(value, dict) and "argv" in value:
            command = " ".join(_short(a) for a in value["argv"])
            if command not in seen:
                seen.append(command)
    lines += seen
    lines += ["```", "", "Raw figures: `bench/results/results.json`. Chart: `bench.png`.", ""]
    (out / "REPORT.md").write_text("\n".join(lines))
    chart(rows, log, out / "bench.png")


def _short(arg: str) -> str:
    arg = str(arg)
    if arg == sys.executable:
        return "python"
    if arg == QA_BIN:
        return "qa"
    return f'"{arg}"' if " " in arg else arg


def chart(rows: list[dict], log: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wanted = [
        ("First build of the corpus (new process, wall)", "First build (s)"),
        ("Re-index, nothing changed (new process, wall)", "Re-index, unchanged (s)"),
        ("Peak RSS while building", "Peak RSS building (MB)"),
        ("Peak RSS serving (load + all dev questions)", "Peak RSS serving (MB)"),
        ("Index size on disk", "Index on disk (MB)"),
        ("Cold start: new process to first answer (median)", "Cold start to answer (s)"),
        ("Warm latency p50: our answer vs (a) similarity_search(k=4)",
         "Warm p50 (ms): answer vs search"),
        ("Warm latency p95: our answer vs (a) similarity_search(k=4)",
         "Warm p95 (ms): answer vs search"),
        ("Gold answer in 4,000 chars of retrieved context", "Answer in context (%)"),
        ("Article recall@5", "Article recall@5 (%)"),
        ("Gold article in top-4 chunks", "Gold article in top-4 (%)"),
        ("Build throughput (own chunks)", "Build throughput (chunks/s)"),
    ]
    by_name = {r["figure"]: r for r in rows}
    cols = 4
    fig, axes = plt.subplots(math.ceil(len(wanted) / cols), cols, figsize=(16, 10))
    colors = {"ours": "#2b8a3e", "(a) tutorial": "#1864ab", "(b) BM25": "#e67700"}
    for ax, (name, title) in zip(axes.flat, wanted, strict=False):
        r = by_name.get(name, {})
        labels, values = [], []
        for label, key in (("ours", "ours"), ("(a) tutorial", "tutorial"), ("(b) BM25", "bm25")):
            v = r.get(key)
            if isinstance(v, (int, float)):
                labels.append(label)
                values.append(100 * v if r["unit"] == "%" else v)
        bars = ax.bar(labels, values, color=[colors[x] for x in labels])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        if len(values) > 1 and min(values) > 0 and max(values) / min(values) > 50:
            ax.set_yscale("log")
            title += " (log)"
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(y=0.15)
    for ax in list(axes.flat)[len(wanted):]:
        ax.axis("off")
    m = log["machine"]
    fig.suptitle(f"article-qa vs baselines on NewsQA ({log['input']['files']} articles) — "
                 f"{m['date']}, {m['cpu']}, {m['cores']} cores, no GPU", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default=str(DEFAULT_ARTICLES))
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--latency-n", type=int, default=300,
                        help="questions timed for warm latency (after a warm-up)")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--skip-eval", action="store_true", help="do not run `qa eval`")
    parser.add_argument("--work", default="/tmp/article-qa-bench/run",
                        help="scratch directory for the indexes (emptied first)")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"))
    parser.add_argument("--redo", nargs="+", choices=STEPS, metavar="STEP",
                        help="re-measure only these steps, on the indexes left in --work by "
                        "the previous run, and update results.json: " + ", ".join(STEPS))
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite REPORT.md and the chart from results.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    log = json.loads((out / "results.json").read_text()) if args.report_only else measure(args)
    write_report(log, out)
    print((out / "REPORT.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
