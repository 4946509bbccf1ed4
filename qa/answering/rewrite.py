"""Follow-up questions rewritten by the language model into standalone ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qa.answering.chat import chat_reply
from qa.answering.prompt import conversation, prompt_line
from qa.core.text import content_words, one_line, shorten

__all__ = ["REWRITE_EXAMPLE_ANSWER", "REWRITE_EXAMPLE_USER", "REWRITE_PROMPT",
           "rewrite_question"]

REWRITE_PROMPT = """\
Rewrite the user's last question so that it can be understood without the conversation: \
replace pronouns and vague references with the names they refer to. Reply with the \
rewritten question only, on one line. If it is already self-contained, repeat it unchanged."""
REWRITE_EXAMPLE_USER = """\
Conversation:
User: Who won the city marathon?
Assistant: Anna Berg won the city marathon on Sunday.

Last question: How long did she take?"""
REWRITE_EXAMPLE_ANSWER = "How long did Anna Berg take to win the city marathon?"


def rewrite_question(question: str, history: Sequence, chat_model: Any, *,
                     timeout: float = 30, fallback: str | None = None) -> str:
    """A follow-up question rewritten into a standalone one, using the conversation.

    Without history the question is returned as is, with no model call. When the model's
    reply is not a usable question (not a question, or sharing no word with the follow-up,
    as a small model's often is), `fallback` is returned (e.g. a rewrite made without the
    model), or else the question as is. Raises `LLMError` when the model fails.
    """
    question = one_line(question or "")
    turns = conversation(history)
    if not question or not turns:
        return question
    convo = "\n".join(f"{'User' if role == 'human' else 'Assistant'}: {shorten(text, 400)}"
                      for role, text in turns)
    messages = [("system", REWRITE_PROMPT),
                ("human", REWRITE_EXAMPLE_USER), ("ai", REWRITE_EXAMPLE_ANSWER),
                ("human", f"Conversation:\n{convo}\n\nLast question: {prompt_line(question)}")]
    reply = chat_reply(chat_model, messages, timeout, stop=["\n"])
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:(?:rewritten|standalone)\s+)?question\s*:\s*", "", line,
                  flags=re.IGNORECASE)
    line = line.strip().strip("\"'“”‘’").strip()
    asked = content_words(question)
    if (not line.endswith("?") or len(line) > 3 * len(question) + 150
            or (asked and not asked & content_words(line))):
        return fallback or question
    return line
