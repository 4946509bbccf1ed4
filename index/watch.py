"""Keeps an index in step with the folders it was built from: files added, changed or deleted
under them are indexed again once they have held still (`qa serve --index FOLDER`)."""

from __future__ import annotations

import logging
import os
import threading
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
        #: the store's "cannot be reached" last said, while it lasts (said once, not per look).
        self._unreachable = ""
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
            if now != self._indexed and now == last and \
                    (message := self._index(index, now)) is not None:
                announce(message)
            last = now

    def _index(self, index: Callable[[list[str]], BuildReport], now: Snapshot) -> str | None:
        """Index the folders as `now` saw them; what to tell the terminal: the summary, then
        the build's notices (files skipped or refused, and why). A store that cannot be
        reached is tried again at every look (said once); other failures only when the files
        change again."""
        changed = ", ".join(self.paths)
        try:
            report = index(self.paths)
        except StoreUnavailableError as exc:
            said, self._unreachable = self._unreachable, str(exc)
            return None if said == str(exc) else (
                f"{changed} changed, but could not be indexed yet: {exc} Trying again every "
                f"{self.seconds:g} s.")
        except QAError as exc:
            self._indexed, self._unreachable = now, ""
            return f"{changed} changed, but could not be indexed: {exc}"
        except Exception:  # a fault: logged whole; the server and the old index go on
            self._indexed, self._unreachable = now, ""
            logger.exception("Indexing the changes in %s failed", changed)
            return f"{changed} changed, but indexing failed (the log above says why)."
        self._indexed, self._unreachable = now, ""
        if any(Path(file_of(path)).exists() for path in report.removed):
            # gone while the build read the folders (moved away and back, held up by another
            # writer), there again now: the build did not index what `now` saw
            self._indexed = _NOT_INDEXED
        return "\n".join([f"{changed} changed: {report.summary}",
                          *(str(notice) for notice in report.notices)])
