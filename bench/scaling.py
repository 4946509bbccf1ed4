"""How cost grows with the corpus: 1x, 4x, 16x the NewsQA articles (synthetic growth).

Copy c > 0 of every article gets a new file name and changed text, so that every copy is a
distinct article with its own content hash and its own vectors: capitalised words (names,
places) are swapped for others from the corpus, numbers are shifted, and the paragraphs
after the first are shuffled, all from a seeded random generator (the corpus is the same on
every run). For each size this script

1. builds an article-qa index in a new process (wall time, peak RSS, chunks, size on disk);
2. answers dev questions on it in a new process (warm answer and retrieval latency, RSS);
3. takes the stored vectors and compares FAISS flat (exact) with approximate indexes
   (HNSW and IVF) at equal k: build time, query latency, memory, and recall@k of the
   approximate index against flat.

    python -m bench.scaling                      # 1x 4x 16x -> results/SCALING.md, scaling.png
    python -m bench.scaling --factors 1 4        # smaller run
    python -m bench.scaling --faiss-only         # reuse the indexes built by an earlier run

The 16x build embeds about 16 times the chunks of a first NewsQA build: on 2 cores that is
the longest step by far (see SCALING.md for the measured times).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
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
    percentiles,
    run_child,
    work_folder,
)

PY = sys.executable
_CAPITAL = re.compile(r"\b[A-Z][a-z]{2,}\b")
_NUMBER = re.compile(r"\b\d+\b")


def _mutate(text: str, rng: random.Random, pool: list[str], copy: int) -> str:
    paragraphs = [p for p in text.split("\n\n")]
    head, rest = paragraphs[:1], paragraphs[1:]
    rng.shuffle(rest)
    text = "\n\n".join(head + rest)
    text = _CAPITAL.sub(lambda m: rng.choice(pool) if rng.random() < 0.5 else m.group(), text)
    return _NUMBER.sub(lambda m: str(int(m.group()) + copy) if len(m.group()) < 10
                       else m.group(), text)


def make_corpus(source: Path, factor: int, out: Path) -> dict:
    """`factor` copies of every article of `source` in `out` (copy 0 is the original)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = sorted(source.glob("*.txt"))
    texts = {p.name: p.read_text(encoding="utf-8") for p in files}
    pool = sorted({w for t in texts.values() for w in _CAPITAL.findall(t)})
    size = 0
    for copy in range(factor):
        for name, text in texts.items():
            if copy:
                rng = random.Random(f"{copy}:{name}")
                text = _mutate(text, rng, pool, copy)
                name = name.replace(".txt", f"_copy{copy}.txt")
            (out / name).write_text(text, encoding="utf-8")
            size += len(text.encode())
    return {"articles": len(files) * factor, "text_mb": size / 1e6}


def _child_json(argv: list[str]) -> dict:
    print(f"[scaling] {' '.join(argv[2:6])} ...", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    r = run_child(argv, env=child_env(), cwd=REPO, timeout=6 * 3600)
    if r["returncode"]:
        raise SystemExit(f"failed: {argv}\n{r['stderr'][-2000:]}")
    data = json.loads([x for x in r["stdout"].splitlines() if x.startswith("{")][-1])
    out = {"seconds": r["seconds"], "rss_mb": r["rss_mb"], "data": data,
           "load_avg": [load, os.getloadavg()[0]]}
    print(f"[scaling]   {r['seconds']:.1f} s, {r['rss_mb']:.0f} MB", file=sys.stderr,
          flush=True)
    return out


# ------------------------------------------------------------------ FAISS flat vs approximate

def faiss_compare(index_dir: Path, queries: list[str], k_values: list[int]) -> dict:
    """Flat vs HNSW vs IVF over the sentence vectors stored in `index_dir`, queried with the
    embedded `queries`; recall@k of each approximate index against flat at equal k."""
    import faiss
    import numpy as np
    from qa.index.embed import get_embedder
    from qa.index.store import current_generation

    generation = current_generation(index_dir)
    stored = faiss.read_index(str(generation / "sentences.faiss"))  # what retrieval searches
    vectors = np.ascontiguousarray(stored.reconstruct_n(0, stored.ntotal), dtype=np.float32)
    n, d = vectors.shape
    q = np.ascontiguousarray(get_embedder(None).embed(queries), dtype=np.float32)
    kmax = max(k_values)
    configs: list[tuple[str, object]] = [("flat", None)]
    for ef in (64, 128):
        configs.append((f"hnsw32-ef{ef}", ("hnsw", ef)))
    nlist = max(16, int(4 * np.sqrt(n)))
    for nprobe in (8, 32):
        configs.append((f"ivf{nlist}-nprobe{nprobe}", ("ivf", nprobe)))
    results: dict[str, dict] = {}
    truth = None
    built: dict[str, object] = {}
    for name, cfg in configs:
        t = time.perf_counter()
        if cfg is None:
            index = faiss.IndexFlatIP(d)
            index.add(vectors)
            build_s = time.perf_counter() - t
        else:
            kind, param = cfg
            if kind not in built:
                if kind == "hnsw":
                    index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
                    index.hnsw.efConstruction = 80
                else:
                    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist,
                                               faiss.METRIC_INNER_PRODUCT)
                    index.train(vectors)
                index.add(vectors)
                built[kind] = (index, time.perf_counter() - t)
            index, build_s = built[kind]
            if kind == "hnsw":
                index.hnsw.efSearch = param
            else:
                index.nprobe = param
        # one query at a time, as a server answers them
        times, found = [], []
        for row in q:
            s = time.perf_counter()
            _, ids = index.search(row[None, :], kmax)
            times.append(time.perf_counter() - s)
            found.append(ids[0])
        found = np.array(found)
        if truth is None:
            truth = found
        recall = {f"recall@{k}": float(np.mean([len(set(a[:k]) & set(b[:k])) / k
                                                 for a, b in zip(found, truth, strict=True)]))
                  for k in k_values}
        size = faiss.serialize_index(index).size
        results[name] = {"build_s": build_s, "latency": percentiles(times), **recall,
                         "bytes": int(size)}
    return {"vectors": n, "dimension": d, "queries": len(queries), "k": kmax,
            "indexes": results}


