"""Helpers for the fault tests: what must survive every fault, checked the same way."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
from collections.abc import Callable, Iterator
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
    assert qa.stats.articles == articles
    assert qa.answer(QUESTION).question == QUESTION
    assert any(ANSWER in p.chunk.text for p in qa.retrieve(QUESTION, k=3))


#: four one-line articles: (title, text, a question only that text answers).
FEED = [("Dam opens", "The new dam opened on Tuesday in Kariba, three years late.",
         "When did the Kariba dam open?"),
        ("Bridge closes", "The old Limpopo bridge closed for repairs on Monday.",
         "Which bridge closed for repairs?"),
        ("Mine floods", "Water flooded the Tarkwa gold mine after heavy rain.",
         "Which gold mine flooded?"),
        ("Port expands", "The port of Walvis Bay added two new berths this spring.",
         "How many berths did Walvis Bay add?")]


def assert_moved_articles_are_kept(folder: Path, index: Callable[[list[Path]], object],
                                   open_qa: Callable[[], object]) -> None:
    """Records that shift within a JSONL file, a copy of an indexed file put beside it, and a
    record moved to a file of another folder keep every article: each is found by its
    question, under the place that now holds it. `index(paths)` indexes `paths` into the
    store under test (as one writer, or the writer of one shard); `open_qa()` reads it."""

    def write(*items: tuple[str, str, str]) -> None:
        feed.write_text("".join(json.dumps({"title": t, "text": x}) + "\n" for t, x, _ in items))

    def assert_holds(*items: tuple[str, str, str]) -> None:
        qa = open_qa()
        assert qa.stats.articles == len(items) + 1
        for line, (title, _, question) in enumerate(items, 1):
            best = qa.retrieve(question, k=1)[0].article
            assert (best.title, best.path) == (title, f"{feed}#{line}")

    folder = folder.resolve()
    feed = folder / "feed.jsonl"
    (folder / "notes.txt").write_text("Council meets\n\nThe town council met on Friday.")
    write(*FEED[:3])
    added = [f"{feed}#1", f"{feed}#2", f"{feed}#3", f"{folder}/notes.txt"]
    assert sorted(index([folder]).added) == added
    write(*FEED[1:3])  # the first record deleted: the others move up a line
    report = index([folder])
    assert (report.added, report.updated, report.removed) == ([], [], [f"{feed}#1"])
    assert_holds(*FEED[1:3])
    write(FEED[3], *FEED[1:3])  # a record put first: the others move down a line
    report = index([folder])
    assert (report.added, report.updated, report.removed) == ([f"{feed}#1"], [], [])
    assert_holds(FEED[3], *FEED[1:3])
    shutil.copy(folder / "notes.txt", folder / "a-copy.txt")  # read before the original
    report = index([folder])
    assert any(n.action == "duplicate" for n in report.notices) and not report.removed
    assert_holds(FEED[3], *FEED[1:3])
    assert "council" in open_qa().retrieve("When did the council meet?", k=1)[0].chunk.text
    # a record moved to another folder's file (another shard's), that folder indexed first
    other = folder.parent / f"{folder.name}-other"
    other.mkdir()
    (other / "moved.jsonl").write_text(json.dumps(dict(zip(("title", "text"), FEED[1]))))
    write(FEED[3], FEED[2])
    report = index([other])
    assert report.unchanged == [f"{other}/moved.jsonl"] and not report.notices
    assert index([folder]).removed == []
    qa = open_qa()
    best = qa.retrieve(FEED[1][2], k=1)[0].article
    assert (best.title, best.path, qa.stats.articles) == (FEED[1][0], f"{other}/moved.jsonl", 4)


def assert_a_copy_keeps_its_article(base: Path, index: Callable[[list[Path]], object],
                                    open_qa: Callable[[], object]) -> None:
    """An article stored once though two folders hold it stays while either still does: when
    the file it is stored from comes to hold another article, it is kept from the other
    folder's copy (a record of a JSONL feed, wherever the record is now); when that copy goes
    too, it goes. `index`, `open_qa`: as in `assert_moved_articles_are_kept`."""
    first, second = base / "inbox", base / "archive"
    for folder in (first, second):
        folder.mkdir()
    bridge = {"title": "Tolm bridge reopens",
              "text": "The Tolm bridge reopened in May after two years of repairs."}
    harbour = {"title": "Harbour dredged", "text": "The harbour of Welk was dredged in June."}
    (first / "bridge.txt").write_text(f"{bridge['title']}\n\n{bridge['text']}")
    (first / "ferry.txt").write_text("Ferry strike\n\nFerry crews in Piraeus struck for 48 "
                                     "hours on Tuesday over pay.")
    feed = (second / "feed.jsonl").resolve()
    feed.write_text(json.dumps(harbour) + "\n" + json.dumps(bridge) + "\n")
    index([first])
    assert index([second]).copies  # recorded, though stored once

    def stored_from(question: str) -> str:
        return open_qa().retrieve(question, k=1)[0].article.path

    feed.write_text(json.dumps(bridge) + "\n" + json.dumps(harbour) + "\n")  # not indexed
    (first / "bridge.txt").write_text("Mine floods\n\nThe Kettle Bay mine flooded on Sunday.")
    report = index([first])
    assert report.removed == [] and any(n.action == "kept" for n in report.notices)
    assert stored_from("When did the Tolm bridge reopen?") == f"{feed}#1"
    assert stored_from("When did the Kettle Bay mine flood?").endswith("bridge.txt")
    feed.write_text(json.dumps(harbour) + "\n")  # the last copy: now it goes
    assert len(index([second]).removed) == 1
    assert "Tolm" not in open_qa().retrieve("When did the Tolm bridge reopen?", k=1)[0].chunk.text
    # copies found by the build that first stores their article are recorded too
    third, fourth = base / "desk", base / "backup"
    for folder in (third, fourth):
        folder.mkdir()
        (folder / "quay.txt").write_text("Quay collapses\n\nThe north quay of Welk collapsed "
                                         "into the sea on Friday night.")
    assert index([third, fourth]).copies
    (third / "quay.txt").unlink()
    assert index([third]).removed == []  # once: removed, though the backup holds it
    assert stored_from("Which quay collapsed into the sea?") == str(
        (fourth / "quay.txt").resolve())


def watching(folder: Path, qa: object) -> tuple[object, list[str], Callable[[str], str]]:
    """A `FolderWatcher` of `folder` indexing into `qa` (looking every 0.3 s), the messages
    it gives, and `wait_for(text)`: waits up to a minute for a message holding `text`, then
    returns them all. Stop the watcher afterwards."""
    import time

    from qa.index.watch import FolderWatcher

    messages: list[str] = []
    watcher = FolderWatcher([folder], 0.3).start(qa.add_files, messages.append)

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 60
        while not any(text in m for m in messages) and time.monotonic() < deadline:
            time.sleep(0.1)
        return "\n".join(messages)

    return watcher, messages, wait_for


@contextlib.contextmanager
def finishes_within(seconds: int) -> Iterator[None]:
    """Fail the test if the block runs longer than `seconds`: for inputs whose cost must stay
    linear, sized so that a quadratic version would run for many minutes (not a speed goal:
    those are measured in bench/)."""
    def stop(*_: object) -> None:
        raise AssertionError(f"still running after {seconds} s: the cost is not linear")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
