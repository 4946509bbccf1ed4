"""Chat models behind OpenAI's chat-completions protocol (Ollama, vLLM, llama.cpp's
`llama-server`, LM Studio, OpenAI itself), through langchain-openai's `ChatOpenAI`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from qa.core.errors import LLMError
from qa.core.urls import mask_password, redact, split_credentials

__all__ = ["INSTALL_OPENAI", "MAX_REPLY_BYTES", "openai_chat_model"]

INSTALL_OPENAI = "pip install langchain-openai"
#: the most of one reply read from the server, framing included (a reply of
#: `qa.answering.chat.MAX_REPLY_CHARS` streamed one token per event takes about 1 MB).
MAX_REPLY_BYTES = 4 << 20
#: what local servers get as API key when OPENAI_API_KEY is not set (the client needs one).
_NO_KEY = "no-key-needed"


def openai_chat_model(model: str, base_url: str | None, *, timeout: float,
                      temperature: float, max_tokens: int) -> Any:
    """A `ChatOpenAI` for `model` at `base_url` (None: OpenAI's own API). The API key is read
    from the environment variable `OPENAI_API_KEY` (here, and nowhere else); local servers
    need none."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise LLMError(f"--llm openai:… needs the OpenAI client: {INSTALL_OPENAI}") from exc
    key = os.environ.get("OPENAI_API_KEY", "")
    if base_url is None and not key:
        raise LLMError("OpenAI's API needs a key: set OPENAI_API_KEY, or give the address of "
                       "another OpenAI-compatible server, e.g. openai:http://127.0.0.1:8080/v1#MODEL.")
    # a user:password@ goes in the Authorization header, as the HTTP client would send it,
    # and not in the address that the client logs with every request
    address, credentials = split_credentials(base_url) if base_url else (None, None)
    try:
        # OPENAI_PROXY goes to the client below: ChatOpenAI takes a proxy or a client, not both
        return ChatOpenAI(model=model, base_url=address, api_key=key or _NO_KEY,
                          temperature=temperature, max_tokens=max_tokens, timeout=timeout,
                          max_retries=0, openai_proxy=None,
                          http_client=_deadline_client(timeout, os.environ.get("OPENAI_PROXY"),
                                                       credentials))
    except Exception as exc:  # the client's own errors, e.g. an invalid URL or port
        where = mask_password(base_url)[0] if base_url else "OpenAI"
        reason = redact(str(exc), base_url or "")
        raise LLMError(f"--llm: the client for the model server at {where} "
                       f"cannot be set up ({type(exc).__name__}: {reason})") from None


def _deadline_client(timeout: float, proxy: str | None,
                     credentials: tuple[str, str] | None) -> Any:
    """The OpenAI client's HTTP client (proxies as usual; `credentials` sent as basic
    authentication), with a deadline on each whole
    request: its (read) timeout counts from the request's start, not from the last bytes
    received, so a server that sends keep-alive comments and no answer is given up on in
    time too."""
    import importlib

    import openai

    client_class = openai.DefaultHttpxClient  # on httpx or httpx2, as this openai is
    http = importlib.import_module(client_class.__mro__[1].__module__.partition(".")[0])

    class Deadline(http.SyncByteStream):
        def __init__(self, stream: Any, deadline: float, seconds: float) -> None:
            self._stream, self._deadline, self._seconds = stream, deadline, seconds

        def __iter__(self) -> Iterator[bytes]:
            received = 0
            for chunk in self._stream:
                if time.monotonic() > self._deadline:
                    raise http.ReadTimeout(f"no whole reply within {self._seconds:.0f} s")
                received += len(chunk)
                if received > MAX_REPLY_BYTES:  # before a line without end is held whole
                    raise LLMError(f"the model server sent more than {MAX_REPLY_BYTES >> 20} "
                                   "MB for one reply")
                yield chunk

        def close(self) -> None:
            self._stream.close()

    class DeadlineClient(client_class):
        def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
            started = time.monotonic()
            response = super().send(request, stream=True, **kwargs)
            seconds = (request.extensions.get("timeout") or {}).get("read") or timeout
            response.stream = Deadline(response.stream, started + seconds, seconds)
            if not stream:
                try:
                    response.read()
                except BaseException:
                    response.close()
                    raise
            return response

    return DeadlineClient(timeout=timeout, auth=credentials,
                          **({"proxy": proxy} if proxy else {}))
