"""The index as a LangChain `VectorStore`: document ids kept, updates replacing, filters
honoured, and bad input refused before anything is written (directory store; the PostgreSQL
store is checked in test_postgres.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document

from qa import QA, InputError

RESIDENTS = ("Flooding near Tolm forced {n} residents from their homes on Sunday, the "
             "regional council said.")


def test_ids_are_kept_and_an_id_added_again_replaces_its_document(index_copy: Path) -> None:
    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    assert store.add_documents([Document(RESIDENTS.format(n=300), id="tolm-flood"),
                                Document("The Tolm bridge reopened in May.")]) \
        [0] == "tolm-flood"
    [doc] = store.get_by_ids(["tolm-flood"])
    assert doc.id == "tolm-flood" and "300 residents" in doc.page_content
    store.add_texts([RESIDENTS.format(n=450)], ids=["tolm-flood"])
    answer = qa.answer("How many residents had to leave their homes near Tolm?")
    assert "450" in answer.text and "300" not in answer.text
    assert "450 residents" in store.get_by_ids(["tolm-flood"])[0].page_content
    assert qa.stats.articles == 4  # 2 seeds, the bridge, one version of the flood
    assert store.delete(["tolm-flood"]) is True
    assert store.get_by_ids(["tolm-flood"]) == [] and qa.stats.articles == 3
    assert store.delete(["tolm-flood"]) is False


def test_the_id_returned_for_a_document_added_without_one_replaces_it(index_copy: Path) -> None:
    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    [returned] = store.add_texts([RESIDENTS.format(n=300)])
    store.add_texts([RESIDENTS.format(n=450)], ids=[returned])
    answer = qa.answer("How many residents had to leave their homes near Tolm?")
    assert "450" in answer.text and "300" not in answer.text  # once: both kept, 300 said
    assert qa.stats.articles == 3
    # the first text again, without an id: its id names the one added under it, replaced
    assert store.add_texts([RESIDENTS.format(n=300)]) == [returned]
    assert [d.page_content for d in store.get_by_ids([returned])] == [RESIDENTS.format(n=300)]
    assert qa.stats.articles == 3
    assert store.delete([returned]) is True
    assert qa.stats.articles == 2 and store.get_by_ids([returned]) == []


def test_search_hits_carry_the_ids_and_metadata_their_documents_were_added_with(
        index_copy: Path) -> None:
    """Hits carried their chunk's id, which neither `get_by_ids` nor `delete` took; a date
    and a list of authors were dropped from the metadata without a word."""
    import datetime

    store = QA(index_dir=index_copy).as_vectorstore()
    store.add_texts([RESIDENTS.format(n=300), "The Tolm bridge reopened in May."],
                    [{"published": datetime.date(2025, 5, 3), "author": ["A. One", "B. Two"]},
                     {}], ids=["tolm-flood", "Tolm-Bridge"])
    [hit] = store.similarity_search("How many residents left their homes near Tolm?", k=1)
    assert hit.id == "tolm-flood" and hit.metadata["chunk_id"].startswith(
        hit.metadata["article_id"])
    [document] = store.get_by_ids([hit.id])
    assert (document.metadata["published"], document.metadata["author"]) == \
        ("2025-05-03", "A. One and B. Two")
    [bridge] = store.similarity_search("When did the Tolm bridge reopen?", k=1)
    assert bridge.id == bridge.metadata["article_id"]  # (an id its file name cannot hold)
    assert store.delete([hit.id, bridge.id]) is True
    assert store.get_by_ids([hit.id, bridge.id]) == []


def test_the_same_text_under_two_ids_is_two_documents(index_copy: Path) -> None:
    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    boilerplate = "Subscribe to the Tolm Courier for the council's weekly notices."
    assert store.add_texts([boilerplate, boilerplate], ids=["page-1", "page-2"]) == \
        ["page-1", "page-2"]
    assert [d.id for d in store.get_by_ids(["page-1", "page-2"])] == ["page-1", "page-2"]
    store.add_texts([RESIDENTS.format(n=300)], ids=["Page-3"])  # capitals: a file of its own
    store.add_texts([boilerplate], ids=["Page-3"])  # replaced by the text the others hold
    assert store.delete(["page-1"]) is True
    assert [d.id for d in store.get_by_ids(["page-1", "page-2", "Page-3"])] == \
        ["page-2", "Page-3"]
    assert qa.stats.articles == 4  # the seeds, page-2, Page-3


def test_langchain_index_updates_and_cleans_up_through_the_ids(index_copy: Path) -> None:
    from langchain_core.indexing import InMemoryRecordManager, index

    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    records = InMemoryRecordManager("tolm")
    records.create_schema()
    first = Document(RESIDENTS.format(n=300), metadata={"source": "council.txt"})
    assert index([first], records, store, cleanup="incremental",
                 source_id_key="source", key_encoder="sha256")["num_added"] == 1
    second = Document(RESIDENTS.format(n=450), metadata={"source": "council.txt"})
    result = index([second], records, store, cleanup="incremental", source_id_key="source",
                   key_encoder="sha256")
    assert (result["num_added"], result["num_deleted"]) == (1, 1)
    answer = qa.answer("How many residents had to leave their homes near Tolm?")
    assert "450" in answer.text and "300" not in answer.text
    assert qa.stats.articles == 3


def test_bad_documents_are_refused_before_anything_is_written(index_copy: Path) -> None:
    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    before = qa.stats.articles
    huge = "The harbour of Welk was dredged again this year. " * 120_000
    for call, message in [
            (lambda: store.add_texts([huge]), r"text 1 is 5\.\d MB .* over the 5\.\d MB limit"),
            (lambda: store.add_texts(["\u200b\u200b"]), "text 1 is not"),
            (lambda: store.add_texts(["The bridge reopened.", "By John Smith"]),
             "text 2 holds no article text once cleaned .* 'By John Smith'"),
            (lambda: store.add_texts("one text"), "a list of texts, not one text"),
            (lambda: store.add_texts(["Fine."], metadatas=["x"]), "one dict per text"),
            (lambda: store.add_texts(["A.", "B."], metadatas=[{}, {"published": float("nan")}]),
             "metadata 'published' of text 2 is nan, not a finite number"),
            (lambda: store.add_texts(["A."], metadatas=[{1: "x"}]), "keys must be text"),
            (lambda: store.similarity_search("harbour", filter={"source": None}),
             "source needs a value"),
            (lambda: store.add_texts(["A.", "B."], ids=["same", "same"]), "must differ"),
            (lambda: store.add_texts(["A."], ids=["a\x00"]), "ids must be document"),
            (lambda: store.add_documents(["a text"]), "list of LangChain Documents"),
            (lambda: store.similarity_search("harbour", filter={"tags": "x"}),
             "filtered by source, since and until, not by 'tags'"),
            (lambda: store.similarity_search("harbour", sorce="x"), "not 'sorce'")]:
        with pytest.raises(InputError, match=message):
            call()
    assert qa.stats.articles == before
    assert not (index_copy / "documents").exists()
    # text a file could not hold is made so: a lone surrogate as U+FFFD, NUL dropped
    [doc_id] = store.add_texts(["The Welk ferry\x00 sank in the gale \ud800 of 1921."])
    assert store.get_by_ids([doc_id])[0].page_content == \
        "The Welk ferry sank in the gale \ufffd of 1921."


def test_searches_filter_and_score_as_langchain_expects(seed_qa: QA) -> None:
    store = seed_qa.as_vectorstore()
    question = "Who was killed by a car bomb in Balashikha?"
    independent = "The Independent UK"
    for kwargs in ({"filter": {"source": independent}}, {"sources": [independent]}):
        found = store.similarity_search(question, k=3, **kwargs)
        assert found and {d.metadata["source"] for d in found} == {independent}
    scored = store.similarity_search_with_relevance_scores(question, k=3, score_threshold=0.3)
    assert scored and all(0.3 <= score <= 1 for _, score in scored)
    assert "Moskalik" in scored[0][0].page_content
    assert store.get_by_ids([scored[0][0].id])[0].metadata["path"] == \
        scored[0][0].metadata["path"]  # a hit carries its document's id
    retriever = store.as_retriever(search_type="similarity_score_threshold",
                                   search_kwargs={"score_threshold": 0.99, "k": 3})
    assert retriever.invoke(question) == []
    answer = seed_qa.as_chain().invoke({"question": question, "sources": "The Guardian - UK"})
    assert {c.article.source for c in answer.citations} == {"The Guardian - UK"}
    with pytest.raises(InputError, match="any of 'history'"):
        seed_qa.as_chain().invoke({"question": question, "source": "The Guardian"})


def test_a_document_added_with_the_text_of_an_indexed_file_can_be_deleted(
        index_copy: Path) -> None:
    from tests.paths import SEEDS

    qa = QA(index_dir=index_copy)
    store = qa.as_vectorstore()
    seed = sorted(SEEDS.iterdir())[0]
    ids = store.add_texts([seed.read_text(encoding="utf-8")])
    assert len(list((index_copy / "documents").iterdir())) == 1
    assert store.delete(ids) is True  # once: "articles indexed from files are deleted..."
    assert not list((index_copy / "documents").iterdir())
    with pytest.raises(InputError, match="deleted by deleting the file"):
        store.delete(ids)  # the document is gone; the file's article stays, as files' do
    assert qa.stats.articles == 2 and store.get_by_ids(ids)[0].metadata["path"] == str(seed)


def test_marginal_relevance_search_trades_relevance_for_variety(seed_qa: QA) -> None:
    store = seed_qa.as_vectorstore()
    question = "Who was killed by a car bomb in Balashikha?"
    fetched = seed_qa.retrieve(question, 10)
    by_relevance = sorted(fetched, key=lambda p: -p.similarity)
    relevant = store.max_marginal_relevance_search(question, k=3, fetch_k=10, lambda_mult=1)
    assert [d.page_content for d in relevant] == [p.chunk.text for p in by_relevance[:3]]
    varied = store.max_marginal_relevance_search(question, k=2, fetch_k=10, lambda_mult=0)
    first, rest = varied[0].page_content, [p.chunk.text for p in by_relevance[1:]]
    likeness = seed_qa.embed([first, *rest])
    assert first == by_relevance[0].chunk.text
    assert varied[1].page_content == rest[int((likeness[1:] @ likeness[0]).argmin())]
    assert varied[1].page_content != relevant[1].page_content
    retriever = store.as_retriever(search_type="mmr", search_kwargs={
        "k": 2, "fetch_k": 8, "filter": {"source": "The Independent UK"}})
    found = retriever.invoke(question)
    assert len(found) == 2 and {d.metadata["source"] for d in found} == {"The Independent UK"}
    assert store.embeddings.embed_query(question) == pytest.approx(
        seed_qa.embed([question])[0].tolist(), abs=1e-6)
    assert len(store.max_marginal_relevance_search(question, k=22)) == 22  # (fetch_k 20 or k)
    for bad in ({"lambda_mult": 1.5}, {"k": 11}, {"k": 0}, {"fetch_k": "20"}, {"fetch_k": 51}):
        with pytest.raises(InputError, match=next(iter(bad))):
            store.max_marginal_relevance_search(question, **{"fetch_k": 10, **bad})
    vector = seed_qa.embed([question])[0].tolist()
    for by_vector in (store.similarity_search_by_vector,
                      store.max_marginal_relevance_search_by_vector):
        with pytest.raises(InputError, match="use similarity_search"):  # once NotImplemented
            by_vector(vector)


def test_a_rebuild_keeps_the_added_documents_and_counts_what_it_removed(
        index_copy: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from qa.ui.uploads import store_uploads

    from qa.cli import cli
    from tests.paths import SEEDS

    qa = QA(index_dir=index_copy)
    qa.as_vectorstore().add_texts([RESIDENTS.format(n=300)], ids=["tolm-flood"])
    upload = tmp_path / "ferry.txt"  # uploaded in the chat, as the server stores it
    upload.write_text("Welk ferry\n\nThe Welk ferry will sail four times a day from June.")
    qa.add_files(store_uploads([str(upload)], index_copy, max_bytes=10_000)[0])
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "bridge.txt").write_text("Tolm bridge reopens\n\nThe Tolm bridge reopened in May "
                                       "after two years of repairs, the council said.")
    result = CliRunner().invoke(cli, ["index", str(folder), "--index-dir", str(index_copy),
                                      "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 2 removed" in result.stdout  # the seeds went
    for seed in SEEDS.iterdir():
        assert f"{seed}: removed: not under the paths given to --rebuild" in result.stderr
    qa.reload()
    assert qa.stats.articles == 3
    assert "300" in qa.answer("How many residents had to leave their homes near Tolm?").text
    assert "four times a day" in qa.answer("How often will the Welk ferry sail?").text
    assert SEEDS.is_dir()


def test_documents_are_found_and_deleted_after_the_index_directory_moves(
        index_copy: Path, tmp_path: Path) -> None:
    store = QA(index_dir=index_copy).as_vectorstore()
    store.add_texts([RESIDENTS.format(n=300)], ids=["tolm-flood"])
    moved = tmp_path / "moved-index"
    index_copy.rename(moved)
    qa = QA(index_dir=moved)
    store = qa.as_vectorstore()
    [doc] = store.get_by_ids(["tolm-flood"])
    assert "300 residents" in doc.page_content
    assert doc.metadata["path"] == str(moved / "documents" / "doc-tolm-flood.json")
    assert store.delete(["tolm-flood"]) is True
    assert store.get_by_ids(["tolm-flood"]) == [] and qa.stats.articles == 2
    assert not (moved / "documents" / "doc-tolm-flood.json").exists()


def test_a_moved_or_copied_index_deletes_and_replaces_its_own_documents_and_uploads(
        index_copy: Path, tmp_path: Path) -> None:
    """The paths of the articles in an index's own folders (documents/, uploads/) named the
    folder it was built in: after a move, `delete` said True and the article stayed, an id
    added again kept both versions, and a removed upload stayed answerable; after a copy,
    the copy's articles were the original's files."""
    import shutil

    from qa.ui.uploads import removing_uploads, store_uploads

    ferry = tmp_path / "ferry.txt"
    ferry.write_text("Welk ferry\n\nThe Welk ferry will sail four times a day from June.\n",
                     encoding="utf-8")
    qa = QA(index_dir=index_copy)
    (upload,), _ = store_uploads([str(ferry)], index_copy)
    qa.add_files([str(upload)])
    [plain] = qa.as_vectorstore().add_texts([RESIDENTS.format(n=300)])
    qa.as_vectorstore().add_texts(["The Tolm bridge reopened in May."], ids=["bridge"])
    moved = tmp_path / "moved"
    index_copy.rename(moved)
    copied = tmp_path / "copied"
    shutil.copytree(moved, copied)
    for index in (copied, moved):  # (the copy first: the original is still there)
        qa = QA(index_dir=index)
        store = qa.as_vectorstore()
        assert {d.metadata["path"] for d in store.get_by_ids([plain, "bridge"])} == {
            str(index.resolve() / "documents" / f"{plain}.json"),
            str(index.resolve() / "documents" / "doc-bridge.json")}
        store.add_texts(["The Tolm bridge reopened in June."], ids=["bridge"])
        assert store.delete([plain]) is True and store.get_by_ids([plain]) == []
        with removing_uploads([upload.name], index):
            qa.add_files([str(index / "uploads")])
        assert qa.stats.articles == 3  # the seeds and the bridge, once
        assert "June" in qa.answer("When did the Tolm bridge reopen?").text
        assert "four times" not in qa.answer("How often will the Welk ferry sail?").text
