"""Calling a chat model: its reply as a stream of text pieces, with a deadline, and every
failure of the model, its server or the network raised as one `LLMError` that says what
went wrong.

No thread of its own: the model streams in the caller's thread. The backend's own timeout
bounds each wait (it is passed as `timeout=`: the OpenAI client's request timeout, the
in-process model's generation limit); the deadline is checked between pieces. Closing the
stream early closes the model's stream, which stops the generation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from qa.answering.prompt import Messages
from qa.core.errors import LLMError

__all__ = ["chat_reply", "stream_reply"]

#: the most of a reply that is read: far past the 256 tokens asked for, for servers that
#: ignore the limit (the rest is never held in memory).
MAX_REPLY_CHARS = 16_000
_TIMEOUT_ERRORS = {"TimeoutError", "APITimeoutError", "ReadTimeout", "ConnectTimeout",
                   "TimeoutException"}


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _as_llm_error(exc: Exception, timeout: float) -> LLMError:
    names = _names(exc)
    if names & _TIMEOUT_ERRORS:
        brief = f"the model did not answer within {timeout:.0f} s"
    elif names & {"APIConnectionError", "ConnectError", "ConnectionError"}:
        brief = "the model server could not be reached"
    elif names & {"AuthenticationError", "PermissionDeniedError"}:
        brief = "the model server refused the API key; check OPENAI_API_KEY"
    elif names & {"NotFoundError"}:
        brief = "the model server does not know that model"
    else:
        brief = type(exc).__name__
    text = str(exc).strip()
    return LLMError(f"{brief} ({text})" if text else brief, brief)


def stream_reply(chat_model: Any, messages: Messages, timeout: float,
                 stop: list[str] | None = None) -> Iterator[str]:
    """The pieces of the model's reply as it writes them, at most `MAX_REPLY_CHARS` of it.
    Raises `LLMError` on any model error and once the reply has taken longer than `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    kwargs: dict[str, Any] = {"timeout": timeout}
    if stop:
        kwargs["stop"] = stop
    room = MAX_REPLY_CHARS
    try:
        for chunk in chat_model.stream(messages, **kwargs):
            text = str(chunk.text if hasattr(chunk, "text") else chunk)[:room]
            if text:
                yield text
                room -= len(text)
            if room <= 0:  # a server that ignores the length asked for: read no further
                return
            if time.monotonic() > deadline:
                raise LLMError(f"the model did not finish within {timeout:.0f} s")
    except LLMError:
        raise
    except Exception as exc:  # any backend's failure: reported as the model's
        raise _as_llm_error(exc, timeout) from exc


def chat_reply(chat_model: Any, messages: Messages, timeout: float,
               stop: list[str] | None = None) -> str:
    """The model's whole reply (see `stream_reply`)."""
    return "".join(stream_reply(chat_model, messages, timeout, stop))
