"""The write path: load, clean, chunk, embed and store articles in a FAISS index."""

from index.article import Article, Chunk
from index.build import BuildReport, build_index
from index.errors import (
    EmptyQuestionError,
    IndexDamagedError,
    IndexFallbackWarning,
    IndexMismatchError,
    IndexNotFoundError,
    InputError,
    NoArticlesError,
    QAError,
)
from index.settings import Settings
from index.store import StoredIndex, open_index

__all__ = [
    "Article",
    "BuildReport",
    "Chunk",
    "EmptyQuestionError",
    "IndexDamagedError",
    "IndexFallbackWarning",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InputError",
    "NoArticlesError",
    "QAError",
    "Settings",
    "StoredIndex",
    "build_index",
    "open_index",
]
