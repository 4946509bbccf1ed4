"""Benchmarks of article-qa against its baselines, run by hand as `python -m bench.<script>`
from the repository root (see bench/README.md); nothing here is imported by `tests/`."""

__all__: list[str] = []
