"""Shared, expensive fixtures: one built seed index and one QA over it per test session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.paths import SEEDS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# a fresh cache per session, so the ONNX export of the model is exercised on every run
os.environ["QA_CACHE_DIR"] = tempfile.mkdtemp(prefix="article-qa-cache-")
atexit.register(shutil.rmtree, os.environ["QA_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the two seed articles, built once with the real model and real FAISS.
    Tests must not modify it: copy it with `index_copy` first."""
    from qa.index import build_index

    from qa.core.settings import Settings

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index([SEEDS], Settings.from_env(index_dir=index_dir))
    return index_dir


@pytest.fixture
def index_copy(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the seed index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


@pytest.fixture(scope="session")
def seed_qa(seed_index: Path):
    from qa import QA

    return QA(index_dir=seed_index)
