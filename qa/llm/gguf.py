"""In-process GGUF models: a GGUF file run by transformers, as a LangChain chat model.

The `gguf` package reads the file; weights are de-quantised to float32, so keep to small
models, up to a few billion parameters (serve bigger ones with llama.cpp's server and use
`openai:`). transformers' `generate` loop only calls back, so a generation thread feeds a
`TextIteratorStreamer` that `_stream` reads: the one thread bridge of the answering path.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from qa.core.errors import LLMError

__all__ = ["INSTALL_GGUF", "GGUFChatModel"]

INSTALL_GGUF = "pip install gguf accelerate"  # plus transformers and torch (installed with qa)


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


class _Stopped(Exception):
    """Raised inside a forward pass once the reader has gone (closed stream, timeout)."""


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
        #: the transformer blocks, where a cancelled generation stops mid-pass.
        self.layers = [m for m in self.model.modules()
                       if type(m).__name__.endswith("DecoderLayer")]
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
        cancel = threading.Event()  # set when the reader closes the stream or goes past timeout

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **_: Any) -> bool:
                return cancel.is_set()

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

        def stop_mid_pass(*_: Any) -> None:
            if cancel.is_set():
                raise _Stopped

        def work() -> None:
            # a pass over a long prompt takes seconds: it stops at the next layer, too
            hooks = [layer.register_forward_pre_hook(stop_mid_pass) for layer in rt.layers]
            try:
                if threads:
                    torch.set_num_threads(threads)  # this thread's OpenMP setting only
                with torch.inference_mode():
                    rt.model.generate(**gen_kwargs)
            except _Stopped:
                streamer.on_finalized_text("", stream_end=True)
            except BaseException as exc:
                failure.append(exc)
                streamer.on_finalized_text("", stream_end=True)
            finally:
                for hook in hooks:
                    hook.remove()
                rt.lock.release()
                _ACTIVE.discard(active)

        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not rt.lock.acquire(timeout=-1 if wait is None else wait):
            raise TimeoutError(f"the model stayed busy with another question for {timeout:.0f} s")
        thread = threading.Thread(target=work, name="gguf-generate", daemon=True)
        active = (cancel, thread)
        _ACTIVE.add(active)
        thread.start()
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
        finally:  # the generation stops at its next token and then frees the model
            cancel.set()
        if failure:
            raise failure[0]

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk
