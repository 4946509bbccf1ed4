"""The engine a page serves, made in the background so that the page is up at once: while the
first index builds, the page shows its progress and questions wait for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.core.settings import Settings
    from qa.engine import QA

__all__ = ["EngineLoader", "LoadState", "Report"]

#: `report(stage, done, total)`: what the loader is doing, e.g. ("Embedding passages", 12, 40).
Report = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LoadState:
    """Where loading stands: `stage` with `done` of `total` steps, or an `error` message."""

    stage: str = "Starting"
    done: int = 0
    total: int = 0
    error: str = ""


class EngineLoader:
    """Runs `load(report)` once, in a thread, and holds the `QA` it returns.

    >>> loader = EngineLoader(lambda report: QA(settings=settings), settings).start()
    >>> loader.engine  # None until loaded"""

    def __init__(self, load: Callable[[Report], QA], settings: Settings) -> None:
        self._load = load
        self.settings = settings
        self._engine: QA | None = None
        self._state = LoadState()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._started_at = 0.0
        #: why loading failed (a `QAError`), or None.
        self.error: Exception | None = None

    @classmethod
    def loaded(cls, engine: QA) -> EngineLoader:
        """A loader that already holds `engine`."""
        loader = cls(lambda report: engine, engine.settings)
        loader._started = True
        loader._finish(engine)
        return loader

    def start(self) -> EngineLoader:
        """Start loading in a background thread (once; later calls do nothing)."""
        with self._lock:
            if not self._started:
                self._started = True
                self._started_at = time.monotonic()
                threading.Thread(target=self._run, name="qa-load", daemon=True).start()
        return self

    def _report(self, stage: str, done: int, total: int) -> None:
        self._state = LoadState(stage, done, total)

    def _run(self) -> None:
        from qa.core.errors import QAError

        try:
            self._finish(self._load(self._report))
        except QAError as exc:  # shown in the page; `serve` raises it
            self.error = exc
            self._state = LoadState(error=str(exc))
            self._done.set()
        except Exception as exc:  # a fault: the page says so; the log, and `serve`, say what
            logging.getLogger(__name__).exception("Loading the articles failed")
            self.error = QAError(f"Loading the articles failed: {type(exc).__name__}: "
                                 f"{str(exc)[:300]} (the log above has the details).")
            self._state = LoadState(error=f"internal error ({type(exc).__name__})")
            self._done.set()

    def _finish(self, engine: QA) -> None:
        self._engine = engine
        self._done.set()

    @property
    def engine(self) -> QA | None:
        """The loaded engine, or None while loading (or after a failure)."""
        return self._engine

    @property
    def state(self) -> LoadState:
        return self._state

    @property
    def seconds(self) -> float:
        """Seconds since loading started (0 before)."""
        return time.monotonic() - self._started_at if self._started_at else 0.0

    def wait(self, timeout: float | None = None) -> QA | None:
        """The engine once loaded (or None after `timeout` seconds or a failure)."""
        self._done.wait(timeout)
        return self._engine
