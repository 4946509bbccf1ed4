"""Many clients against several stateless `qa serve --store URL` replicas over one PostgreSQL
database (the seeds, written by two `qa index --shard` processes at once): latency, errors and
each replica's RSS, all replicas loaded at the same time. Writes
bench/results/pg_serve.json and prints it.

    python -m bench.pg_serve                      # 16 clients over 2 replicas, 10 questions each
    python -m bench.pg_serve --clients 16 --replicas 2 --questions 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench.common import BENCH_DIR, REPO, child_env, machine
from bench.serve_load import CLIENTS, SEED_QUESTIONS, load
from tests.live import live_server
from tests.postgres import PgServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="in all, split over replicas")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--questions", type=int, default=10, help="per client")
    args = parser.parse_args(argv)

    questions = [json.loads(line)["question"] for line in
                 SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="article-qa-pg-serve-") as tmp:
        base = Path(tmp)
        server = PgServer(base / "pg")
        try:
            url = server.new_database()
            writers = [subprocess.Popen(
                [sys.executable, "-m", "qa", "index", str(REPO / "seeds"), "--store", url,
                 "--shard", f"{i}/2"], cwd=REPO, env=child_env(),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(2)]
            for writer in writers:
                if writer.wait() != 0:
                    raise SystemExit(f"qa index failed: {writer.stderr.read().decode()[-2000:]}")
            with ExitStack() as stack:
                replicas = []
                for i in range(args.replicas):
                    (base / f"replica{i}").mkdir()
                    replicas.append(stack.enter_context(
                        live_server(["--store", url], base / f"replica{i}")))
                per_replica = max(1, args.clients // args.replicas)

                def run(live: dict) -> dict:
                    return load(live["url"], live["proc"].pid, questions, per_replica,
                                args.questions, CLIENTS["gradio_client ssl_verify=False"])

                with ThreadPoolExecutor(max_workers=args.replicas) as pool:
                    runs = list(pool.map(run, replicas))
        finally:
            server.stop()
    result = {"machine": machine(), "clients": per_replica * args.replicas,
              "replicas": args.replicas, "questions_per_client": args.questions,
              "requests": sum(r["requests"] for r in runs),
              "errors": sum(r["errors"] for r in runs),
              "per_replica": runs}
    (BENCH_DIR / "results" / "pg_serve.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
