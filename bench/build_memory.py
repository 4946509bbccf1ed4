"""Where the peak RSS of a first index build comes from: RSS sampled over time, by phase.

    python -m bench.build_memory --label before    # -> bench/results/build_memory.json
    python -m bench.build_memory --articles DIR --work /tmp/bm

The build runs in a new process (as `bench.ours build` does in `bench.run`, with an empty
query-model cache so that the ONNX export is paid too). A thread in that process reads
`VmRSS` from /proc/self/status every 10 ms; the build's steps are timed as phases by wrapping
them (loading articles, loading the model, each embedded slice, writing the generation, the
query model export and its parts). The parent prints one row per phase: RSS when it started,
its highest sample and the peak of the whole process (`VmHWM`, and `ru_maxrss` from wait4) so
far, and a sampled timeline.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.common import BENCH_DIR, DEFAULT_ARTICLES, machine, run_child, work_folder

__all__ = ["profile_build"]

_SAMPLE_S = 0.01


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Recorder:
    """RSS samples and phases of this process."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stack: list[str] = []
        self.phases: list[dict] = []
        self.samples: list[tuple[float, float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - self.started, _status_mb("VmRSS"),
                                 "/".join(self.stack)))
            time.sleep(_SAMPLE_S)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        path = "/".join([*self.stack, name])
        self.stack.append(name)
        begin = time.perf_counter() - self.started
        rss = _status_mb("VmRSS")
        try:
            yield
        finally:
            self.stack.pop()
            end = time.perf_counter() - self.started
            inside = [s[1] for s in self.samples if begin <= s[0] <= end]
            self.phases.append({"phase": path, "start_s": round(begin, 2),
                                "seconds": round(end - begin, 2), "rss_start_mb": round(rss),
                                "rss_end_mb": round(_status_mb("VmRSS")),
                                "rss_max_mb": round(max([rss, *inside])),
                                "hwm_mb": round(_status_mb("VmHWM"))})

    def wrap(self, owner: object, attribute: str, name: str) -> None:
        """Time every call of `owner.attribute` as phase `name` (first calls only once)."""
        original = getattr(owner, attribute)
        is_property = isinstance(original, property)
        function: Callable = original.fget if is_property else original

        @functools.wraps(function)
        def timed(*args, **kwargs):
            with self.phase(name):
                return function(*args, **kwargs)

        setattr(owner, attribute, property(timed) if is_property else timed)


def _child(args) -> dict:
    """Build the index in this process, recording RSS by phase."""
    recorder = _Recorder()
    recorder.start()
    with recorder.phase("import"):
        import torch.onnx
        from qa.index import build as build_module
        from qa.index import embed, ingest, onnx_embed

        from qa.core.settings import Settings
    recorder.wrap(ingest, "load_articles", "load articles")
    recorder.wrap(ingest, "embed_chunks", "chunk+embed")
    recorder.wrap(embed.Embedder, "model", "load model")
    recorder.wrap(embed.Embedder, "embed_with_spans", "slice")
    recorder.wrap(build_module, "write_generation", "write generation")
    recorder.wrap(ingest, "export_query_model", "query model export")
    recorder.wrap(torch.onnx, "export", "torch.onnx.export")
    recorder.wrap(onnx_embed.OnnxEmbedder, "__init__", "onnx session")
    recorder.wrap(embed.Embedder, "embed", "st embed")
    settings = Settings.from_env(index_dir=Path(args.index_dir), cache_dir=Path(args.cache_dir))
    with recorder.phase("build_index"):
        report = build_module.build_index([args.articles], settings)
    time.sleep(5 * _SAMPLE_S)
    recorder.stop()
    return {"summary": report.summary, "chunks_embedded": report.chunks_embedded,
            "hwm_mb": round(_status_mb("VmHWM")), "phases": recorder.phases,
            "timeline": _per_second(recorder.samples)}


def _per_second(samples: list[tuple[float, float, str]]) -> list[tuple[int, int, str]]:
    """The highest sample of each second: `(second, RSS MB, phase)`."""
    best: dict[int, tuple[float, float, str]] = {}
    for sample in samples:
        second = int(sample[0])
        if second not in best or sample[1] > best[second][1]:
            best[second] = sample
    return [(second, round(rss), phase) for second, (_, rss, phase) in sorted(best.items())]


def profile_build(articles: Path, work: Path) -> dict:
    """Profile one first build of `articles` in a new process under `work` (emptied first)."""
    work_folder(work, empty=True)
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    result = run_child([sys.executable, "-m", "bench.build_memory", "--child",
                        "--articles", str(articles), "--index-dir", str(work / "index"),
                        "--cache-dir", str(work / "cache")], env=env,
                       cwd=BENCH_DIR.parent)
    if result["returncode"] != 0:
        raise SystemExit(result["stderr"][-3000:])
    data = json.loads(result["stdout"].strip().splitlines()[-1])
    data.update(wait4_rss_mb=round(result["rss_mb"]), seconds=round(result["seconds"], 1),
                cpu_s=round(result["cpu_s"], 1))
    return data


def _table(data: dict) -> str:
    rows = ["| phase | start s | s | RSS at start MB | max RSS in it MB | RSS at end MB | "
            "process peak so far MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    slices = [p for p in data["phases"] if p["phase"].endswith("/slice")]
    shown = [p for p in data["phases"] if not p["phase"].endswith("/slice")
             and not (p["phase"].endswith("/load model") and p["seconds"] < 0.5)]
    if slices:
        top = max(slices, key=lambda p: p["rss_max_mb"])
        shown.append({**top, "phase": f"{top['phase']} (highest of {len(slices)})"})
    for p in sorted(shown, key=lambda p: p["start_s"]):
        rows.append(f"| {p['phase']} | {p['start_s']} | {p['seconds']} | {p['rss_start_mb']} | "
                    f"{p['rss_max_mb']} | {p['rss_end_mb']} | {p['hwm_mb']} |")
    if slices:
        rows.append("\nEach slice, RSS at its start → highest sample in it (MB): "
                    + ", ".join(f"{p['rss_start_mb']}→{p['rss_max_mb']}" for p in slices))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default=str(DEFAULT_ARTICLES))
    parser.add_argument("--work", default="/tmp/article-qa-bench/build-memory")
    parser.add_argument("--label", default="latest", help="key of this run in the JSON file")
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "build_memory.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0
    data = profile_build(Path(args.articles), Path(args.work))
    data["machine"] = machine()
    out = Path(args.out)
    runs = json.loads(out.read_text()) if out.exists() else {}
    runs[args.label] = data
    out.write_text(json.dumps(runs, indent=1))
    print(_table(data))
    print(f"\npeak RSS (wait4) {data['wait4_rss_mb']} MB, VmHWM {data['hwm_mb']} MB; "
          f"{data['seconds']} s wall, {data['cpu_s']} CPU s; {data['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