# ------------------------------------------------------------------ driver

def run(args) -> dict:
    work = work_folder(Path(args.work), empty=False)  # its corpus-*/index-* are remade
    log: dict = {"machine": machine(), "factors": {}}
    out_json = Path(args.out) / "scaling.json"
    if (args.faiss_only or args.no_build) and out_json.exists():
        log = json.loads(out_json.read_text())
        log["machine"] = machine()
    for factor in args.factors:
        key = f"{factor}x"
        entry = log["factors"].setdefault(key, {})
        corpus, index_dir = work / f"corpus-{key}", work / f"index-{key}"
        if not (args.faiss_only or args.no_build):
            entry["corpus"] = make_corpus(Path(args.articles), factor, corpus)
            if index_dir.exists():
                shutil.rmtree(index_dir)
            entry["build"] = _child_json([PY, "-m", "bench.ours", "build", "--articles",
                                          str(corpus), "--index-dir", str(index_dir)])
            entry["index_bytes"] = dir_size(index_dir)
        if not args.faiss_only:
            entry["serve"] = _child_json([PY, "-m", "bench.ours", "serve", "--index-dir",
                                          str(index_dir), "--questions", str(args.questions),
                                          "--limit", str(args.serve_questions),
                                          "--latency-n", str(args.serve_questions)])
        print(f"[scaling] FAISS comparison at {key}", file=sys.stderr, flush=True)
        # in a child, so that this process stays small (a child's peak RSS starts from ours)
        entry["faiss"] = _child_json([PY, "-m", "bench.scaling", "--faiss-child",
                                      str(index_dir), "--questions", str(args.questions),
                                      "--faiss-queries", str(args.faiss_queries),
                                      "-k", *map(str, args.k)])["data"]
        log["factors"][key] = entry
        Path(args.out).mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(log, indent=2))
    log["machine"]["load_avg_at_end"] = os.getloadavg()
    return log


