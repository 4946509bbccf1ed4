"""article-qa's read path and public API: ask questions, get answers with cited passages.

>>> from qa import answer
>>> a = answer("Who was killed by a car bomb in Balashikha?")
>>> print(a.text); print(a.citations[0].article.title)
>>> for piece in stream("Who is Keith Kellogg?"): print(piece, end="")
"""

from __future__ import annotations

import threading
import warnings
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core import errors as _errors
from qa.core.errors import *  # noqa: F403 (every typed error is public: one list, errors.__all__)
from qa.core.records import ABSTAIN_TEXT, Answer, Citation, Passage

if TYPE_CHECKING:
    from qa.answering.stream import AnswerStream
    from qa.engine import QA

__all__ = [
    "ABSTAIN_TEXT",
    "QA",
    "Answer",
    "AnswerStream",
    "Citation",
    "Passage",
    "answer",
    "stream",
    *_errors.__all__,
]

_default: dict[Path, QA] = {}
_default_lock = threading.Lock()


def __getattr__(name: str) -> object:  # lazy: `import qa` must not load torch
    if name == "QA":
        from qa.engine import QA

        return QA
    if name == "AnswerStream":
        from qa.answering.stream import AnswerStream

        return AnswerStream
    raise AttributeError(name)


def _engine(index_dir: str | Path | None) -> QA:
    """The `QA` over the default index (or `index_dir`), created once per index and reused."""
    from qa.core.settings import Settings
    from qa.engine import QA

    settings = Settings.from_env(index_dir=index_dir)
    with _default_lock:
        engine = _default.get(settings.index_dir)
        if engine is None:
            engine = _default[settings.index_dir] = QA(settings=settings)
    return engine


def answer(question: str, history: list | None = None, k: int | None = None, *,
           index_dir: str | Path | None = None, stream: bool = False,
           mode: str | None = None, sources: list[str] | str | None = None,
           since: date | str | None = None,
           until: date | str | None = None) -> Answer | AnswerStream:
    """Answer `question` from the default index (or `index_dir`) with cited passages;
    `sources`, `since`, `until` limit the articles cited. See `QA.answer`. (`stream=True` is
    deprecated: use `qa.stream`.)"""
    where = {"mode": mode, "sources": sources, "since": since, "until": until}
    if stream:
        warnings.warn("qa.answer(stream=True) is deprecated: use qa.stream(), which returns "
                      "the same AnswerStream.", DeprecationWarning, stacklevel=2)
        return _engine(index_dir).stream(question, history, k, **where)
    return _engine(index_dir).answer(question, history, k, **where)


def stream(question: str, history: list | None = None, k: int | None = None, *,
           index_dir: str | Path | None = None, mode: str | None = None,
           sources: list[str] | str | None = None, since: date | str | None = None,
           until: date | str | None = None) -> AnswerStream:
    """`answer` as it is produced: iterate for the text, then read `.answer`. See `QA.stream`."""
    return _engine(index_dir).stream(question, history, k, mode=mode, sources=sources,
                                     since=since, until=until)
