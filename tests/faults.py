"""Helpers for the fault tests: what must survive every fault, checked the same way."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from qa.cli import cli

QUESTION = "Who was killed by a car bomb in Balashikha?"
ANSWER = "Moskalik"


def run_cli(*args: str | Path) -> Result:
    """`qa ARGS...` in process (typed errors come back as `result.exception`)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_old_data_answers(index_dir: Path, articles: int) -> None:
    """The index holds `articles` articles and still answers the seed question from them
    (judged by the passages retrieved, so that it holds whatever the reader decides)."""
    from qa import QA

    qa = QA(index_dir=index_dir)
    assert qa.stats["articles"] == articles
    assert qa.answer(QUESTION).question == QUESTION
    assert any(ANSWER in p.chunk.text for p in qa.retrieve(QUESTION, k=3))
