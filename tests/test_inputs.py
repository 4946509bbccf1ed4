"""Bad and hostile input through the Python API and the CLI (issue 11, items 1 and 9): every
public parameter is checked before any work, with a typed error that names it; questions are
cleaned; history is bounded; and nothing is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from qa import EmptyQuestionError, InputError, QAError, QuestionTooLongError
from qa.core.errors import ConfigWarning
from qa.core.settings import Settings
from tests.faults import QUESTION, assert_old_data_answers, run_cli
from tests.paths import GUARDIAN, SEEDS

HOSTILE = [("Who was killed?", "Yaroslav Moskalik " * 120_000)]  # 2.2 MB, as in the issue


def test_a_hostile_history_is_refused_at_once_with_flat_memory(seed_qa, seed_index) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"history: message 2 .* at most 20,000"):
        seed_qa.answer("How old was he?", history=HOSTILE)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 0.5 and peak < 1_000_000, (seconds, peak)  # no copy of the 2 MB made
    many = [{"role": "user", "content": "Who was killed?"},
            {"role": "assistant", "content": "x " * 9_000}] * 500  # 9 MB, 1,000 messages
    with pytest.raises(InputError, match="at most 100,000 together"):
        seed_qa.answer("How old was he?", history=many)
    # a long conversation: only its last turns are used
    turns = [("What is the weather?", "The articles don't say.")] * 1000
    turns.append((QUESTION, "Yaroslav Moskalik was killed by a car bomb."))
    follow = seed_qa.answer("How old was he?", history=turns)
    assert follow.standalone_question == "How old was Yaroslav Moskalik?"
    assert_old_data_answers(seed_index, 2)


def test_the_rewritten_question_is_bounded(seed_qa) -> None:
    long_question = "Who attended the talks about the war in Ukraine " + "and more " * 1500
    answer = seed_qa.answer("Where was it?", history=[(long_question, "In Moscow.")])
    assert answer.standalone_question.startswith("Where was it? (Who attended")
    assert len(answer.standalone_question) <= Settings.max_question_chars


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 2.5}, "k must be a whole number from 1 to 50, not 2.5"),
    ({"k": "3"}, "k must be a whole number from 1 to 50, not '3'"),
    ({"k": 0}, "k must be a whole number from 1 to 50, not 0"),
    ({"k": -2}, "k must be a whole number"),
    ({"k": 51}, "k must be a whole number"),
    ({"k": True}, "k must be a whole number"),
    ({"mode": "bogus"}, "mode must be one of extractive, llm, not 'bogus'"),
    ({"sources": "Guardian"}, r"sources: no indexed article is from 'Guardian' \(did you mean "
                              r"'The Guardian - UK'\?\); use a publisher \(The Guardian - UK, "
                              r"The Independent UK\)"),
    ({"sources": 7}, "sources must be a publisher or file name, or a list"),
    ({"sources": [""]}, "sources: each must be a publisher or file name"),
    ({"since": "2025-13-01"}, "since must be a date as YYYY-MM-DD, not '2025-13-01'"),
    ({"until": 20250401}, "until must be a date as YYYY-MM-DD, not 20250401"),
    ({"since": "2025-05-01", "until": "2025-04-01"}, r"since \(2025-05-01\) is after until"),
    ({"history": "Who was killed?"}, "history must be a list of earlier turns"),
])
def test_bad_parameters_raise_input_error_naming_them(seed_qa, seed_index, kwargs,
                                                      message) -> None:
    with pytest.raises(InputError, match=message):
        seed_qa.answer(QUESTION, **kwargs)
    if set(kwargs) <= {"k", "sources", "since", "until"}:
        with pytest.raises(InputError, match=message):
            seed_qa.retrieve(QUESTION, **kwargs)
    assert_old_data_answers(seed_index, 2)


def test_odd_but_meaningful_arguments_are_taken(seed_qa) -> None:
    from datetime import date, datetime

    dated = seed_qa.answer(QUESTION, since=datetime(2000, 1, 1, 9, 30), until=date(2100, 1, 1))
    same = seed_qa.answer(QUESTION, since="2000-01-01", until="2100-01-01")
    assert dated.text == same.text  # a datetime is its date here, not a TypeError
    parts = [{"role": "user", "content": [{"type": "text", "text": None}, {"text": 5},
                                          {"type": "text", "text": "Who was killed?"}]}]
    assert "Moskalik" in seed_qa.answer(QUESTION, history=parts).text
    broken = [("Who was killed by a car bomb \udcff in Balashikha?", "Moskalik [1].")]
    assert seed_qa.answer("How old was he?", history=broken).question == "How old was he?"
    chain = seed_qa.as_chain()
    assert "Moskalik" in chain.invoke({"question": QUESTION}).text
    for request in ({"q": QUESTION}, None, 7):
        with pytest.raises(InputError, match="the chain takes a question"):
            chain.invoke(request)


def test_folder_settings_that_cannot_be_folders_are_typed_errors() -> None:
    for changes, message in (({"index_dir": "~nosuchuser/idx"}, "a user this machine does "
                              "not have"), ({"index_dir": None}, "must be a folder path"),
                             ({"reader_dir": 5}, "must be a folder path")):
        with pytest.raises(InputError, match=message):
            Settings(**changes)
    with pytest.raises(InputError, match="nosuchuser"):
        Settings.from_env({"QA_INDEX_DIR": "~nosuchuser/idx"})
    from pathlib import PurePosixPath

    assert Settings(index_dir=PurePosixPath("/tmp/x")).index_dir == Path("/tmp/x")  # PathLike


def test_one_source_name_is_a_one_item_list(seed_qa) -> None:
    answer = seed_qa.answer(QUESTION, sources="The Guardian - UK")
    assert {c.article.name for c in [*answer.citations, *answer.related]} == {GUARDIAN}
    passages = seed_qa.retrieve(QUESTION, k=3, sources=GUARDIAN)
    assert passages and {p.article.name for p in passages} == {GUARDIAN}


def test_a_file_name_is_found_however_its_accents_are_written_or_its_folder_given(
        tmp_path: Path) -> None:
    import unicodedata

    from qa import QA

    folder = tmp_path / "news" / "sub dir"
    folder.mkdir(parents=True)
    stored = unicodedata.normalize("NFD", "Réunion conseil.txt")  # as macOS names files
    (folder / stored).write_text("Council meets\n\nThe council of Tolm met on Monday and "
                                 "voted to close the pier for repairs.", encoding="utf-8")
    qa = QA.build(tmp_path / "news", tmp_path / "index")
    for typed in ("Réunion conseil.txt", "sub dir/Réunion conseil.txt", stored):
        answer = qa.answer("What did the council vote for?", sources=typed)
        assert "close the pier" in answer.text, typed  # once: "no indexed article is from"


@pytest.mark.parametrize("question", [
    "Who was killed by a car bomb in Bala\u202eshikha?",      # right-to-left override
    "\u2066Who was killed by a car bomb in Balashikha?\u2069",  # isolate
    "Who was\u200f killed by a car\u200b bomb in Balashikha?",  # RLM, zero-width space
    "Who was killed by a car bomb in Balashikha?\ud800",       # lone surrogate
    "Who was killed by a car bomb \udcff\udcfein Balashikha?",  # invalid UTF-8 (from argv)
])
def test_invisible_and_broken_characters_are_cleaned(seed_qa, question: str) -> None:
    answer, clean = seed_qa.answer(question), seed_qa.answer(QUESTION)
    assert answer.question == QUESTION
    assert (answer.text, answer.citations) == (clean.text, clean.citations)


@pytest.mark.parametrize(("question", "error"), [
    (b"Who was killed?", InputError), (None, InputError), (["Who?"], InputError),
    ("\u202e\u2066\ufeff", EmptyQuestionError), (" " * 2001 + "Who?", QuestionTooLongError)])
def test_questions_that_are_not_text_are_typed_errors(seed_qa, question, error) -> None:
    with pytest.raises(error):
        seed_qa.answer(question)


def test_environment_is_checked_and_unknown_names_are_warned_about() -> None:
    with pytest.raises(InputError, match="QA_MAX_FILE_MB must be a number of megabytes"):
        Settings.from_env({"QA_MAX_FILE_MB": "abc"})
    for bad in ("0", "-3", "nan", "inf", "5000", "1e-9"):
        with pytest.raises(InputError, match="QA_MAX_FILE_MB"):
            Settings.from_env({"QA_MAX_FILE_MB": bad})
    assert Settings.from_env({"QA_MAX_FILE_MB": "0.5"}).max_file_bytes == 512 * 1024
    assert Settings.from_env({"QA_MAX_UPLOADS_MB": "50"}).max_uploads_bytes == 50 << 20
    with pytest.raises(InputError, match="QA_MAX_UPLOADS_MB must be at least one byte"):
        Settings.from_env({"QA_MAX_UPLOADS_MB": "1e-9"})
    with pytest.raises(InputError, match="QA_MAX_UPLOADS_MB must be a number of megabytes "
                                         r"above 0 and at most 100000 \(e.g. 200\)"):
        Settings.from_env({"QA_MAX_UPLOADS_MB": "-1"})
    for bad in ("0", "soon", "9000"):
        with pytest.raises(InputError, match="QA_LOGIN_HOURS must be a number of hours"):
            Settings.from_env({"QA_LOGIN_HOURS": bad})
    assert Settings.from_env({"QA_LOGIN_HOURS": "0.5"}).login_seconds == 1800
    for bad in ("-1", "lots", "1e3", "20000000"):
        with pytest.raises(InputError, match="QA_READER_CACHE must be a whole number"):
            Settings.from_env({"QA_READER_CACHE": bad})
    assert Settings.from_env({"QA_READER_CACHE": "0"}).reader_cache_pairs == 0
    with pytest.warns(ConfigWarning, match="QA_INDEX is not an article-qa setting.*did you "
                                           "mean QA_INDEX_DIR"):
        Settings.from_env({"QA_INDEX": "/tmp/x"})
    with pytest.raises(InputError, match=r"Settings\.k must be a whole number >= 1, not 0"):
        Settings(k=0)


def test_cli_reports_bad_settings_and_arguments_in_one_line(seed_index: Path,
                                                            tmp_path: Path) -> None:
    env = {**os.environ, "QA_INDEX": str(seed_index), "QA_MAX_FILE_MB": "abc"}
    result = subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--index-dir",
                             str(seed_index)], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Warning: QA_INDEX is not an article-qa setting and is ignored; did you mean "
        "QA_INDEX_DIR? known: QA_INDEX_DIR, QA_CACHE_DIR, QA_MODEL, QA_STORE, QA_MAX_FILE_MB, "
        "QA_MAX_UPLOADS_MB, QA_AUTH, QA_LOGIN_HOURS, QA_READER_CACHE.",
        "Error: QA_MAX_FILE_MB must be a number of megabytes above 0 and at most 1024 (e.g. 5),"
        " not 'abc'."]
    for args, message in [(["-k", "0"], "k must be a whole number"),
                          (["--since", "2025-02-30"], "since must be a date"),
                          (["--source", "Guardian"], "sources: no indexed article")]:
        refused = run_cli("ask", QUESTION, "--index-dir", seed_index, *args)
        assert isinstance(refused.exception, InputError), refused.output
        assert message in str(refused.exception)
    ok = run_cli("ask", QUESTION, "--index-dir", seed_index, "--source", "The Guardian - UK")
    assert ok.exit_code == 0 and "The Guardian - UK" in ok.stdout
    negative = run_cli("index", tmp_path, "--max-file-mb", "-1")
    assert "--max-file-mb must be a number of megabytes" in str(negative.exception)
    assert_old_data_answers(seed_index, 2)


def test_serve_takes_its_login_from_qa_auth_and_warns_about_auth_on_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.cli import _logins

    empty = tmp_path / "no-index"

    def serve(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "qa", "serve", "--index-dir", str(empty),
                               *args], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=120)

    bad = serve(QA_AUTH=":s3cret")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "Invalid value for QA_AUTH: auth needs a non-empty user and password" in bad.stderr
    assert "s3cret" not in bad.stderr
    shown = serve("--auth", "alice:s3cret")  # no index here: stops before serving
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert shown.stderr.splitlines()[0] == (
        "Warning: --auth shows the password to every user of this machine (ps); use QA_AUTH "
        "or --auth-file.")
    assert "No article index" in shown.stderr
    monkeypatch.setenv("QA_AUTH", "alice:s3cret")
    assert _logins(None, None) == [("alice", "s3cret")]


def test_an_unknown_publisher_gets_the_closest_names_and_a_count_of_the_rest(
        tmp_path: Path) -> None:
    import json

    from qa.index import build_index

    from qa import QA

    papers = [f"Paper {name}" for name in "ABCDEFGHIJKL"] + ["Daily Ledger"]
    (tmp_path / "feed.jsonl").write_text("".join(
        json.dumps({"title": f"Story {i}", "source": paper,
                    "body": f"The harbour of town {i} reopened on Monday."}) + "\n"
        for i, paper in enumerate(papers)))
    settings = Settings.from_env(index_dir=tmp_path / "index")
    build_index([tmp_path / "feed.jsonl"], settings)
    with pytest.raises(InputError) as caught:
        QA(settings=settings).answer("When did the harbour reopen?", sources="Daily Ledgr")
    assert str(caught.value) == (
        "sources: no indexed article is from 'Daily Ledgr' (did you mean 'Daily Ledger'?); "
        "use a publisher (Daily Ledger, Paper A, Paper B, Paper C, Paper D, Paper E, Paper F, "
        "Paper G, Paper H, Paper I and 3 more) or an article's file name.")


def test_an_index_directory_asked_for_beats_qa_store_and_both_given_is_refused(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qa.cli import cli

    elsewhere = "postgresql://newsroom@127.0.0.1:1/shared"  # never reached: nothing listens
    result = CliRunner().invoke(cli, ["index", str(SEEDS), "--index-dir", str(tmp_path / "ix")],
                                env={"QA_STORE": elsewhere})
    assert result.exit_code == 0, result.output
    assert f"index: {tmp_path / 'ix'}" in result.stdout and "store:" not in result.stdout
    with pytest.raises(InputError, match=r"either a PostgreSQL store .* or an index directory"):
        Settings.from_env({}, index_dir=tmp_path / "ix", store=elsewhere)
    with pytest.raises(InputError, match="QA_STORE must be a PostgreSQL URL"):
        Settings.from_env({"QA_STORE": "garbage"})
    assert Settings.from_env({"QA_STORE": "garbage"}, index_dir=tmp_path).store is None
    with pytest.warns(ConfigWarning, match="QA_STORE and QA_INDEX_DIR are both set"):
        both = Settings.from_env({"QA_STORE": elsewhere, "QA_INDEX_DIR": str(tmp_path / "ix")})
    assert both.store == elsewhere  # as before: the store of QA_STORE, now with a warning
    assert Settings.from_env({}, store="PostgreSQL://h/db").store == "PostgreSQL://h/db"
    check = CliRunner().invoke(cli, ["index", "--check"], env={"QA_STORE": elsewhere})
    assert check.exit_code == 2 and "--check verifies an index directory" in check.output


def test_an_empty_index_directory_option_is_refused_not_taken_for_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--index-dir ""` was read as "." and `qa index` wrote an index into the current
    folder."""
    from click.testing import CliRunner

    from qa.cli import cli

    monkeypatch.chdir(tmp_path)
    for command in (["index", str(SEEDS)], ["ask", "Who was killed?"]):
        result = CliRunner().invoke(cli, [*command, "--index-dir", ""])
        assert result.exit_code == 2 and "--index-dir': must be a folder path, not empty" \
            in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_of_the_python_api_are_typed_errors(seed_qa, seed_index,
                                                          tmp_path: Path) -> None:
    from qa import QA, LLMError, answer

    for kwargs, error, message in (
            ({"index_dir": Path(__file__)}, InputError, "is a file, not a folder"),
            ({"index_dir": "x\x00"}, InputError, "must be a folder path"),
            ({"settings": "x"}, InputError, "settings must be a qa.core.settings.Settings"),
            ({"index_dir": seed_index, "llm": "nonsense"}, LLMError, "Unknown --llm setting"),
            ({"index_dir": seed_index, "llm": 5}, LLMError, "not int")):
        with pytest.raises(error, match=message):
            QA(**kwargs)
    for paths in (None, [5], []):
        with pytest.raises(InputError, match="paths must be a file or folder path"):
            seed_qa.add_files(paths)
    for n in ("3", 0, -1, 2.5):
        with pytest.raises(InputError, match="n must be a whole number from 1 to 50"):
            seed_qa.example_questions(n)
    assert len(seed_qa.example_questions(2)) == 2
    # the module-level answer() takes the filters QA.answer takes
    filtered = answer(QUESTION, index_dir=seed_index, sources="The Guardian - UK")
    assert {c.article.name for c in filtered.citations} == {GUARDIAN}
    with pytest.raises(InputError, match="history: item 2 is neither a message"):
        seed_qa.answer("How old was he?", history=[("Who was killed?", "Moskalik."), [1, 2, 3]])
    for turn in [("Who was killed?", 5), {"role": "user", "content": 5}]:
        with pytest.raises(InputError, match="history: item 1 holds a 5, not text"):
            seed_qa.answer("How old was he?", history=[turn])
    with seed_qa.stream(QUESTION) as stream:  # left early: the stream is closed
        next(iter(stream))
    with pytest.raises(QAError, match="stopped before the answer was finished"):
        _ = stream.answer


