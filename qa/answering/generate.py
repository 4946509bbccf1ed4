"""Generated answers: a chat model answers from the numbered passages (`prompt`), its reply
streams with its markers filtered (`markers`), then every citation is checked (`check`).
Model errors, time-outs and unreachable servers raise `LLMError` (`chat`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from qa.answering.abstention import abstain
from qa.answering.chat import stream_reply
from qa.answering.check import check_answer, clean_reply
from qa.answering.markers import MarkerStream
from qa.answering.prompt import build_messages
from qa.answering.stream import AnswerStream, Pieces
from qa.core.records import Passage
from qa.core.text import LONE_SURROGATES

__all__ = ["generate_answer", "iter_answer"]


def iter_answer(question: str, passages: Sequence[Passage], history: Sequence,
                chat_model: Any, *, timeout: float = 60, embedder: Any = None) -> Pieces:
    """Answer `question` from `passages` with `chat_model`: yields the reply as it is
    generated (markers to no passage already dropped, numbers as the final answer has them
    unless checking cites a sentence anew: `AnswerStream` then ends with the corrected text),
    then returns the checked `Answer`. `embedder` (a `qa.index.embed.Embedder` or
    the query model; None: lexical checks only) scores support. Closing it early stops the
    model. Raises `LLMError` when the model fails, times out or cannot be reached."""
    if not passages:
        return abstain(question, passages, mode="llm", notes=["No passages to answer from."])
    started = time.perf_counter()
    markers = MarkerStream(len(passages))
    raw: list[str] = []
    for piece in stream_reply(chat_model, build_messages(question, passages, history), timeout):
        piece = LONE_SURROGATES.sub("\ufffd", piece)  # (a model's bad escape: no text)
        raw.append(piece)
        if shown := markers.feed(piece):
            yield shown
    if shown := markers.flush():
        yield shown
    generated = time.perf_counter()
    answer = check_answer(question, clean_reply("".join(raw)), passages, embedder=embedder)
    answer.timings.update(generate=round(generated - started, 4),
                          check=round(time.perf_counter() - generated, 4))
    return answer


def generate_answer(question: str, passages: Sequence[Passage], history: Sequence,
                    chat_model: Any, *, timeout: float = 60,
                    embedder: Any = None) -> AnswerStream:
    """`iter_answer` as an `AnswerStream`: iterate for the text, `.answer` for the `Answer`."""
    return AnswerStream(iter_answer(question, passages, history, chat_model, timeout=timeout,
                                    embedder=embedder))
