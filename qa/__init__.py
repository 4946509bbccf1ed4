"""article-qa's read path and public API: ask questions, get answers with cited passages.

>>> from qa import answer
>>> a = answer("Who was killed by a car bomb in Balashikha?")
>>> print(a.text); print(a.citations[0].article.title)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import (
    EmptyQuestionError,
    IndexDamagedError,
    IndexFallbackWarning,
    IndexMismatchError,
    IndexNotFoundError,
    InputError,
    LLMError,
    NoArticlesError,
    QAError,
    QuestionTooLongError,
)
from qa.core.records import ABSTAIN_TEXT, Answer, Citation, Passage

if TYPE_CHECKING:
    from qa.engine import QA, AnswerStream

__all__ = [
    "ABSTAIN_TEXT",
    "QA",
    "Answer",
    "AnswerStream",
    "Citation",
    "EmptyQuestionError",
    "IndexDamagedError",
    "IndexFallbackWarning",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InputError",
    "LLMError",
    "NoArticlesError",
    "Passage",
    "QAError",
    "QuestionTooLongError",
    "answer",
]

_default: dict[Path, QA] = {}
_default_lock = threading.Lock()


def __getattr__(name: str) -> object:  # lazy: `import qa` must not load torch
    if name in ("QA", "AnswerStream"):
        from qa import engine

        return getattr(engine, name)
    raise AttributeError(name)


def answer(question: str, history: list | None = None, k: int | None = None, *,
           index_dir: str | Path | None = None, stream: bool = False,
           mode: str | None = None) -> Answer | AnswerStream:
    """Answer `question` from the default index (or `index_dir`) with cited passages.
    See `QA.answer`; the `QA` object is created once per index and reused."""
    from qa.core.settings import Settings
    from qa.engine import QA

    settings = Settings.from_env(index_dir=index_dir)
    with _default_lock:
        engine = _default.get(settings.index_dir)
        if engine is None:
            engine = _default[settings.index_dir] = QA(settings=settings)
    return engine.answer(question, history, k, stream=stream, mode=mode)