def report(log: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(log, indent=2))
    m = log["machine"]
    lines = ["# article-qa: cost against corpus size (synthetic growth of NewsQA)", "",
             f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
             f"no GPU; load average at start {tuple(round(x, 2) for x in m['load_avg_at_start'])}"
             " (above ~2 the cores were shared with other work).", "",
             "Copies of every article with names swapped, numbers shifted and paragraphs "
             "shuffled (seeded), so each copy is a distinct article. Build and serve each run "
             "in a new process; serving = `qa.QA` answering the first dev questions.", "",
             "| size | articles | text MB | chunks | build s | chunks/s | build RSS MB | "
             "index MB | serve RSS MB | answer p50 / p95 ms | retrieve p50 / p95 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for key, e in log["factors"].items():
        b, s = e.get("build"), e.get("serve")
        if not b:
            continue
        al, rl = s["data"]["answer_latency"], s["data"]["retrieve_latency"]
        lines.append(
            f"| {key} | {e['corpus']['articles']:,} | {e['corpus']['text_mb']:.1f} | "
            f"{b['data']['chunks']:,} | {b['seconds']:.0f} | "
            f"{b['data']['chunks_embedded'] / b['seconds']:.1f} | {b['rss_mb']:.0f} | "
            f"{e['index_bytes'] / 1e6:.0f} | {s['rss_mb']:.0f} | "
            f"{al['p50_ms']:.0f} / {al['p95_ms']:.0f} | {rl['p50_ms']:.0f} / {rl['p95_ms']:.0f} |")
    lines += ["", "## FAISS: exact (flat) against approximate, at equal k", "",
              "Vectors of each size's index; dev questions embedded once and searched one at "
              "a time. Recall@k = share of flat's top-k that the approximate index also "
              "returns.", "",
              "| size | vectors | index | build s | p50 / p95 ms | recall@10 | recall@40 | MB |",
              "|---|---:|---|---:|---|---:|---:|---:|"]
    for key, e in log["factors"].items():
        f = e.get("faiss")
        if not f:
            continue
        for name, r in f["indexes"].items():
            lat = r["latency"]
            lines.append(
                f"| {key} | {f['vectors']:,} | {name} | {r['build_s']:.2f} | "
                f"{lat['p50_ms']:.2f} / {lat['p95_ms']:.2f} | {r.get('recall@10', 0):.3f} | "
                f"{r.get('recall@40', 0):.3f} | {r['bytes'] / 1e6:.1f} |")
    lines += ["", "```", "python -m bench.scaling --factors "
              + " ".join(k.rstrip("x") for k in log["factors"]), "```", ""]
    (out / "SCALING.md").write_text("\n".join(lines))
    plot(log, out / "scaling.png")


def plot(log: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [(k, e) for k, e in log["factors"].items() if e.get("build")]
    if not entries:
        return
    chunks = [e["build"]["data"]["chunks"] for _, e in entries]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
    axes[0].plot(chunks, [e["build"]["seconds"] for _, e in entries], "o-")
    axes[0].set_title("Build time (s)")
    axes[1].plot(chunks, [e["build"]["rss_mb"] for _, e in entries], "o-", label="building")
    axes[1].plot(chunks, [e["serve"]["rss_mb"] for _, e in entries], "s-", label="serving")
    axes[1].set_title("Peak RSS (MB)")
    axes[1].legend()
    for stat, style in (("p50_ms", "o-"), ("p95_ms", "s--")):
        axes[2].plot(chunks, [e["serve"]["data"]["answer_latency"][stat] for _, e in entries],
                     style, label=f"answer {stat[:3]}")
    axes[2].set_title("Warm answer latency (ms)")
    axes[2].legend()
    def generic(name: str) -> str:  # "ivf245-nprobe8" -> "ivf-nprobe8" (nlist grows with n)
        return re.sub(r"^ivf\d+", "ivf", name)

    series: dict[str, tuple[list, list]] = {}
    for _, e in entries:
        for name, r in e.get("faiss", {}).get("indexes", {}).items():
            xs, ys = series.setdefault(generic(name), ([], []))
            xs.append(e["faiss"]["vectors"])
            ys.append(r["latency"]["p50_ms"])
    for name, (xs, ys) in series.items():
        axes[3].plot(xs, ys, "o-", label=name)
    axes[3].set_title("FAISS search p50 (ms), k=40")
    axes[3].legend(fontsize=7)
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.set_xlabel("chunks in the index")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    m = log["machine"]
    fig.suptitle(f"article-qa scaling — {m['date']}, {m['cpu']}, {m['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--articles", default=str(DEFAULT_ARTICLES))
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    parser.add_argument("--serve-questions", type=int, default=200)
    parser.add_argument("--faiss-queries", type=int, default=500)
    parser.add_argument("-k", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--faiss-only", action="store_true",
                        help="skip corpus/build/serve; reuse the indexes in --work")
    parser.add_argument("--no-build", action="store_true",
                        help="reuse the indexes in --work; re-measure serving and FAISS")
    parser.add_argument("--work", default="/tmp/article-qa-bench/scaling")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"))
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite SCALING.md and scaling.png from scaling.json")
    parser.add_argument("--faiss-child", metavar="INDEX_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.faiss_child:
        questions = load_questions(args.questions, args.faiss_queries)
        print(json.dumps(faiss_compare(Path(args.faiss_child),
                                       [q["question"] for q in questions], args.k)))
        return 0
    if args.report_only:
        log = json.loads((Path(args.out) / "scaling.json").read_text())
    else:
        log = run(args)
    report(log, Path(args.out))
    print((Path(args.out) / "SCALING.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