def test_a_qa_is_built_from_a_folder_in_python(tmp_path: Path) -> None:
    from qa import QA

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "ferry.txt").write_text("Ferry strike\n\nFerry crews in Piraeus struck for 48 "
                                      "hours on Tuesday over pay, the seamen's union said.")
    qa = QA.build(folder, tmp_path / "index")
    assert qa.last_build is not None and qa.last_build.added == [str(folder / "ferry.txt")]
    assert "48 hours" in qa.answer("How long did the ferry crews strike?").text
    again = QA.build([folder], tmp_path / "index")  # an update: nothing new
    assert again.last_build.unchanged == [str(folder / "ferry.txt")]
    with pytest.raises(InputError, match="paths must be a file or folder path"):
        QA.build(None, tmp_path / "index")
    from qa import LLMError

    (folder / "more.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    with pytest.raises(LLMError, match="Unknown --llm setting"):
        QA.build(folder, tmp_path / "index", llm="nonsense")
    assert QA(index_dir=tmp_path / "index").stats.articles == 1  # refused before indexing


def test_numpy_whole_numbers_are_whole_numbers(seed_qa) -> None:
    import numpy as np

    assert seed_qa.answer(QUESTION, k=np.int64(3)).text == seed_qa.answer(QUESTION, k=3).text
    assert len(seed_qa.retrieve(QUESTION, np.int32(2))) == 2
    store = seed_qa.as_vectorstore()
    assert len(store.max_marginal_relevance_search(QUESTION, k=np.int64(2),
                                                   fetch_k=np.int64(4))) == 2
    assert len(seed_qa.example_questions(np.int8(2))) == 2
    with pytest.raises(InputError, match="k must be a whole number from 1 to 50, not "):
        seed_qa.answer(QUESTION, k=np.float64(3.0))
