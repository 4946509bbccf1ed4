"""The index directory as a database (issue 11, items 3, 4, 5 and `qa index --check`): a
damaged pointer or file falls back to an intact generation with a warning, or fails with a
typed error naming `--rebuild`; nothing is deleted that a newer complete generation does not
hold; a reader racing the writer's cleanup reads `CURRENT` again."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from qa.index import build_index, open_index
from qa.index import store as store_module
from qa.index.generations import generations

from qa.core.errors import IndexDamagedError, IndexFallbackWarning, InputError
from qa.core.settings import Settings
from tests.faults import QUESTION, assert_old_data_answers, run_cli

FILES = ["articles.jsonl", "chunks.jsonl", "sentences.faiss", "manifest.json"]


@pytest.fixture(scope="module")
def two_generations(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed index (2 articles) plus a newer generation with a third article, from
    `extra/`. Copy it with `damaged_copy` before changing it."""
    base = tmp_path_factory.mktemp("two-generations")
    shutil.copytree(seed_index, base / "index")
    (base / "extra").mkdir()
    (base / "extra" / "harbour.txt").write_text("Harbour reopens\n\nThe harbour of Kelso "
                                                "reopened on Monday after repairs.")
    build_index([base / "extra"], Settings.from_env(index_dir=base / "index"))
    return base / "index"


