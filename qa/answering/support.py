"""Whether a passage backs a claim: the share of the claim's new words (and all of its names
and numbers) found in the passage, averaged with an embedding similarity when an embedder is
at hand; and the passage's sentences that back it best."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qa.core.records import Passage
from qa.core.text import NAME_OR_NUMBER, STOPWORDS, content_words, fold, stem

__all__ = [
    "AUTO_CITE_THRESHOLD",
    "LEXICAL_SUPPORT_THRESHOLD",
    "SUPPORT_THRESHOLD",
    "Similarity",
    "Support",
    "claim_terms",
    "coverage",
    "support_score",
]

# Thresholds calibrated on 400 NewsQA dev questions (seed 0): a claim made of a question and
# its gold answer, scored against the chunk holding the answer (backed) and against another
# chunk of the same article, a chunk of another article, and the question with another
# question's answer against the gold chunk (not backed). With embeddings (score = mean of
# lexical coverage and cosine), 0.45 keeps 99.5% of backed claims and passes 0.5% of wrong
# answers and 1.0% of other articles' chunks (11% of same-article chunks, many of which repeat
# the answer). Lexical coverage alone, 0.5: 99.5% kept, 1.0% and 1.5% passed (10%).
# (Calibrated with the support check's own tokenizer, before it became `qa.core.text`'s.)
SUPPORT_THRESHOLD = 0.45
LEXICAL_SUPPORT_THRESHOLD = 0.5
#: a sentence with no citation gets one only when a passage backs it this well (97-99% of
#: backed claims, under 0.5% of unbacked ones).
AUTO_CITE_THRESHOLD = 0.6


@dataclass
class Support:
    """How well one passage backs one claim."""

    score: float
    #: the best-backing sentence(s) of the passage, as offsets into the article text.
    start: int
    end: int
    #: the calibrated threshold for this kind of score (with or without embeddings).
    threshold: float = LEXICAL_SUPPORT_THRESHOLD
    #: every name and number of the claim is in the passage.
    names_ok: bool = True

    @property
    def backed(self) -> bool:
        return self.names_ok and self.score >= self.threshold


def coverage(claim: set[str], passage: set[str]) -> float:
    """The share of the claim's terms found in the passage's."""
    return len(claim & passage) / len(claim) if claim else 0.0


def claim_terms(claim: str, question: str) -> set[str]:
    """The claim's content words beyond the question's: the part that needs backing."""
    words = content_words(claim)
    new = words - content_words(question)
    return new if new else words


def _names(claim: str, question: str) -> set[str]:
    """Names and numbers in the claim that the question does not hold: the facts a weak
    model most often makes up ("Bashkalev was killed…")."""
    asked = fold(question)
    out = set()
    for raw in NAME_OR_NUMBER.findall(claim):
        low = fold(raw).removesuffix("'s")
        if low in STOPWORDS or low in asked:
            continue
        out.add(low)
    return out


def _name_coverage(names: set[str], chunk_text: str) -> float:
    if not names:
        return 1.0
    text = fold(chunk_text)
    words = content_words(chunk_text)
    found = sum(1 for n in names if n in text or stem(n) in words)
    return found / len(names)


def _best_span(terms: set[str], passage: Passage) -> tuple[int, int]:
    chunk, text = passage.chunk, passage.article.text
    spans = [s for s in chunk.sentences if chunk.start <= s[0] < s[1] <= chunk.end]
    if not spans:
        return chunk.start, chunk.end
    words = [content_words(text[a:b]) for a, b in spans]
    scores = [coverage(terms, w) for w in words]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    start, end = spans[best]
    for other in (best - 1, best + 1):
        if 0 <= other < len(spans):
            joined = coverage(terms, words[best] | words[other])
            if joined >= scores[best] + 0.2:
                start, end = min(start, spans[other][0]), max(end, spans[other][1])
                break
    return start, end


#: where a sentence joins one clause to another; each joined clause of three content words or
#: more must find more than this share of them in the passage, however well the rest matches
#: (a paraphrase keeps some: "after the device was hidden inside his vehicle").
_CLAUSE_BREAK = re.compile(r"(?i),\s+(?:and|but|while|whereas|although|after|before|because|"
                           r"who|which)\s+|;\s+")
CLAUSE_SUPPORT = 0.2
#: a word that turns a statement into its denial.
_NEGATION = re.compile(r"(?i)\b(?:not|no(?!\.\s*\d)|never|neither|nor|none|nobody|nothing|"
                       r"without)\b|n['’]t\b")


def support_score(claim: str, passage: Passage, question: str = "", *,
                  cosine: float | None = None) -> Support:
    """How well `passage` backs `claim` (0..1), and the span of its best-backing sentences.

    The lexical part is the share of the claim's content words (minus those of the
    question, which any retrieved passage shares) found in the chunk, times the share of its
    names and numbers found there (a claim is backed only when all of them are); with an
    embedding `cosine` between claim and chunk the score is the mean of the two. The span is
    the chunk sentence (or two adjacent sentences) covering most of those words, as offsets
    into the article text.
    """
    chunk = passage.chunk
    terms = claim_terms(claim, question)
    held = content_words(chunk.text)
    lexical = coverage(terms, held)
    if any(len(new := claim_terms(part, question)) >= 3 and coverage(new, held) < CLAUSE_SUPPORT
           for part in _CLAUSE_BREAK.split(claim)[1:]):  # (none of its words: < 0.2 of 3+)
        lexical = 0.0  # a made-up clause joined to a copied one (", and he planned to ...")
    # A name or number the chunk does not hold is a made-up fact, however much else matches.
    names = _name_coverage(_names(claim, question), chunk.text)
    lexical *= names
    start, end = _best_span(terms, passage)
    if _NEGATION.search(claim) and not _NEGATION.search(chunk.text):
        lexical = 0.0  # "Moskalik was not killed [1]": the words match, the sense does not
    score = lexical if cosine is None else 0.5 * lexical + 0.5 * max(0.0, cosine)
    return Support(score=score, start=start, end=end, names_ok=names >= 1.0,
                   threshold=LEXICAL_SUPPORT_THRESHOLD if cosine is None else SUPPORT_THRESHOLD)


class Similarity:
    """Embedding similarity between claims and chunks (None without an embedder: the check
    is then lexical). `embedder` is a `qa.index.embed.Embedder` or the query model."""

    def __init__(self, embedder: Any = None) -> None:
        self.embedder = embedder
        self.cache: dict[str, Any] = {}

    def __call__(self, claim: str, passage: Passage) -> float | None:
        if self.embedder is None:
            return None
        missing = [t for t in (claim, passage.chunk.text) if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.embedder.embed(missing), strict=True):
                self.cache[t] = v
        return float(self.cache[claim] @ self.cache[passage.chunk.text])
