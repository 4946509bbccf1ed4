"""Chat models behind OpenAI's chat-completions protocol (Ollama, vLLM, llama.cpp's
`llama-server`, LM Studio, OpenAI itself), through langchain-openai's `ChatOpenAI`."""

from __future__ import annotations

import os
from typing import Any

from qa.core.errors import LLMError

__all__ = ["INSTALL_OPENAI", "openai_chat_model"]

INSTALL_OPENAI = "pip install langchain-openai"
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
    return ChatOpenAI(model=model, base_url=base_url, api_key=key or _NO_KEY,
                      temperature=temperature, max_tokens=max_tokens, timeout=timeout,
                      max_retries=1)
