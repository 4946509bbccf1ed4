"""Kill `qa index` at random points while a reader asks questions (issue 11, crash test).

Every question gets an answer or a typed error, no reader ever falls back to an older
generation, the index verifies after every kill, and afterwards it answers from a complete
generation holding every article."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

from qa.index import build_index, open_index
from qa.index.check import check_index

from qa.core.errors import IndexFallbackWarning, QAError
from qa.core.settings import Settings
from tests.faults import QUESTION, assert_old_data_answers

RUNS = 12
SEED = 11


def _start(corpus: Path, index_dir: Path, n: int) -> subprocess.Popen:
    """`qa index` of the corpus after adding one note to it, so that every build writes."""
    (corpus / f"note-{n:02d}.txt").write_text(f"Council note {n}\n\nThe council of Kelso met "
                                              f"for the {n}th time on Tuesday.")
    return subprocess.Popen([sys.executable, "-m", "qa", "index", str(corpus), "--index-dir",
                             str(index_dir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _writing(index_dir: Path) -> bool:
    return any(p.name.endswith(".partial") for p in index_dir.iterdir())


def _pointer(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text()


def _wait(until, writer: subprocess.Popen) -> float:
    """Poll until `until()` holds or the writer exits; the time it happened."""
    while not until() and writer.poll() is None:
        time.sleep(0.001)
    return time.monotonic()


class _Reader(threading.Thread):
    """Reloads the index and asks the seed question in a loop, counting the outcomes."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(daemon=True)
        self.index_dir = index_dir
        self.outcomes: Counter[str] = Counter()
        self.untyped: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from qa import QA

        qa = QA(index_dir=self.index_dir)
        while not self.stop.wait(0.02):  # leave the writer a core
            try:
                qa.reload()
                qa.answer(QUESTION)
                self.outcomes["answered"] += 1
            except IndexFallbackWarning:  # raised: the test turns it into an error
                self.outcomes["fallback"] += 1
            except QAError as exc:
                self.outcomes[type(exc).__name__] += 1
            except Exception as exc:  # what this test exists to catch
                self.untyped.append(repr(exc))


def test_killing_qa_index_at_random_points(index_copy: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    started = time.monotonic()
    before = _pointer(index_copy)
    writer = _start(corpus, index_copy, 0)  # once to the end: when its writing starts and ends
    writing = _wait(lambda: _writing(index_copy), writer) - started
    swapped = _wait(lambda: _pointer(index_copy) != before, writer) - started
    assert writer.wait() == 0
    # kill points: anywhere in a run, or from the start of writing to just after the swap
    # (when the old generations are removed)
    window = 1.5 * (swapped - writing)

    reader = _Reader(index_copy)
    kills: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndexFallbackWarning)
        reader.start()
        for n in range(1, RUNS + 1):
            writer = _start(corpus, index_copy, n)
            if rng.random() < 0.5:
                delay = rng.uniform(0, swapped)
                time.sleep(delay)
                where = f"{delay:.2f} s after start"
            else:
                _wait(lambda: _writing(index_copy), writer)
                delay = rng.uniform(0, window)
                time.sleep(delay)
                where = f"{delay * 1000:.0f} ms into writing"
            writer.kill()
            kills.append(f"{where}: {'killed' if writer.wait() < 0 else 'had finished'}")
            verdict = check_index(index_copy)
            assert verdict.ok, (kills[-1], verdict.lines)
            assert open_index(index_copy).fallback is None
        reader.stop.set()
        reader.join()

    print(f"\ncrash test: writing starts {writing:.1f} s into a build, the swap "
          f"{(swapped - writing) * 1000:.0f} ms later; reader: {dict(reader.outcomes)}; "
          f"kills: {kills}")
    assert reader.untyped == []
    assert reader.outcomes["answered"] > 0 and reader.outcomes["fallback"] == 0
    assert sum(k.endswith("killed") for k in kills) >= RUNS // 2
    build_index([corpus], Settings.from_env(index_dir=index_copy))  # every note is indexed
    assert check_index(index_copy).ok
    assert_old_data_answers(index_copy, 2 + RUNS + 1)
    assert not [p for p in os.listdir(index_copy) if p.endswith((".partial", ".deleting"))]
