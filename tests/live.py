"""A live `qa serve` in a subprocess, for the UI and server tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(args: list[str | Path], base: Path, env: dict[str, str] | None = None,
                timeout: float = 120, ready: bool = True, preamble: str = "") -> Iterator[dict]:
    """`qa serve ARGS` run with this interpreter (after the Python statements `preamble`),
    Gradio's cache in `base/gradio`; yields {"url", "proc", "log", "listening_s"} once the
    chat answers (`listening_s`: when the port first answered, maybe with the "starting"
    page) and, when `ready`, its index is loaded; stops the server afterwards."""
    import httpx

    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(base / "gradio"),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT), **(env or {})}
    log_path = base / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", f"{preamble}\nfrom qa.cli import main; main()", "serve",
             "--port", str(port), *map(str, args)], cwd=base, env=env, stdout=log,
            stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        deadline = started + timeout
        listening_s = None
        try:
            while listening_s is None or "Chat on " not in (log := log_path.read_text()) \
                    or (ready and "Ready:" not in log):
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
                if listening_s is None:
                    try:
                        if httpx.get(url, timeout=2).status_code == 200:
                            listening_s = time.monotonic() - started
                            continue
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not up:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
            yield {"url": url, "proc": proc, "log": log_path, "listening_s": listening_s}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
