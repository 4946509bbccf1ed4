"""Question + passage pairs as model inputs, identical for training and answering.

A pair is `[CLS] question [SEP] passage [SEP]`. The reader marks an answer by its start and
end token inside the passage, or points both at `[CLS]` (position 0) when the passage holds
no answer. `PairBatch.offsets` maps each token back to characters of its passage, so a
predicted span is an exact slice of the article."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

__all__ = ["MAX_QUESTION_TOKENS", "PairBatch", "encode_pairs", "load_tokenizer"]

#: questions longer than this are cut (from the end) so that the passage keeps its room.
MAX_QUESTION_TOKENS = 48


@dataclass
class PairBatch:
    """Padded model inputs for a batch of pairs, and where each passage token came from."""

    input_ids: np.ndarray  # int64 [batch, length]
    attention_mask: np.ndarray  # int64 [batch, length]
    token_type_ids: np.ndarray  # int64 [batch, length]
    #: 1 where a token belongs to the passage (the only places an answer may start or end).
    passage_mask: np.ndarray  # bool [batch, length]
    #: (start, end) character offsets of each token in its passage; (0, 0) elsewhere.
    offsets: np.ndarray  # int64 [batch, length, 2]

    def inputs(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask,
                "token_type_ids": self.token_type_ids}


def load_tokenizer(path: str) -> Tokenizer:
    """The reader's fast tokenizer (a `tokenizer.json`), with truncation and padding off:
    `encode_pairs` does both."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def encode_pairs(tokenizer: Tokenizer, questions: Sequence[str], passages: Sequence[str],
                 max_length: int, pad_to: int = 1) -> PairBatch:
    """Encode `(questions[i], passages[i])` pairs, each cut to `max_length` tokens: the
    question to `MAX_QUESTION_TOKENS`, then the passage from its end. The batch is padded to
    its longest pair, rounded up to a multiple of `pad_to` (but not past `max_length`);
    padding is masked from attention but has start/end scores like any position."""
    import numpy as np

    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    rows = []
    for question, passage in zip(questions, passages):
        q = tokenizer.encode(question, add_special_tokens=False)
        p = tokenizer.encode(passage, add_special_tokens=False)
        q_ids = q.ids[:MAX_QUESTION_TOKENS]
        room = max_length - len(q_ids) - 3
        p_ids, p_offsets = p.ids[:room], p.offsets[:room]
        ids = [cls_id, *q_ids, sep_id, *p_ids, sep_id]
        first = len(q_ids) + 2
        rows.append((ids, first, p_offsets))
    longest = max(len(ids) for ids, _, _ in rows)
    step = max(pad_to, 1)
    length = max(longest, min(max_length, -(-longest // step) * step))
    batch = len(rows)
    input_ids = np.zeros((batch, length), dtype=np.int64)
    attention = np.zeros((batch, length), dtype=np.int64)
    types = np.zeros((batch, length), dtype=np.int64)
    passage_mask = np.zeros((batch, length), dtype=bool)
    offsets = np.zeros((batch, length, 2), dtype=np.int64)
    for row, (ids, first, p_offsets) in enumerate(rows):
        n = len(ids)
        input_ids[row, :n] = ids
        attention[row, :n] = 1
        types[row, first:n] = 1
        passage_mask[row, first:first + len(p_offsets)] = True
        if p_offsets:
            offsets[row, first:first + len(p_offsets)] = p_offsets
    return PairBatch(input_ids, attention, types, passage_mask, offsets)