@pytest.fixture
def damaged_copy(two_generations: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(two_generations, target)
    return target


def _current(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def _strip_checksums(index_dir: Path) -> None:
    """Make every generation look like one built before sizes and checksums were recorded."""
    for generation in generations(index_dir):
        manifest = json.loads((generation / "manifest.json").read_text())
        manifest.pop("files"), manifest.pop("sequence")
        (generation / "manifest.json").write_text(json.dumps(manifest))


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def test_garbage_current_falls_back_and_the_next_index_keeps_every_article(
        damaged_copy: Path, two_generations: Path) -> None:
    (damaged_copy / "CURRENT").write_text("\x00garbage\n")
    with pytest.warns(IndexFallbackWarning, match="CURRENT holds .*garbage.* newest intact"):
        asked = run_cli("ask", QUESTION, "--index-dir", damaged_copy)
    assert asked.exit_code == 0, asked.output
    check = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert check.exit_code == 1 and isinstance(check.exception, IndexDamagedError)
    assert "CURRENT holds" in str(check.exception) and "--rebuild" in str(check.exception)
    assert "CURRENT holds" in check.stdout

    # the data-loss path: following the advice must not delete the intact generation
    other = damaged_copy.parent / "other"
    other.mkdir()
    (other / "storm.txt").write_text("Storm\n\nA storm hit the coast of Fife on Sunday night.")
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", other, "--index-dir", damaged_copy)
    assert indexed.exit_code == 0, indexed.output
    assert "recovered: CURRENT holds" in indexed.stderr
    assert "index now holds 4 articles" in indexed.stdout
    assert run_cli("index", "--check", "--index-dir", damaged_copy).exit_code == 0
    assert_old_data_answers(damaged_copy, 4)


def test_current_as_a_folder_stops_a_build_before_it_writes(damaged_copy: Path,
                                                            tmp_path: Path) -> None:
    before = sorted(p.name for p in damaged_copy.iterdir())
    (damaged_copy / "CURRENT").unlink()
    (damaged_copy / "CURRENT").mkdir()
    indexed = run_cli("index", _one_article(tmp_path), "--index-dir", damaged_copy)
    assert indexed.exit_code == 1 and isinstance(indexed.exception, IndexDamagedError)
    assert "CURRENT is a folder" in str(indexed.exception)
    assert sorted(p.name for p in damaged_copy.iterdir()) == before  # no orphan generation
    (damaged_copy / "CURRENT").rmdir()
    with pytest.warns(IndexFallbackWarning, match="CURRENT is missing"):
        assert_old_data_answers(damaged_copy, 3)


def test_current_is_never_followed_out_of_the_index_directory(damaged_copy: Path,
                                                              tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    build_index([_one_article(tmp_path)], Settings.from_env(index_dir=elsewhere))
    outside = _current(elsewhere)
    for pointer in [f"../elsewhere/{outside.name}", str(outside)]:
        (damaged_copy / "CURRENT").write_text(pointer)
        with pytest.warns(IndexFallbackWarning, match="not the name of a generation"):
            assert len(open_index(damaged_copy).articles) == 3  # its own data, not the outside
    (damaged_copy / "gen-link").symlink_to(outside)
    (damaged_copy / "CURRENT").write_text("gen-link")
    with pytest.warns(IndexFallbackWarning, match="gen-link, a link"):
        assert len(open_index(damaged_copy).articles) == 3
    (damaged_copy / "CURRENT").unlink()
    (damaged_copy / "CURRENT").symlink_to(elsewhere / "CURRENT")
    with pytest.warns(IndexFallbackWarning, match="CURRENT is a link"):
        assert_old_data_answers(damaged_copy, 3)
    with pytest.warns(IndexFallbackWarning, match="CURRENT is a link"):  # the link is
        build_index([_one_article(tmp_path)], Settings.from_env(index_dir=damaged_copy))
    assert not (damaged_copy / "CURRENT").is_symlink()  # replaced, not written through
    assert (elsewhere / "CURRENT").read_text().strip() == outside.name
    assert_old_data_answers(damaged_copy, 4)

    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "gen-link").symlink_to(outside)
    (lone / "CURRENT").write_text("gen-link")
    asked = run_cli("ask", QUESTION, "--index-dir", lone)
    assert isinstance(asked.exception, IndexDamagedError)
    assert "no intact generation is left" in str(asked.exception)
    assert "qa index PATH... --rebuild" in str(asked.exception)
    assert outside.is_dir() and len(open_index(elsewhere).articles) == 1


def _one_article(tmp_path: Path) -> Path:
    path = tmp_path / "outside-article.txt"
    path.write_text("Outside\n\nThis article lives in another index entirely.")
    return path


@pytest.mark.parametrize("legacy", [False, True], ids=["checksums", "legacy"])
@pytest.mark.parametrize("how", ["truncated", "deleted"])
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_file_falls_back_or_fails_typed_and_loses_nothing(
        damaged_copy: Path, two_generations: Path, name: str, how: str, legacy: bool) -> None:
    if legacy:
        _strip_checksums(damaged_copy)
    current = _current(damaged_copy)
    _damage(current / name, how)
    with pytest.warns(IndexFallbackWarning, match=f"{current.name} is damaged.*newest intact"):
        assert_old_data_answers(damaged_copy, 2)  # the previous generation answers
    check = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert check.exit_code == 1, check.output
    assert f"{current.name} (current): damaged" in check.stdout and name in check.stdout
    assert "--rebuild" in str(check.exception)
    with pytest.warns(IndexFallbackWarning):  # re-indexing restores the newest article
        indexed = run_cli("index", two_generations.parent / "extra", "--index-dir",
                          damaged_copy)
    assert indexed.exit_code == 0, indexed.output
    assert_old_data_answers(damaged_copy, 3)
    assert run_cli("index", "--check", "--index-dir", damaged_copy).exit_code == 0


@pytest.mark.parametrize("tamper", ["record-not-an-object", "record-outside", "link",
                                    "no-model"])
def test_a_tampered_manifest_is_damage_not_a_traceback(damaged_copy: Path, tamper: str) -> None:
    manifest_path = _current(damaged_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if tamper == "link":
        manifest_path.unlink()
        manifest_path.symlink_to("/dev/zero")
    else:
        if tamper == "record-not-an-object":
            manifest["files"]["chunks.jsonl"] = 5
        elif tamper == "record-outside":
            manifest["files"]["../../../../etc/passwd"] = {"size": 1}
        else:
            del manifest["model"]
        manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(IndexFallbackWarning, match="manifest.json"):
        assert_old_data_answers(damaged_copy, 2)


def _same_size(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` (padded to its length) in `path`: the recorded size still holds,
    so only reading the file can find the change."""
    text = path.read_text()
    assert old in text and len(new) <= len(old)
    path.write_text(text.replace(old, new.ljust(len(old)), 1))


@pytest.mark.parametrize("tamper", ["huge-sequence", "deep-manifest", "null-byte-record",
                                    "chunk-a-number", "chunk-article-a-list"])
def test_a_generation_of_the_wrong_shape_is_damage_for_readers_and_writers(
        damaged_copy: Path, two_generations: Path, tamper: str) -> None:
    current = _current(damaged_copy)
    manifest = current / "manifest.json"
    chunks = current / "chunks.jsonl"
    article_id = json.loads(chunks.read_text().splitlines()[0])["article_id"]
    if tamper == "huge-sequence":  # only the writers' ordering reads it
        manifest.write_text(re.sub(r'"sequence": \d+', '"sequence": 1e999', manifest.read_text()))
    elif tamper == "deep-manifest":
        manifest.write_text("[" * 100_000)
    elif tamper == "null-byte-record":
        data = json.loads(manifest.read_text())
        data["files"]["a\u0000b"] = {"size": 1}
        manifest.write_text(json.dumps(data))
    elif tamper == "chunk-a-number":
        _same_size(chunks, chunks.read_text().splitlines()[0], "5")
    else:
        short = article_id[:-2]  # the list's brackets take the two characters
        _same_size(chunks, f'"article_id": "{article_id}"', f'"article_id": ["{short}"]')
    damaged = tamper != "huge-sequence"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_old_data_answers(damaged_copy, 3 if not damaged else 2)
    assert bool(caught) == damaged, [str(w.message) for w in caught]
    check = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert check.exit_code == int(damaged) and not isinstance(
        check.exception, (TypeError, ValueError, AttributeError, OverflowError, RecursionError))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IndexFallbackWarning)
        indexed = run_cli("index", two_generations.parent / "extra", "--index-dir", damaged_copy)
    assert indexed.exit_code == 0, indexed.output
    assert_old_data_answers(damaged_copy, 3)


def test_a_folder_of_other_things_is_never_written_as_an_index(tmp_path: Path,
                                                                two_generations: Path) -> None:
    notes = tmp_path / "notes"
    for folder in ("gen-ai", "gen-z", ".draft.partial"):
        (notes / folder).mkdir(parents=True)
        (notes / folder / "todo.md").write_text(f"{folder}: keep me")
    (notes / ".lock").write_text("mine")
    before = sorted(str(p.relative_to(notes)) for p in notes.rglob("*"))
    extra = two_generations.parent / "extra"
    for rebuild in ([], ["--rebuild"]):
        result = run_cli("index", extra, "--index-dir", notes, *rebuild)
        assert result.exit_code == 1 and isinstance(result.exception, InputError)
        assert f"{notes} is not an article index: it holds other things (.draft.partial, " \
               "gen-ai, gen-z)" in str(result.exception)
    for reading in (("ask", "Who?"), ("index", "--check")):  # nor sent there to build one
        result = run_cli(*reading, "--index-dir", notes)
        assert result.exit_code == 1 and "it holds other things (.draft.partial, gen-ai, " \
            "gen-z). Give the folder of an index, or build one in a new or empty folder" in \
            str(result.exception)
    assert sorted(str(p.relative_to(notes)) for p in notes.rglob("*")) == before
    assert (notes / ".lock").read_text() == "mine"
    # an empty folder, or one holding only what an index keeps beside it, is written
    fresh = tmp_path / "fresh"
    (fresh / "uploads").mkdir(parents=True)
    assert run_cli("index", extra, "--index-dir", fresh).exit_code == 0
    assert open_index(fresh).articles and (fresh / "uploads").is_dir()


def test_a_folder_with_its_own_file_named_current_is_not_taken_for_an_index(
        tmp_path: Path, two_generations: Path) -> None:
    """A LevelDB keeps a `CURRENT` too: following "damaged, --rebuild" advice there once
    overwrote it with a generation name."""
    leveldb = tmp_path / "leveldb"
    leveldb.mkdir()
    (leveldb / "CURRENT").write_text("MANIFEST-000004\n")
    (leveldb / "000005.ldb").write_bytes(b"data")
    extra = two_generations.parent / "extra"
    for args in (["ask", QUESTION], ["index", extra], ["index", extra, "--rebuild"]):
        result = run_cli(*args, "--index-dir", leveldb)
        assert result.exit_code == 1 and "it holds other things (000005.ldb, CURRENT)" in \
            str(result.exception), result.output
    assert sorted(p.name for p in leveldb.iterdir()) == ["000005.ldb", "CURRENT"]
    assert (leveldb / "CURRENT").read_text() == "MANIFEST-000004\n"


def test_a_rebuild_from_a_folder_that_yields_nothing_keeps_the_index_with_its_uploads(
        damaged_copy: Path, tmp_path: Path) -> None:
    """An unmounted drive's empty mount point: the uploads alone must not replace the rest."""
    (damaged_copy / "uploads").mkdir()
    (damaged_copy / "uploads" / "ferry.txt").write_text("Ferry levy\n\nThe council of Kelso "
                                                        "approved a ferry levy on Tuesday.")
    build_index([damaged_copy / "uploads"], Settings.from_env(index_dir=damaged_copy))
    before = _current(damaged_copy).name
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    result = run_cli("index", mount_point, "--index-dir", damaged_copy, "--rebuild")
    assert result.exit_code == 1 and str(result.exception).startswith(
        f"Nothing to index under {mount_point}, so --rebuild left the index as it was: "), \
        result.output
    assert _current(damaged_copy).name == before
    assert_old_data_answers(damaged_copy, 4)


def test_a_generation_that_cannot_be_removed_leaves_the_new_one_current_and_said_so(
        damaged_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing superseded generations comes after the switch: failing there (a read-only
    or immutable folder) is no reason to report the index unchanged."""
    import os

    from qa.index import generations as generations_module

    oldest = generations(damaged_copy)[-1]
    real_rename = os.rename

    def refuse_the_oldest(source, target) -> None:
        if Path(source) == oldest:
            raise PermissionError(1, "Operation not permitted", str(source))
        real_rename(source, target)

    monkeypatch.setattr(generations_module.os, "rename", refuse_the_oldest)
    (tmp_path / "note.txt").write_text("Note\n\nThe council of Kelso met on Tuesday.")
    report = build_index([tmp_path / "note.txt"], Settings.from_env(index_dir=damaged_copy))
    assert report.added == [str(tmp_path / "note.txt")]
    assert oldest.is_dir() and len(generations(damaged_copy)) == 3
    assert_old_data_answers(damaged_copy, 4)
    monkeypatch.undo()  # the next build removes it
    (tmp_path / "note.txt").write_text("Note\n\nThe council of Kelso met on Wednesday.")
    build_index([tmp_path / "note.txt"], Settings.from_env(index_dir=damaged_copy))
    assert not oldest.exists() and len(generations(damaged_copy)) == 2


@pytest.mark.parametrize("name", ["chunks.jsonl", "sentences.faiss"])
def test_without_an_intact_generation_the_error_names_rebuild_and_nothing_is_deleted(
        damaged_copy: Path, two_generations: Path, name: str) -> None:
    current = _current(damaged_copy)
    for older in generations(damaged_copy)[1:]:
        shutil.rmtree(older)
    _damage(current / name, "truncated")
    for args in (["ask", QUESTION], ["index", two_generations.parent / "extra"]):
        result = run_cli(*args, "--index-dir", damaged_copy)
        assert isinstance(result.exception, IndexDamagedError), result.exception
        assert name in str(result.exception) and "--rebuild" in str(result.exception)
    assert generations(damaged_copy) == [current]  # the damaged generation is still there


def test_cli_prints_one_line_for_a_fallback_and_for_a_damaged_index(damaged_copy: Path) -> None:
    current = _current(damaged_copy)
    _damage(current / "chunks.jsonl", "truncated")

    def ask() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--index-dir",
                               str(damaged_copy)], capture_output=True, text=True)

    fallback = ask()
    assert fallback.returncode == 0, fallback.stderr
    warning = [line for line in fallback.stderr.splitlines() if "damaged" in line]
    assert len(warning) == 1 and warning[0].startswith("Warning: Index at ")
    for older in generations(damaged_copy)[1:]:
        shutil.rmtree(older)
    failed = ask()
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("Error: Index at") and "--rebuild" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_check_finds_a_changed_byte_and_accepts_an_index_without_checksums(
        damaged_copy: Path) -> None:
    healthy = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert healthy.exit_code == 0, healthy.output
    assert healthy.stdout.count("ok: ") == 2 and "match their recorded sizes and sha256" \
        in healthy.stdout

    vectors = _current(damaged_copy) / "sentences.faiss"
    data = bytearray(vectors.read_bytes())
    data[-7] ^= 0x40  # same size: only the checksum tells
    vectors.write_bytes(bytes(data))
    assert len(open_index(damaged_copy).articles) == 3  # opening checks sizes only
    flipped = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert flipped.exit_code == 1
    assert "sentences.faiss does not match its recorded sha256" in flipped.stdout
    assert "rebuild it: qa index PATH... --rebuild" in str(flipped.exception)

    _strip_checksums(damaged_copy)
    legacy = run_cli("index", "--check", "--index-dir", damaged_copy)
    assert legacy.exit_code == 0 and "no checksums recorded" in legacy.stdout
    assert_old_data_answers(damaged_copy, 3)


def test_a_changed_byte_in_the_quoted_text_is_damage_on_opening(damaged_copy: Path) -> None:
    articles = _current(damaged_copy) / "articles.jsonl"
    data = articles.read_bytes()
    articles.write_bytes(data.replace(b"Moskalik", b"Noskalik", 1))  # same size
    with pytest.warns(IndexFallbackWarning, match="articles.jsonl does not match its recorded "
                                                  "sha256.*newest intact"):
        asked = run_cli("ask", QUESTION, "--index-dir", damaged_copy)
    assert asked.exit_code == 0 and "Yaroslav Moskalik" in asked.stdout
    assert "Noskalik" not in asked.stdout  # never quoted as the author's words
    with pytest.warns(IndexFallbackWarning):
        assert_old_data_answers(damaged_copy, 2)  # the previous generation answers


def _ferry_then_budget(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An index built from folder A (a ferry story), then from B (a budget story): two
    generations, the current one holding both. Returns the index and the two folders."""
    index_dir, ferry, budget = tmp_path / "index", tmp_path / "A", tmp_path / "B"
    for folder, text in ((ferry, "Ferry back\n\nThe Oston ferry ran again on Monday."),
                         (budget, "Budget\n\nThe city budget grew to 40 million euros.")):
        folder.mkdir()
        (folder / "story.txt").write_text(text)
        built = run_cli("index", folder, "--index-dir", index_dir)
        assert built.exit_code == 0, built.output
    return index_dir, ferry, budget


@pytest.mark.parametrize("damage", ["changed byte", "truncated"])
def test_a_build_from_a_fallback_reads_again_what_only_the_damaged_generation_held(
        tmp_path: Path, damage: str) -> None:
    index_dir, ferry, budget = _ferry_then_budget(tmp_path)
    articles = _current(index_dir) / "articles.jsonl"
    data = articles.read_bytes()
    articles.write_bytes(data.replace(b"Monday", b"Sunday") if damage == "changed byte"
                         else data[:-40])  # the last line cut short: its path still read
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert indexed.exit_code == 0, indexed.output
    assert "1 articles that only the damaged generation held, read again" in indexed.stderr
    assert "index now holds 2 articles" in indexed.stdout
    assert "40 million" in run_cli("ask", "How big is the city budget?", "--index-dir",
                                   index_dir).stdout
    # a file only the damaged generation held, now gone: reported, not silently dropped
    run_cli("index", budget / "story.txt", "--index-dir", index_dir)
    (budget / "story.txt").unlink()
    articles = _current(index_dir) / "articles.jsonl"
    articles.write_bytes(articles.read_bytes().replace(b"Monday", b"Sunday"))
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert "story.txt: lost: only the damaged generation held it" in indexed.stderr
    assert "1 removed" in indexed.stdout


def test_a_file_read_again_after_a_fallback_and_its_copy_are_one_article(tmp_path: Path) -> None:
    index_dir, ferry, budget = _ferry_then_budget(tmp_path)
    articles = _current(index_dir) / "articles.jsonl"  # B's budget: only there now
    articles.write_bytes(articles.read_bytes().replace(b"Monday", b"Sunday"))
    shutil.copy(budget / "story.txt", ferry / "budget-copy.txt")  # and a copy under A
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert "index now holds 2 articles" in indexed.stdout
    assert f"{budget / 'story.txt'}: duplicate: same article as" in indexed.stderr
    (ferry / "budget-copy.txt").unlink()  # the copy it is stored from goes: B's keeps it
    assert "kept: its file no longer holds it" in run_cli("index", ferry, "--index-dir",
                                                          index_dir).stderr
    assert "40 million" in run_cli("ask", "How big is the city budget?", "--index-dir",
                                   index_dir).stdout


def test_copies_only_the_damaged_generation_recorded_still_keep_their_article(
        tmp_path: Path) -> None:
    index_dir, ferry, budget = tmp_path / "index", tmp_path / "A", tmp_path / "B"
    for folder in (ferry, budget):
        folder.mkdir()
    (ferry / "story.txt").write_text("Ferry back\n\nThe Oston ferry ran again on Monday.")
    run_cli("index", ferry, "--index-dir", index_dir)
    (budget / "story.txt").write_text("Budget\n\nThe city budget grew to 40 million euros.")
    shutil.copy(ferry / "story.txt", budget / "ferry-copy.txt")
    run_cli("index", budget, "--index-dir", index_dir)  # the copy recorded in this generation
    articles = _current(index_dir) / "articles.jsonl"
    articles.write_bytes(articles.read_bytes().replace(b"40 million", b"41 million"))
    (ferry / "story.txt").unlink()
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert "1 removed" not in indexed.stdout, indexed.output  # once: the ferry went
    assert f"story.txt: kept: its file no longer holds it, but {budget / 'ferry-copy.txt'} " \
        "does: stored from there" in indexed.stderr, indexed.stderr
    assert "Oston" in run_cli("ask", "When did the Oston ferry run again?", "--index-dir",
                              index_dir).stdout


def test_a_damaged_generation_cannot_bring_another_file_into_the_index(tmp_path: Path) -> None:
    index_dir, ferry, budget = _ferry_then_budget(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("Vault\n\nThe vault code is 4711.")
    articles = _current(index_dir) / "articles.jsonl"  # B's path now names another file
    articles.write_text(articles.read_text().replace(str(budget / "story.txt"), str(secret)))
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert "secret.txt: lost: only the damaged generation held it, and the file is not what " \
        "it held" in indexed.stderr
    assert "4711" not in "".join(p.read_text() for p in _current(index_dir).glob("*.jsonl"))


def test_a_fallback_build_keeps_one_copy_of_each_record_and_names_what_it_cannot_read(
        tmp_path: Path) -> None:
    index_dir, ferry, feed = tmp_path / "index", tmp_path / "A", tmp_path / "B"
    ferry.mkdir(), feed.mkdir()
    (ferry / "story.txt").write_text("Ferry back\n\nThe Oston ferry ran again on Monday.")
    records = [{"title": "Bridge", "body": "The old bridge reopened on Tuesday for 12 million."},
               {"title": "Library", "body": "The library received a gift of rare maps."}]
    (feed / "feed.jsonl").write_text("\n".join(map(json.dumps, records)))
    for folder in (ferry, feed):
        assert run_cli("index", folder, "--index-dir", index_dir).exit_code == 0
    records[0]["body"] = "The old bridge reopened on Thursday for 15 million."
    (feed / "feed.jsonl").write_text("\n".join(map(json.dumps, records)))
    assert run_cli("index", feed, "--index-dir", index_dir).exit_code == 0
    articles = _current(index_dir) / "articles.jsonl"
    articles.write_bytes(articles.read_bytes().replace(b"Thursday", b"Wednesday"))
    with pytest.warns(IndexFallbackWarning):  # the fallback holds the Tuesday version
        assert run_cli("index", ferry, "--index-dir", index_dir).exit_code == 0
    texts = [json.loads(line)["text"] for line in
             (_current(index_dir) / "articles.jsonl").read_text().splitlines()]
    assert sum("bridge" in t for t in texts) == 1 and any("Thursday" in t for t in texts)
    (_current(index_dir) / "articles.jsonl").unlink()  # nothing left to name its articles by
    with pytest.warns(IndexFallbackWarning):
        indexed = run_cli("index", ferry, "--index-dir", index_dir)
    assert "its list of articles cannot be read: an article only it held is gone" \
        in indexed.stderr


def test_check_and_paths_are_used_sensibly(tmp_path: Path) -> None:
    assert "give it no PATHS" in run_cli("index", "--check", tmp_path).output
    assert "Missing argument 'PATHS...'" in run_cli("index").output
    missing = run_cli("index", "--check", "--index-dir", tmp_path / "none")
    assert "No article index" in str(missing.exception)


def test_the_previous_generation_is_kept_and_older_ones_removed(damaged_copy: Path,
                                                                tmp_path: Path) -> None:
    (damaged_copy / ".gen-crashed.partial").mkdir()  # an unfinished build killed earlier
    names = [_current(damaged_copy).name]
    for n in range(3):
        (tmp_path / f"note-{n}.txt").write_text(f"Note {n}\n\nCouncil meeting number {n} "
                                                "was held on Tuesday.")
        build_index([tmp_path / f"note-{n}.txt"], Settings.from_env(index_dir=damaged_copy))
        names.append(_current(damaged_copy).name)
        assert [g.name for g in generations(damaged_copy)] == [names[-1], names[-2]]
    assert sorted(p.name for p in damaged_copy.iterdir() if p.name.startswith(".gen")) == []
    assert_old_data_answers(damaged_copy, 6)


def test_a_reader_whose_generation_vanished_reads_current_again(
        damaged_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of issue 11 item 4, made certain: between a reader's reading `CURRENT` and
    its loading the generation, two real builds run, so that generation is removed."""
    read_by_reader = _current(damaged_copy)
    real_load = store_module.load_generation
    raced: list[Path] = []

    def load_after_two_builds(generation: Path, index_dir: Path):
        if not raced:
            raced.append(generation)
            for n in range(2):
                (tmp_path / f"race-{n}.txt").write_text(f"Race {n}\n\nThe regatta leg {n} "
                                                        "was won by Kelso.")
                build_index([tmp_path / f"race-{n}.txt"],
                            Settings.from_env(index_dir=damaged_copy))
        return real_load(generation, index_dir)

    monkeypatch.setattr(store_module, "load_generation", load_after_two_builds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning either: just the new generation
        index = open_index(damaged_copy)
    assert raced == [read_by_reader] and not read_by_reader.exists()
    assert index.path == _current(damaged_copy) and len(index.articles) == 5
    assert_old_data_answers(damaged_copy, 5)


def test_a_writer_that_waited_for_another_reads_the_files_again(tmp_path: Path) -> None:
    import fcntl
    import subprocess
    import sys
    import time

    news, index_dir = tmp_path / "news", tmp_path / "index"
    news.mkdir()
    story = news / "ships.txt"
    story.write_text("Ships\n\nThe port saw 17 ships on Monday.")
    run_cli("index", news, "--index-dir", index_dir)
    with (index_dir / ".lock").open("a") as lock:  # another writer at work: the real lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        story.write_text("Ships\n\nThe port saw 20 ships on Monday.")
        waiting = subprocess.Popen([sys.executable, "-m", "qa", "index", str(news),
                                    "--index-dir", str(index_dir)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60  # until it has read the file and waits for the lock
        while time.monotonic() < deadline and waiting.poll() is None and \
                "lock" not in Path(f"/proc/{waiting.pid}/wchan").read_text():
            time.sleep(0.02)
        story.write_text("Ships\n\nThe port saw 42 ships on Monday.")  # the other writer's
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    answer = run_cli("ask", "How many ships did the port see?", "--index-dir", index_dir)
    assert "**42**" in answer.stdout, answer.stdout  # once "20": what it read before waiting


def test_a_writer_another_finished_before_it_reads_the_files_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another build that ran from start to end between this one's reading the files and its
    taking the lock (so it never waited) may have stored newer text than this one read."""
    from qa.index import ingest

    news, settings = tmp_path / "news", Settings.from_env(index_dir=tmp_path / "index")
    news.mkdir()
    story = news / "ships.txt"
    story.write_text("Ships\n\nThe port saw 17 ships on Monday.")
    build_index([news], settings)
    real_load = ingest.load_articles
    raced: list[bool] = []

    def load_then_another_writer(paths, settings, report):
        read = real_load(paths, settings, report)
        if not raced:
            raced.append(True)
            story.write_text("Ships\n\nThe port saw 42 ships on Monday.")
            build_index([news], settings)  # the other writer, whole
        return read

    monkeypatch.setattr(ingest, "load_articles", load_then_another_writer)
    story.write_text("Ships\n\nThe port saw 20 ships on Monday.")
    build_index([news], settings)
    answer = run_cli("ask", "How many ships did the port see?", "--index-dir", settings.index_dir)
    assert raced and "**42**" in answer.stdout, answer.stdout  # once "20": what it read first
