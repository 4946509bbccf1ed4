"""BM25: the lexical half of retrieval (its terms come from `qa.core.text.tokenize`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.core.text import tokenize

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BM25"]


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
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths[rows_a] / max(avg, 1e-9))
        weights = idf[cols_a] * tf * (k1 + 1) / (tf + norm)
        self.matrix = sparse.csc_matrix((weights, (rows_a, cols_a)),
                                        shape=(n, len(self.vocabulary)), dtype=np.float32)
        self.size = n

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every document for a query (text or tokens)."""
        import numpy as np

        terms = tokenize(query) if isinstance(query, str) else list(query)
        columns = [self.vocabulary[t] for t in set(terms) if t in self.vocabulary]
        if not columns:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.matrix[:, columns].sum(axis=1)).ravel()
