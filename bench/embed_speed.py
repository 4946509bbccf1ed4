"""How fast can all-MiniLM-L6-v2 embed our chunks on this CPU, and at what cost in quality?

Every option embeds the same ~2,000 real chunks (article-qa's own chunker over whole NewsQA
articles, title line + chunk text, exactly what `qa.index.build` embeds) in a fresh process, so
thread settings and quantisation do not leak between options. For each option we report
chunks/s, the cosine between its vectors and the fp32 reference vectors, the overlap of its
dense top-10 with the reference top-10 for the dev questions about those articles, and
dense gold-article hit@5 on those questions.

    python -m bench.embed_speed                      # every option -> bench/results/embed_speed.md
    python -m bench.embed_speed --only st-fp32-b64 ort-int8
    python -m bench.embed_speed --python /path/to/python   # an interpreter with onnxruntime

The ONNX options need `onnx` and `onnxruntime` (sentence-transformers' own `backend="onnx"`
needs `optimum`, whose current release pins transformers 4.x: see bench/README.md). Options
whose packages are missing are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    BENCH_DIR,
    DEFAULT_ARTICLES,
    DEFAULT_QUESTIONS,
    load_questions,
    machine,
    model_path,
)

CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/article-qa-bench"))

#: name -> (description, settings)
OPTIONS: dict[str, tuple[str, dict]] = {
    "st-fp32-b32": ("sentence-transformers fp32, batch 32 (its default), 2 threads",
                    {"kind": "st", "batch": 32}),
    "st-fp32-b64": ("sentence-transformers fp32, batch 64 (article-qa's default)",
                    {"kind": "st", "batch": 64}),
    "st-fp32-b16": ("sentence-transformers fp32, batch 16", {"kind": "st", "batch": 16}),
    "st-fp32-b128": ("sentence-transformers fp32, batch 128", {"kind": "st", "batch": 128}),
    "st-fp32-1thread": ("sentence-transformers fp32, batch 32, torch.set_num_threads(1)",
                        {"kind": "st", "batch": 32, "threads": 1}),
    "st-fp32-unsorted": ("fp32, batch 32, batches in corpus order (no length sorting)",
                         {"kind": "st-unsorted", "batch": 32}),
    "st-fp32-seq128": ("fp32, batch 32, max_seq_length 128 (model default 256)",
                       {"kind": "st", "batch": 32, "max_seq": 128}),
    "st-bf16": ("fp32 weights, torch.autocast(cpu, bfloat16), batch 32",
                {"kind": "st", "batch": 32, "bf16": True}),
    "torch-int8": ("torch.ao.quantization.quantize_dynamic(Linear -> qint8), batch 32",
                   {"kind": "st", "batch": 32, "int8": True}),
    "ort-fp32": ("onnxruntime fp32 (torch.onnx.export of the same weights), batch 32",
                 {"kind": "ort", "batch": 32}),
    "ort-int8": ("onnxruntime, onnxruntime.quantization.quantize_dynamic (QInt8), batch 32",
                 {"kind": "ort", "batch": 32, "int8": True}),
}


# ---------------------------------------------------------------- data (parent process)

def make_chunks(target: int, articles_dir: Path) -> tuple[list[str], list[str]]:
    """`(texts, article file names)` of about `target` chunks of whole articles."""
    from qa.index.chunk import chunk_article
    from qa.index.clean import clean_record
    from qa.index.ingest import embedding_text
    from qa.index.load import load_file

    texts: list[str] = []
    names: list[str] = []
    for path in sorted(articles_dir.glob("*.txt")):
        records, _ = load_file(path, 5 * 1024 * 1024)
        for record in records:
            article = clean_record(record)
            for chunk in chunk_article(article):
                texts.append(embedding_text(article, chunk))
                names.append(path.name)
        if len(texts) >= target:
            break
    return texts, names


# ---------------------------------------------------------------- one option (child process)

def _st_model(settings: dict):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path(), device="cpu")
    if settings.get("max_seq"):
        model.max_seq_length = settings["max_seq"]
    if settings.get("int8"):
        # sentence-transformers >= 5 keeps the transformers model in `.model`
        # (`.auto_model` is a read-only alias).
        model[0].model = torch.ao.quantization.quantize_dynamic(
            model[0].model, {torch.nn.Linear}, dtype=torch.qint8)
        assert "quantized" in type(model[0].model.encoder.layer[0].attention.self.query
                                   ).__module__
    return model


def _st_encoder(settings: dict):
    import contextlib

    import numpy as np
    import torch

    model = _st_model(settings)
    batch = settings["batch"]

    def encode(texts: list[str]) -> np.ndarray:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if settings.get("bf16") \
            else contextlib.nullcontext()
        with ctx:
            if settings["kind"] == "st-unsorted":
                parts = [model.encode(texts[i:i + batch], batch_size=batch,
                                      normalize_embeddings=True, convert_to_numpy=True)
                         for i in range(0, len(texts), batch)]
                vectors = np.concatenate(parts)
            else:
                vectors = model.encode(texts, batch_size=batch, normalize_embeddings=True,
                                       convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    return encode


def export_onnx(int8: bool) -> Path:
    """The bundled model exported to ONNX as article-qa does it (and quantised); cached
    under CACHE."""
    from qa.index.embed import get_embedder
    from qa.index.onnx_embed import export_query_model, query_model_dir

    reason = export_query_model(CACHE, get_embedder())  # the export article-qa itself uses
    if reason is not None:
        raise SystemExit(f"ONNX export failed: {reason}")
    fp32 = query_model_dir(CACHE, None) / "model.onnx"
    if not int8:
        return fp32
    q8 = CACHE / "minilm-int8.onnx"
    if not q8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = q8.with_suffix(".tmp.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        tmp.rename(q8)
    return q8


def _ort_encoder(settings: dict):
    import numpy as np
    import onnxruntime as ort
    from transformers import AutoTokenizer

    path = export_onnx(bool(settings.get("int8")))
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.get("threads", os.cpu_count() or 1)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(model_path())
    batch = settings["batch"]
    max_len = settings.get("max_seq", 256)

    def encode(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_len, return_tensors="np")
            feeds = {k: enc[k].astype(np.int64) for k in
                     ("input_ids", "attention_mask", "token_type_ids")}
            hidden = session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode


def run_option(name: str, data: Path, out: Path) -> dict:
    import numpy as np
    import torch

    settings = OPTIONS[name][1]
    torch.set_num_threads(settings.get("threads", os.cpu_count() or 1))
    payload = json.loads(data.read_text())
    texts, queries = payload["texts"], payload["queries"]
    t0 = time.perf_counter()
    encode = _ort_encoder(settings) if settings["kind"] == "ort" else _st_encoder(settings)
    encode(texts[:64])  # warm-up (and, for ONNX, the one-time export)
    load_s = time.perf_counter() - t0
    load = os.getloadavg()[0]
    t, cpu = time.perf_counter(), time.process_time()
    vectors = encode(texts)
    seconds, cpu_s = time.perf_counter() - t, time.process_time() - cpu
    qvectors = encode(queries)
    np.save(out / f"{name}.npy", vectors)
    np.save(out / f"{name}.q.npy", qvectors)
    return {"name": name, "seconds": seconds, "chunks_per_s": len(texts) / seconds,
            "cpu_s": cpu_s, "chunks_per_cpu_s": len(texts) / cpu_s,
            "load_s": load_s, "load_avg_before": load, "load_avg_after": os.getloadavg()[0]}


# ---------------------------------------------------------------- comparison (parent)

def compare(names: list[str], out: Path, chunk_names: list[str], gold: list[str],
            reference: str) -> dict[str, dict]:
    import numpy as np

    ref = np.load(out / f"{reference}.npy")
    ref_q = np.load(out / f"{reference}.q.npy")
    ref_top = np.argsort(-(ref_q @ ref.T), axis=1)[:, :10]
    names_arr = np.array(chunk_names)
    result = {}
    for name in names:
        path = out / f"{name}.npy"
        if not path.exists():
            continue
        vec, qvec = np.load(path), np.load(out / f"{name}.q.npy")
        cos = (vec * ref).sum(1)
        top = np.argsort(-(qvec @ vec.T), axis=1)[:, :10]
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top, strict=True)])
        hit5 = 0
        for row, g in zip(top, gold, strict=True):
            seen: list[str] = []
            for i in row:
                if names_arr[i] not in seen:
                    seen.append(names_arr[i])
            hit5 += g in seen[:5]
        result[name] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                        "top10_overlap": float(overlap), "dense_hit5": hit5 / max(len(gold), 1)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--only", nargs="*", default=None, help="option names to run")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the options (one with onnxruntime for ort-*)")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"))
    parser.add_argument("--child", nargs=3, metavar=("NAME", "DATA", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, data, out = args.child
        print(json.dumps(run_option(name, Path(data), Path(out))))
        return 0

    work = CACHE / "embed_speed"
    work.mkdir(parents=True, exist_ok=True)
    texts, chunk_names = make_chunks(args.chunks, DEFAULT_ARTICLES)
    subset = set(chunk_names)
    questions = [q for q in load_questions(DEFAULT_QUESTIONS) if q["sources"][0] in subset]
    data = work / "data.json"
    data.write_text(json.dumps({"texts": texts, "queries": [q["question"] for q in questions]}))
    print(f"{len(texts)} chunks from {len(subset)} articles, {len(questions)} questions",
          file=sys.stderr)
    names = args.only or list(OPTIONS)
    reference = "st-fp32-b32"
    if reference not in names and not (work / f"{reference}.npy").exists():
        names = [reference, *names]
    speed: dict[str, dict] = {}
    for name in names:
        proc = subprocess.run([args.python, "-m", "bench.embed_speed", "--child", name,
                               str(data), str(work)], capture_output=True, text=True,
                              cwd=str(BENCH_DIR.parent))
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            speed[name] = {"name": name, "skipped": reason[:160]}
        else:
            speed[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(speed[name]), file=sys.stderr)
    agreement = compare(list(OPTIONS), work, chunk_names,
                        [q["sources"][0] for q in questions], reference)
    write_report(Path(args.out), speed, agreement, len(texts), len(questions), texts)
    return 0


def write_report(out: Path, speed: dict, agreement: dict, n_chunks: int, n_questions: int,
                 texts: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    m = machine()
    previous = {}
    raw = out / "embed_speed.json"
    if raw.exists():
        previous = json.loads(raw.read_text()).get("speed", {})
    speed = {**previous, **speed}
    raw.write_text(json.dumps({"machine": m, "speed": speed, "agreement": agreement}, indent=2))
    ref = speed.get("st-fp32-b32", {}).get("chunks_per_s")
    ref_cpu = speed.get("st-fp32-b32", {}).get("chunks_per_cpu_s")
    chars = sum(len(t) for t in texts) / max(len(texts), 1)
    lines = [
        "# Embedding speed of all-MiniLM-L6-v2 on this CPU",
        "",
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['memory_gb']} GB · "
        f"torch {m['versions']['torch']} · sentence-transformers "
        f"{m['versions']['sentence_transformers']}",
        "",
        f"{n_chunks} real chunks (article-qa chunker, title + text, mean {chars:.0f} chars); "
        f"agreement measured on {n_questions} NewsQA dev questions about those articles. "
        "`cos` = cosine of each vector with the fp32 reference (st-fp32-b32); "
        "`top-10` = share of the reference's dense top-10 chunks found; `hit@5` = gold "
        "article among the first 5 distinct articles (dense only, this subset).",
        "",
        "| option | what | chunks/s (wall) | × ref | chunks per CPU-s | × ref | cos mean | "
        "cos min | top-10 | hit@5 | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (what, _) in OPTIONS.items():
        s = speed.get(name)
        if not s:
            continue
        if "skipped" in s:
            lines.append(f"| {name} | {what} | skipped: {s['skipped']} | | | | | | | | |")
            continue
        a = agreement.get(name, {})
        ratio = f"{s['chunks_per_s'] / ref:.2f}" if ref else ""
        cpu_ratio = f"{s['chunks_per_cpu_s'] / ref_cpu:.2f}" if ref_cpu and 'cpu_s' in s else ""
        lines.append(
            f"| {name} | {what} | {s['chunks_per_s']:.1f} | {ratio} | "
            f"{s['chunks_per_cpu_s']:.1f} | {cpu_ratio} | "
            f"{a.get('cos_mean', float('nan')):.5f} | {a.get('cos_min', float('nan')):.5f} | "
            f"{a.get('top10_overlap', float('nan')):.3f} | {a.get('dense_hit5', float('nan')):.3f}"
            f" | {s['load_avg_before']:.1f}→{s['load_avg_after']:.1f} |")
    lines += ["", "Load average is the machine's 1-minute load before and after the timed "
              "encode: above ~2 the 2 cores were shared with other work and wall-clock figures "
              "are low; chunks per CPU-second (user+sys of the process) is steadier under "
              "such contention, but counts OpenMP spin-waiting in multi-threaded runs."]
    (out / "embed_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
