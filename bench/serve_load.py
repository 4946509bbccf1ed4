"""Many clients against one live `qa serve`, before and after issue 11, in the same run; and
the server's memory around hostile histories. Writes bench/results/SERVE_LOAD.md and
bench/results/serve_load.json.

    python -m bench.serve_load                         # 16 clients x 10 questions, 3 rounds
    python -m bench.serve_load --clients 16 --questions 10 --rounds 1 --also 8

Three servers over the same seed index run side by side: "before", answering one question at
a time (`--concurrency 1`, what the issue measured), "after" (the default: one answer per
core, 2 to 8), and "after, no reader cache" (the default with `QA_READER_CACHE=0`: every
question read afresh, as distinct questions are; the load repeats 14 questions, so "after"
reads each only once), plus one server per `--also N` (`--concurrency N`). Each round sends the load
to each server in turn, with two kinds of client: gradio_client as shipped, which builds a
certificate-verifying TLS context for every request (about 50 ms of client CPU here, even
over plain http), and gradio_client with `ssl_verify=False` (about 4 ms). On a 2-core machine
the client shares the CPU with the server, so the first kind mostly measures the client. Both
wait up to 60 s for a reply (gradio_client's default is 5 s). Then one hostile 4 MB history,
four 810 kB ones (under the request cap, over the history cap) and a 1.25 MB question are
sent to the "after" server, with its RSS read from /proc before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench.common import (
    BENCH_DIR,
    REPO,
    SHARED,
    child_env,
    machine,
    percentiles,
    run_child,
)
from qa.core.settings import Settings
from tests.live import live_server  # the same `qa serve` subprocess the UI tests start

SEED_QUESTIONS = SHARED / "eval" / "seed_questions.jsonl"
#: the figures issue 11 reported for this load (16 clients x 10 questions).
ISSUE = {"throughput_rps": 6.2, "p50_ms": 2300, "p95_ms": 3200, "rss_before_mb": 310,
         "rss_after_mb": 729,
         # server CPU per answer then (0dac529, before the learned reader), measured here
         "server_cpu_ms_per_request": 22}
#: the server whose reader remembers nothing: what distinct questions cost.
UNCACHED = "after, no reader cache"
#: gradio_client's httpx read timeout is 5 s: on a machine loaded far past its cores, both
#: servers then fail requests alike; a minute lets the figures measure the server.
CLIENTS = {"gradio_client": {"httpx_kwargs": {"timeout": 60}},
           "gradio_client ssl_verify=False": {"ssl_verify": False,
                                              "httpx_kwargs": {"timeout": 60}}}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(url: str, pid: int, questions: list[str], clients: int, per_client: int,
         client_kwargs: dict) -> dict:
    """`clients` gradio_client clients in threads, each asking `per_client` questions."""
    from gradio_client import Client

    pool = [Client(url, verbose=False, **client_kwargs) for _ in range(clients)]
    pool[0].predict(question=questions[0], api_name="/ask")  # warm

    def run(i: int) -> list[tuple[float, str | None]]:
        out = []
        for j in range(per_client):
            started = time.perf_counter()
            try:
                answer = pool[i].predict(question=questions[(i + j) % len(questions)],
                                         api_name="/ask")
                error = None if answer.get("question") else "no answer"
            except Exception as exc:  # counted and reported, not raised
                error = f"{type(exc).__name__}: {str(exc)[:120]}"
            out.append((time.perf_counter() - started, error))
        return out

    load_before, cpu_before = os.getloadavg()[0], _cpu_s(pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as threads:
        results = [r for rs in threads.map(run, range(clients)) for r in rs]
    wall = time.perf_counter() - started
    errors = [e for _, e in results if e]
    return {"requests": len(results), "errors": len(errors), "error_samples": errors[:3],
            "wall_s": round(wall, 3), "throughput_rps": round(len(results) / wall, 2),
            **percentiles(s for s, _ in results),
            "server_cpu_ms_per_request": round(1000 * (_cpu_s(pid) - cpu_before)
                                               / len(results), 1),
            "server_rss_mb": round(_rss_mb(pid), 1),
            "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def hostile(url: str, pid: int, question: str) -> dict:
    """RSS around one 4 MB history, four 810 kB ones and a 1.25 MB question."""
    from gradio_client import Client

    client = Client(url, verbose=False, **CLIENTS["gradio_client ssl_verify=False"])
    normal = client.predict(question=question, api_name="/ask")
    time.sleep(1)
    before = _rss_mb(pid)
    outcomes = []
    cases = [("history 4 MB", {"history": [
                 {"role": "user", "content": "Who was killed?"},
                 {"role": "assistant", "content": "Yaroslav Moskalik " * 230_000}]}),
             *[("history 810 kB", {"history": [
                 {"role": "user", "content": "Who was killed?"},
                 {"role": "assistant", "content": "Moskalik " * 90_000}]})] * 4,
             ("question 1.25 MB", {"question": "Who? " * 250_000})]
    for name, kwargs in cases:
        started = time.perf_counter()
        try:
            client.predict(**{"question": "How old was he?", **kwargs}, api_name="/ask")
            outcome = "answered"
        except Exception as exc:  # the expected refusal
            outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
        outcomes.append({"request": name, "seconds": round(time.perf_counter() - started, 3),
                         "outcome": outcome})
    time.sleep(1)
    after = _rss_mb(pid)
    started = time.perf_counter()
    again = client.predict(question=question, api_name="/ask")
    return {"rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "rss_growth_mb": round(after - before, 1), "requests": outcomes,
            "normal_answer_after_s": round(time.perf_counter() - started, 3),
            "same_answer_after": again["text"] == normal["text"]}


def summarize(runs: list[dict]) -> dict:
    """Per (server, client): the median over the rounds (a round disturbed by other work on
    the machine moves it less than a mean), errors summed, the largest RSS."""
    table: dict[str, list[dict]] = {}
    for run in runs:
        table.setdefault(f"{run['server']} | {run['client']}", []).append(run)

    def median(rs: list[dict], name: str, digits: int) -> float:
        value = statistics.median(r[name] for r in rs)
        return round(value, digits) if digits else round(value)

    return {key: {"throughput_rps": median(rs, "throughput_rps", 2),
                  "p50_ms": median(rs, "p50_ms", 0), "p95_ms": median(rs, "p95_ms", 0),
                  "errors": sum(r["errors"] for r in rs),
                  "requests": sum(r["requests"] for r in rs),
                  "server_cpu_ms_per_request": median(rs, "server_cpu_ms_per_request", 1),
                  "server_rss_mb": max(r["server_rss_mb"] for r in rs),
                  "rounds": len(rs)} for key, rs in table.items()}


def report(data: dict) -> str:
    m, s, h = data["machine"], data["summary"], data["hostile"]
    servers = list(data["servers"])
    key = {(srv, cl): f"{srv} | {cl}" for srv in servers for cl in CLIENTS}
    light = "gradio_client ssl_verify=False"
    lines = [
        "# `qa serve` under load: before and after issue 11", "",
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores; load average at start "
        f"{tuple(m['load_avg_at_start'])}, during the runs "
        f"{min(r['load_avg'][0] for r in data['runs'])}-"
        f"{max(r['load_avg'][1] for r in data['runs'])} (above {m['cores']}, the cores were "
        "shared with other work: compare the ratios, measured side by side, rather than the "
        "absolute figures).", "",
        f"{data['clients']} clients x {data['questions']} questions (the seed questions) per "
        f"run, median of {data['rounds']} rounds, the servers up side by side over the same "
        "seed index and loaded in turn. before = one answer at a time (`--concurrency 1`); "
        f"after = the default (`--concurrency {data['servers']['after']}` on this machine)"
        + (f"; {UNCACHED} = the same with `QA_READER_CACHE=0`, so every question is read "
           "afresh (what distinct questions cost; the load repeats the seed questions, which "
           "the other servers read once each)" if UNCACHED in data["servers"] else "")
        + "".join(f"; {srv} = `--concurrency {n}`" for srv, n in data["servers"].items()
                  if srv not in ("before", "after", UNCACHED)) + ".", "",
        "| server | client | req/s | p50 ms | p95 ms | errors | server CPU ms/req | RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (srv, cl), k in key.items():
        row = s[k]
        lines.append(f"| {srv} | {cl} | {row['throughput_rps']} | {row['p50_ms']} | "
                     f"{row['p95_ms']} | {row['errors']}/{row['requests']} | "
                     f"{row['server_cpu_ms_per_request']} | {row['server_rss_mb']} |")
    rate = {k: s[name]["throughput_rps"] for k, name in key.items()}
    ratios = [f"{cl}: {rate['after', cl] / rate['before', cl]:.2f}x" for cl in CLIENTS]
    after = rate["after", light]
    fresh = UNCACHED if UNCACHED in data["servers"] else "after"
    cpu = s[key[fresh, light]]["server_cpu_ms_per_request"]
    lines += [
        "", f"- after / before, same client: {'; '.join(ratios)}",
        f"- after (light client) / the issue's {ISSUE['throughput_rps']} req/s: "
        f"{after / ISSUE['throughput_rps']:.1f}x (target 3x); after / before with the shipped "
        f"client: {after / rate['before', 'gradio_client']:.1f}x.",
        *([f"- every question read afresh ({UNCACHED}, light client) / the issue's "
           f"{ISSUE['throughput_rps']} req/s: {rate[UNCACHED, light] / ISSUE['throughput_rps']:.1f}"
           "x: what a load of distinct questions gets."] if fresh == UNCACHED else []),
        f"- ceiling for distinct questions: {m['cores']} cores / {cpu:.0f} ms of server CPU "
        f"per answer read afresh = {m['cores'] * 1000 / cpu:.1f} req/s at any concurrency; "
        f"when the issue measured {ISSUE['throughput_rps']} req/s an answer cost about "
        f"{ISSUE['server_cpu_ms_per_request']} ms (before the learned reader).", "",
        "## Hostile requests (the after server)", "",
        f"RSS {h['rss_before_mb']} MB before, {h['rss_after_mb']} MB after: "
        f"{h['rss_growth_mb']:+} MB (target <= +50; the issue: {ISSUE['rss_before_mb']} -> "
        f"{ISSUE['rss_after_mb']} MB after one 4 MB history). A normal question right after: "
        f"{h['normal_answer_after_s']} s, same answer as before: {h['same_answer_after']}.", "",
        "| request | s | outcome |", "|---|---:|---|",
        *[f"| {r['request']} | {r['seconds']} | {r['outcome']} |" for r in h["requests"]], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=10, help="per client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--also", type=int, nargs="*", default=[], metavar="N",
                        help="also load servers with these --concurrency values")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--report-only", action="store_true",
                        help="redraw SERVE_LOAD.md from serve_load.json")
    args = parser.parse_args(argv)
    if args.report_only:
        data = json.loads((args.out / "serve_load.json").read_text())
        return _write(data, args.out)
    questions = [json.loads(line)["question"]
                 for line in SEED_QUESTIONS.read_text().splitlines() if line.strip()]
    data = {"machine": machine(), "clients": args.clients, "questions": args.questions,
            "rounds": args.rounds, "runs": [],
            "servers": {"before": 1, "after": Settings().answer_concurrency,
                        UNCACHED: Settings().answer_concurrency,
                        **{f"concurrency {n}": n for n in args.also}}}
    work = Path(tempfile.mkdtemp(prefix="serve-load-"))
    env = child_env(GRADIO_ANALYTICS_ENABLED="False")
    try:
        index_dir = work / "index"
        built = run_child([sys.executable, "-m", "qa", "index", str(REPO / "seeds"),
                           "--index-dir", str(index_dir)], env=env, cwd=REPO)
        if built["returncode"]:
            raise SystemExit(built["stderr"])
        with ExitStack() as stack:
            servers = {}
            for name, concurrency in data["servers"].items():
                folder = work / name.replace(" ", "-")
                folder.mkdir()
                live = stack.enter_context(live_server(
                    ["--index-dir", index_dir, "--concurrency", str(concurrency)], folder,
                    {**env, "QA_READER_CACHE": "0"} if name == UNCACHED else env,
                    timeout=180))
                servers[name] = (live["url"], live["proc"].pid)
            for round_ in range(args.rounds):
                for client, kwargs in CLIENTS.items():
                    for name, (url, pid) in servers.items():
                        run = load(url, pid, questions, args.clients, args.questions, kwargs)
                        data["runs"].append({"round": round_, "server": name,
                                             "client": client, **run})
                        print(f"[serve_load] {name:14} {client:32} {run['throughput_rps']:6.1f}"
                              f" req/s p50 {run['p50_ms']:.0f} ms errors {run['errors']} "
                              f"{run['error_samples'][:1]}", file=sys.stderr, flush=True)
            data["hostile"] = hostile(*servers["after"], questions[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _write(data, args.out)


def _write(data: dict, out: Path) -> int:
    data["summary"] = summarize(data["runs"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_load.json").write_text(json.dumps(data, indent=2))
    (out / "SERVE_LOAD.md").write_text(report(data))
    print(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
