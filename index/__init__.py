"""The write path: load, clean, chunk, embed and store articles in an index."""

from qa.index.build import BuildReport, build_index
from qa.index.store import StoredIndex, open_index

__all__ = ["BuildReport", "StoredIndex", "build_index", "open_index"]
