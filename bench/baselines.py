"""The two baselines that article-qa is measured against, over the same articles and model.

(a) the LangChain tutorial pipeline: RecursiveCharacterTextSplitter(1000, 200) +
    HuggingFaceEmbeddings (all-MiniLM-L6-v2, defaults) + FAISS.from_documents +
    similarity_search(k=4);
(b) BM25 alone (rank_bm25.BM25Okapi, lower-cased \\w+ tokens) over the same chunks.

Each step runs as its own process so that its time and peak memory are its own:

    python -m bench.baselines build-tutorial --out DIR      # first build (and save_local)
    python -m bench.baselines serve-tutorial --index DIR    # quality + warm latency
    python -m bench.baselines cold-tutorial --index DIR "QUESTION"   # new process to results
    python -m bench.baselines bm25                          # build + quality + latency

Every command prints one JSON object on stdout. `bench/run.py` drives them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from bench.common import (
    DEFAULT_ARTICLES,
    DEFAULT_QUESTIONS,
    Hit,
    dir_size,
    load_articles,
    load_questions,
    model_path,
    peak_rss_mb,
    percentiles,
    score,
)

__all__ = ["bm25_tokens", "split_documents", "tutorial_embeddings"]

#: chunks drawn for the distinct-article ranking (article-recall@5, MRR).
RANKING_K = 50


def split_documents(articles_dir: str | Path):
    """The tutorial's documents: one per file, `source` metadata, split 1000/200."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = [Document(page_content=text, metadata={"source": name})
            for name, text in load_articles(articles_dir)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    return docs, splitter.split_documents(docs)


def tutorial_embeddings():
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=model_path())


def _hits(docs) -> list[Hit]:
    return [Hit(d.page_content, d.metadata["source"]) for d in docs]


def build_tutorial(args) -> dict:
    t0 = time.perf_counter()
    docs, chunks = split_documents(args.articles)
    t_split = time.perf_counter()
    from langchain_community.vectorstores import FAISS

    embeddings = tutorial_embeddings()
    t_model = time.perf_counter()
    store = FAISS.from_documents(chunks, embeddings)
    t_embed = time.perf_counter()
    store.save_local(args.out)
    t_save = time.perf_counter()
    return {
        "system": "tutorial",
        "articles": len(docs),
        "chunks": len(chunks),
        "text_mb": sum(len(d.page_content.encode()) for d in docs) / 1e6,
        "chunk_text_mb": sum(len(c.page_content.encode()) for c in chunks) / 1e6,
        "load_split_s": t_split - t0,
        "model_load_s": t_model - t_split,
        "embed_faiss_s": t_embed - t_model,
        "save_s": t_save - t_embed,
        "build_s": t_save - t0,
        "index_bytes": dir_size(args.out),
        "rss_mb": peak_rss_mb(),
    }


def serve_tutorial(args) -> dict:
    from langchain_community.vectorstores import FAISS

    t0 = time.perf_counter()
    store = FAISS.load_local(args.index, tutorial_embeddings(),
                             allow_dangerous_deserialization=True)
    load_s = time.perf_counter() - t0
    questions = load_questions(args.questions, args.limit)
    store.similarity_search("warm up", k=4)
    rankings = {q["id"]: _hits(store.similarity_search(q["question"], k=RANKING_K))
                for q in questions}
    quality = score(questions, lambda q: rankings[q["id"]][:4], lambda q: rankings[q["id"]])
    times = []
    for q in questions[:args.latency_n]:
        t = time.perf_counter()
        store.similarity_search(q["question"], k=4)
        times.append(time.perf_counter() - t)
    return {"system": "tutorial", "load_s": load_s, "quality": quality.to_dict(),
            "latency": percentiles(times), "rss_mb": peak_rss_mb()}


def cold_tutorial(args) -> dict:
    """What a user's script does to answer one question from the saved tutorial index."""
    from langchain_community.vectorstores import FAISS

    store = FAISS.load_local(args.index, tutorial_embeddings(),
                             allow_dangerous_deserialization=True)
    docs = store.similarity_search(args.question, k=4)
    return {"system": "tutorial", "sources": [d.metadata["source"] for d in docs],
            "rss_mb": peak_rss_mb()}


_TOKEN = re.compile(r"\w+")


def bm25_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def bm25(args) -> dict:
    import numpy as np
    from rank_bm25 import BM25Okapi

    t0 = time.perf_counter()
    docs, chunks = split_documents(args.articles)
    t_split = time.perf_counter()
    corpus = [bm25_tokens(c.page_content) for c in chunks]
    engine = BM25Okapi(corpus)
    t_build = time.perf_counter()
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(Path(args.out) / "bm25.json", "w") as f:
            json.dump({"chunks": [[c.page_content, c.metadata["source"]] for c in chunks],
                       "tokens": corpus}, f)
    index_bytes = dir_size(args.out) if args.out else 0

    def rank(question: str, k: int) -> list[Hit]:
        scores = engine.get_scores(bm25_tokens(question))
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(chunks[i].page_content, chunks[i].metadata["source"]) for i in top]

    questions = load_questions(args.questions, args.limit)
    rankings = {q["id"]: rank(q["question"], RANKING_K) for q in questions}
    quality = score(questions, lambda q: rankings[q["id"]][:4], lambda q: rankings[q["id"]])
    times = []
    for q in questions[:args.latency_n]:
        t = time.perf_counter()
        rank(q["question"], 4)
        times.append(time.perf_counter() - t)
    return {
        "system": "bm25",
        "articles": len(docs),
        "chunks": len(chunks),
        "text_mb": sum(len(d.page_content.encode()) for d in docs) / 1e6,
        "load_split_s": t_split - t0,
        "build_s": t_build - t0,
        "index_bytes": index_bytes,
        "quality": quality.to_dict(),
        "latency": percentiles(times),
        "rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, questions=False):
        p.add_argument("--articles", default=str(DEFAULT_ARTICLES))
        if questions:
            p.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
            p.add_argument("--limit", type=int, default=None, help="first N questions only")
            p.add_argument("--latency-n", type=int, default=300,
                           help="questions timed for warm latency")
        return p

    common(sub.add_parser("build-tutorial")).add_argument("--out", required=True)
    common(sub.add_parser("serve-tutorial"), True).add_argument("--index", required=True)
    cold = sub.add_parser("cold-tutorial")
    cold.add_argument("--index", required=True)
    cold.add_argument("question")
    common(sub.add_parser("bm25"), True).add_argument("--out", default=None)
    args = parser.parse_args(argv)
    handler = {"build-tutorial": build_tutorial, "serve-tutorial": serve_tutorial,
               "cold-tutorial": cold_tutorial, "bm25": bm25}[args.command]
    print(json.dumps(handler(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
