"""`AnswerStream`: an answer that streams when iterated and blocks for its final value.

The code that makes an answer is a generator: it yields the text as it is produced and
returns the finished `Answer`. `AnswerStream` wraps that generator once, in the caller's
thread (no thread, no queue): iterating it yields the pieces; `.answer` is the final
`Answer`, running the rest of the generator first when it has not finished (as `llm`'s
`Response` streams when iterated and blocks in `.text()`). The pieces end with the final
text: an answer computed at once (extractive) is handed out word by word, the rest of one
that was streamed follows it, and one whose text changed after the stream (citations
checked, or a fallback to extraction) follows it in full after a blank line.

Why two calls (`QA.answer` → `Answer`, `QA.stream` → `AnswerStream`) rather than one lazy
type for both: `Answer` stays a plain record (fields, `to_dict`, equality, the output of the
LangChain runnable) that never blocks when a field is read, and what a call returns never
depends on a flag. `AnswerStream` is the only streaming type, and every answer, streamed or
not, is made by the same generator.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator

from qa.core.errors import QAError
from qa.core.records import Answer

__all__ = ["AnswerStream", "Pieces"]

#: what makes an answer: text pieces as they are produced, then the `Answer` returned.
Pieces = Generator[str, None, Answer]


class AnswerStream:
    """Iterate for the answer text as it is produced; `.answer` blocks until it is done.

    >>> stream = qa.stream("Who is Keith Kellogg?")
    >>> for piece in stream: print(piece, end="")
    >>> stream.answer.citations
    """

    def __init__(self, pieces: Pieces) -> None:
        self._pieces = pieces
        self._sent: list[str] = []
        self._answer: Answer | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        """The text as it is produced (again from the start once the answer is done)."""
        if self._answer is not None:
            yield from self._sent
            return
        if self._started:
            raise QAError("this answer's stream was stopped before the answer was finished; "
                          "ask again for the whole answer")
        self._started = True
        try:
            answer = yield from self._tap()
        finally:
            self._pieces.close()  # a reader that stops early stops the model
        for piece in _rest(answer.text, "".join(self._sent)):
            self._sent.append(piece)
            yield piece
        self._answer = answer

    def _tap(self) -> Pieces:
        while True:
            try:
                piece = self._pieces.send(None)
            except StopIteration as done:
                return done.value
            self._sent.append(piece)
            yield piece

    @property
    def answer(self) -> Answer:
        """The final `Answer` (reads the rest of the stream first, if need be; a stream whose
        reading was stopped early raises `QAError`: it has no final answer)."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer

    def close(self) -> None:
        """Stop making the answer (a generating model stops at its next piece)."""
        self._pieces.close()

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """`with qa.stream(...) as stream:` stops the model when the block is left early."""
        self.close()


#: what precedes the final text in a stream when it differs from what was streamed (checking
#: the citations cited a sentence anew, or the model failed and extraction answered).
FINAL_HEADING = "The final answer:"


def _rest(final: str, streamed: str) -> list[str]:
    """What follows the streamed text: the rest of the final text, or, when the final text
    is not a continuation of it, the whole final text under `FINAL_HEADING`."""
    if not streamed:  # computed at once: word by word
        return re.findall(r"\S+\s*", final)
    if final.startswith(streamed):
        return [final[len(streamed):]] if final != streamed else []
    return [f"\n\n{FINAL_HEADING}\n{final}"]
