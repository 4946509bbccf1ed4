"""Words and BM25: the lexical half of retrieval, and term weights for answer extraction."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BM25", "STOPWORDS", "tokenize"]

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom whose why will with would you your yours yourself yourselves also said says say
told according one s t did does done get got many much
""".split())  # noqa: SIM905 (a word list reads better as text)

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def _fold(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _stem(word: str) -> str:
    word = word.removesuffix("'s").replace(".", "").replace("'", "")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, accent-folded, lightly stemmed words (stopwords dropped by default)."""
    words = (_stem(w) for w in _WORD.findall(_fold(text)))
    return [w for w in words if w and (keep_stopwords or w not in STOPWORDS)]


class BM25:
    """Okapi BM25 over a fixed list of documents, as a sparse term-weight matrix."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        import numpy as np
        from scipy import sparse

        self.vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(documents), dtype=np.float32)
        for row, document in enumerate(documents):
            terms = Counter(tokenize(document))
            lengths[row] = sum(terms.values())
            for term, count in terms.items():
                rows.append(row)
                cols.append(self.vocabulary.setdefault(term, len(self.vocabulary)))
                counts.append(count)
        n = len(documents)
        tf = np.asarray(counts, dtype=np.float32)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        df = np.bincount(cols_a, minlength=len(self.vocabulary)).astype(np.float32)
        self.idf_values = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        #: idf of a word never seen in the corpus (rarer than any seen word).
        self.unseen_idf = float(math.log(1 + (n + 0.5) / 0.5))
        avg = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths[rows_a] / max(avg, 1e-9))
        weights = self.idf_values[cols_a] * tf * (k1 + 1) / (tf + norm)
        self.matrix = sparse.csc_matrix((weights, (rows_a, cols_a)),
                                        shape=(n, len(self.vocabulary)), dtype=np.float32)
        self.size = n

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (tokenized) term; unseen terms get the maximum."""
        column = self.vocabulary.get(term)
        return self.unseen_idf if column is None else float(self.idf_values[column])

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every document for a query (text or tokens)."""
        import numpy as np

        terms = tokenize(query) if isinstance(query, str) else list(query)
        columns = [self.vocabulary[t] for t in set(terms) if t in self.vocabulary]
        if not columns:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.matrix[:, columns].sum(axis=1)).ravel()
