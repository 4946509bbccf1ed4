"""Keeps an index in step with the folders it was built from: files added, changed or deleted
under them are indexed again once they have held still (`qa serve --index FOLDER`)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from qa.index.ingest import BuildReport, file_of
from qa.index.load import find_files

from qa.core.errors import InputError, QAError, StoreUnavailableError

__all__ = ["FolderWatcher", "snapshot"]

logger = logging.getLogger(__name__)

#: what a look at the folders saw: each article file with its size and modification time.
Snapshot = frozenset[tuple[str, int, int]]
#: what no look sees: the folders are indexed again at the next look that holds still.
_NOT_INDEXED: Snapshot = frozenset({("", -1, -1)})
#: a build that failed (a full disk, a file it could not read) is tried again after 2, 4,
#: 8 ... looks, at most this many apart; a store that cannot be reached at every look.
_MOST_LOOKS_APART = 64


def snapshot(paths: Sequence[str | Path]) -> Snapshot:
    """Every article file under `paths` (as `qa index` finds them) with its size and
    modification time. Raises `InputError` when a path is missing."""
    seen = set()
    for path in find_files(paths)[0]:
        try:
            status = path.stat()
        except OSError:  # deleted between the listing and now: the next look sees it gone
            continue
        seen.add((str(path), status.st_size, status.st_mtime_ns))
    return frozenset(seen)


class FolderWatcher:
    """Looks at `paths` every `seconds` and, when what is there has changed and then held still
    for one more look (a file being copied in is not read half-written), calls
    `index(paths)`; `announce(message)` tells the terminal what happened.

    >>> watcher = FolderWatcher(["articles"], 3)   # what is there now counts as indexed
    >>> build the index ...; watcher.start(engine.add_files, print)"""

    def __init__(self, paths: Sequence[str | Path], seconds: float) -> None:
        self.paths = [str(p) for p in paths]
        self.seconds = seconds
        self._indexed = snapshot(self.paths)
        #: the watched folders a drive is mounted on: if one is unmounted, the empty folder
        #: left behind is not a folder whose files were all deleted.
        self._mounts = {p for p in self.paths if os.path.ismount(p)}
        #: the failure last said, while it lasts (said once, not at every try).
        self._failure = ""
        #: builds failed in a row, what the last one saw, and when (time.monotonic()) to try
        #: it again (at once if the files change).
        self._failures = 0
        self._failed_on: Snapshot | None = None
        self._retry_at = 0.0
        self._stop = threading.Event()

    def start(self, index: Callable[[list[str]], BuildReport],
              announce: Callable[[str], None]) -> FolderWatcher:
        """Watch in a background thread until `stop()`."""
        threading.Thread(target=self._run, args=(index, announce), name="qa-watch",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self, index: Callable[[list[str]], BuildReport],
             announce: Callable[[str], None]) -> None:
        last, missing = self._indexed, ""
        while not self._stop.wait(self.seconds):
            try:
                now = snapshot(self.paths)
                if unmounted := [p for p in self._mounts if not os.path.ismount(p)]:
                    raise InputError(f"{', '.join(unmounted)}: the drive is no longer mounted")
            except InputError as exc:  # a folder gone (or unmounted): its articles stay
                if str(exc) != missing:
                    missing = str(exc)
                    announce(f"{exc}; its articles stay indexed until it is back (or until "
                             "`qa index` is run without it).")
                continue
            self._mounts |= {p for p in self.paths if os.path.ismount(p)}
            missing = ""
            due = now != self._failed_on or time.monotonic() >= self._retry_at
            if now != self._indexed and now == last and due and \
                    (message := self._index(index, now)) is not None:
                announce(message)
            last = now

    def _index(self, index: Callable[[list[str]], BuildReport], now: Snapshot) -> str | None:
        """Index the folders as `now` saw them; what to tell the terminal: the summary, then
        the build's notices (files skipped or refused, and why). A failed build is tried
        again: at every look when the store cannot be reached, else less and less often
        (`_MOST_LOOKS_APART`); each failure is said once."""
        changed = ", ".join(self.paths)
        try:
            report = index(self.paths)
        except StoreUnavailableError as exc:
            return self._failed(now, str(exc), f"{changed} changed, but could not be indexed "
                                               f"yet: {exc} Trying again every "
                                               f"{self.seconds:g} s.", 1)
        except QAError as exc:
            return self._failed(now, str(exc), f"{changed} changed, but could not be indexed: "
                                               f"{exc} Trying again from time to time.")
        except Exception as exc:  # a fault: logged whole; the server and the old index go on
            logger.exception("Indexing the changes in %s failed", changed)
            return self._failed(now, repr(exc), f"{changed} changed, but indexing failed (the "
                                                "log above says why). Trying again from time "
                                                "to time.")
        self._indexed, self._failure, self._failures, self._failed_on = now, "", 0, None
        if any(Path(file_of(path)).exists() for path in report.removed):
            # gone while the build read the folders (moved away and back, held up by another
            # writer), there again now: the build did not index what `now` saw
            self._indexed = _NOT_INDEXED
        return "\n".join([f"{changed} changed: {report.summary}",
                          *(str(notice) for notice in report.notices)])

    def _failed(self, now: Snapshot, reason: str, message: str,
                looks: int | None = None) -> str | None:
        """Note a failed build of what `now` saw, to be tried again after `looks` looks (by
        default twice as many as after the last failure); `message` to say, unless `reason`
        was said last."""
        if looks is None:  # (a store that cannot be reached is tried at every look)
            self._failures += 1
            looks = min(2 ** self._failures, _MOST_LOOKS_APART)
        self._failed_on = now
        self._retry_at = time.monotonic() + (looks - 0.5) * self.seconds
        said, self._failure = self._failure, reason
        return None if said == reason else message
