"""Chunking: whole sentences, exact offsets, on the seeds and on the 638 NewsQA articles."""

from __future__ import annotations

import itertools

import pytest
from qa.index.chunk import chunk_article, split_sentences
from qa.index.clean import clean_record
from qa.index.load import find_files, load_file

from tests.paths import NEWSQA_ARTICLES, SEEDS


def _articles(folder):
    files, _ = find_files([folder])
    for path in files:
        records, _ = load_file(path, 5_000_000)
        yield from (clean_record(r) for r in records)


def test_sentences_respect_abbreviations_and_quotes() -> None:
    text = ("Lt Gen. Smith met Mr. Jones in the U.S. on Friday. “It went well,” he said. "
            "Talks resume at 3 p.m. Monday.\nNew paragraph here")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Lt Gen. Smith met Mr. Jones in the U.S. on Friday.",
                         "“It went well,” he said.", "Talks resume at 3 p.m. Monday.",
                         "New paragraph here"]
    text = "Priorities:\n1. Plant 500 street trees. 2. Fix the pier.\n3) Open a library."
    assert [text[s:e] for s, e in split_sentences(text)] == [  # once "1.", "2.", "3)" alone
        "Priorities:", "1. Plant 500 street trees.", "2. Fix the pier.", "3) Open a library."]


@pytest.mark.parametrize("folder", [SEEDS, NEWSQA_ARTICLES], ids=["seeds", "newsqa"])
def test_chunks_are_whole_sentences_with_exact_offsets(folder) -> None:
    if not folder.exists():
        pytest.skip(f"{folder} is missing")
    count = 0
    for article in _articles(folder):
        chunks = chunk_article(article)
        assert chunks, article.path
        sentence_starts = {s for s, _ in split_sentences(article.text)}
        sentence_ends = {e for _, e in split_sentences(article.text)}
        for chunk in chunks:
            assert article.text[chunk.start:chunk.end] == chunk.text
            assert chunk.start in sentence_starts and chunk.end in sentence_ends
            assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
            assert len(chunk.text.split()) <= 120 or len(chunk.sentences) == 1
        # by default consecutive chunks follow each other; with overlap=1 they share one
        # sentence (unless a chunk is one long sentence alone); either way every sentence is
        # covered
        for before, after in itertools.pairwise(chunks):
            assert before.sentences[-1] < after.sentences[0]
        for before, after in itertools.pairwise(chunk_article(article, overlap=1)):
            if len(before.sentences) > 1:
                assert before.sentences[-1] == after.sentences[0]
        covered = [s for c in chunks for s in c.sentences]
        assert covered == split_sentences(article.text)
        count += len(chunks)
    assert count > (3000 if folder == NEWSQA_ARTICLES else 20)


def test_text_without_sentence_breaks_is_cut_into_chunks_of_bounded_size() -> None:
    from qa.core.records import Article

    text = ("the council met again today. " + "the vote was put off once more and " * 12_000
            + "x" * 5_000 + " Then it rained.")
    chunks = chunk_article(Article(id="a", path="a.txt", title="", text=text))
    assert max(len(c.text) for c in chunks) <= 120 * 12  # no 400 KB chunk for the reader/LLM
    assert max(len(c.text.split()) for c in chunks) <= 120
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert chunks[0].text.startswith("the council met again today. the vote")
    assert chunks[-1].text.endswith("Then it rained.")
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(text.split())  # all
