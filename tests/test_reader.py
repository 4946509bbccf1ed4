"""The trained reader: training runs and lowers the loss, the shipped model loads and marks
exact answer spans, and damaged model files give a typed error that says how to rebuild."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from qa import QAError
from qa.reader.model import MODEL_DIR, ConfidenceFeatures, Reader
from qa.reader.train import TrainConfig, _deepen, train
from tests.paths import SHARED

SQUAD = SHARED / "train" / "squad_train.jsonl"


@pytest.mark.skipif(not SQUAD.exists(), reason="needs ../shared/train")
def test_a_few_training_steps_lower_the_loss_and_the_model_loads(tmp_path: Path) -> None:
    config = TrainConfig(data=SQUAD, out=tmp_path / "model", limit_paragraphs=2,
                         max_steps=16, batch_size=8, learning_rate=2e-4, max_length=128)
    config.out.mkdir()  # an older model's calibration must not stay with the new weights
    (config.out / "reader.json").write_text(json.dumps({"format": 2, "threshold": 0.9}))
    report = train(config, log=lambda _: None)
    assert report.steps == 16
    assert sorted(p.name for p in config.out.iterdir()) == ["reader.json", "reader.onnx",
                                                            "tokenizer.json"]
    assert "threshold" not in json.loads((config.out / "reader.json").read_text())
    assert report.last_loss < 0.8 * report.first_loss
    reader = Reader(tmp_path / "model")
    passage = "The game was played on February 7, 2016, at Levi's Stadium."
    (guess,) = reader.read("Where was the game played?", [passage])
    assert 0 <= guess.start < guess.end <= len(passage)


def test_training_refuses_an_output_it_could_not_write_before_it_starts(tmp_path: Path
                                                                      ) -> None:
    import click

    config = TrainConfig(data=SQUAD, out=tmp_path / "model", max_steps=1,
                         keep_float=tmp_path / "no such folder" / "reader-fp32.onnx")
    with pytest.raises(click.UsageError, match="no such folder is not a folder"):
        train(config, log=lambda _: None)
    from click.testing import CliRunner

    from qa.reader.train import main

    result = CliRunner().invoke(main, ["--max-steps", "1"])  # never the shipped model unasked
    assert result.exit_code == 2 and "Missing option '--out'" in result.output


@pytest.mark.parametrize("option", ["--max-steps", "--epochs", "--limit-paragraphs", "--lr",
                                    "--batch-size"])
def test_training_settings_that_cannot_train_are_refused_before_anything_runs(
        tmp_path: Path, option: str) -> None:
    from click.testing import CliRunner

    from qa.reader.train import main

    result = CliRunner().invoke(main, ["--out", str(tmp_path / "model"), option, "0"])
    assert result.exit_code == 2 and option in result.output
    assert not (tmp_path / "model").exists()


@pytest.mark.skipif(not SQUAD.exists(), reason="needs ../shared/train")
def test_a_training_that_diverges_or_has_no_pairs_leaves_the_model_as_it_was(
        tmp_path: Path) -> None:
    import click

    out = tmp_path / "model"
    shutil.copytree(MODEL_DIR, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(click.UsageError, match="no training pairs"):
        train(TrainConfig(data=SQUAD, out=out, limit_paragraphs=1), log=lambda _: None)
    with pytest.raises(click.UsageError, match="max-steps must be above 0"):
        train(TrainConfig(data=SQUAD, out=out, max_steps=0), log=lambda _: None)
    with pytest.raises(click.ClickException, match="diverged"):
        train(TrainConfig(data=SQUAD, out=out, limit_paragraphs=12, max_steps=3, batch_size=8,
                          max_length=128, learning_rate=1e30), log=lambda _: None)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    Reader(out)  # still the shipped model, calibration and all


def test_a_malformed_training_file_names_its_line(tmp_path: Path) -> None:
    from qa.core.errors import InputError
    from qa.reader.data import load_paragraphs

    good = {"context": "Paris is in France.", "qas": [
        {"question": "Where is Paris?", "answers": ["France"], "spans": [[12, 18]]}]}
    for bad, reason in ((b"{not json", "not a SQuAD-style record"),
                        (json.dumps({"qas": []}).encode(), "KeyError"),
                        (json.dumps({**good, "context": "Paris."}).encode(), "outside"),
                        (b"\xff\xfe", "UTF-8")):
        data = tmp_path / "train.jsonl"
        data.write_bytes(json.dumps(good).encode() + b"\n\n" + bad + b"\n")
        with pytest.raises(InputError, match=reason) as caught:
            load_paragraphs(data)
        assert reason == "UTF-8" or "train.jsonl, line 3" in str(caught.value)
    data.write_text(json.dumps(good) + "\n")
    (paragraph,) = load_paragraphs(data)
    assert paragraph.questions[0].spans == ((12, 18),)


def test_calibration_indexes_again_when_the_article_set_changes(tmp_path: Path) -> None:
    from qa.index.store import open_index

    from qa.reader.calibrate import build_once
    from tests.paths import SEEDS

    articles = sorted(SEEDS.glob("*.txt"))
    index_dir = tmp_path / "all"
    build_once(articles, index_dir)
    build_once(articles[:1], index_dir)  # another set in the same --work: not the old index
    index = open_index(index_dir)
    assert [Path(a.path).name for a in index.articles.values()] == [articles[0].name]


def test_calibrating_with_questions_without_sources_is_refused_before_indexing(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qa.reader.calibrate import main
    from tests.paths import SEEDS

    newsqa = tmp_path / "newsqa"
    shutil.copytree(SEEDS, newsqa / "articles")
    shutil.copy(SHARED / "eval" / "seed_questions.jsonl", newsqa / "questions_dev.jsonl")
    result = CliRunner().invoke(main, ["--work", str(tmp_path / "work"), "--newsqa",
                                       str(newsqa), "--model-dir", str(tmp_path / "model")])
    assert result.exit_code == 1 and "names no source article" in result.output
    assert not (tmp_path / "work").exists()


def test_calibrating_fresh_never_empties_a_folder_of_other_things(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qa.reader.calibrate import main
    from tests.paths import SEEDS

    work = tmp_path / "mine"
    (work / "all").mkdir(parents=True)
    (work / "all" / "notes.txt").write_text("keep me")
    (work / "story.txt").write_text("keep me too")
    newsqa = tmp_path / "newsqa"
    shutil.copytree(SEEDS, newsqa / "articles")
    (newsqa / "questions_dev.jsonl").write_text(json.dumps({
        "question": "Who was killed?", "answers": ["Moskalik"],
        "sources": [sorted(p.name for p in SEEDS.iterdir())[0]]}) + "\n")
    result = CliRunner().invoke(main, ["--work", str(work), "--fresh", "--newsqa",
                                       str(tmp_path / "elsewhere")])
    assert result.exit_code == 2 and "elsewhere" in result.output
    result = CliRunner().invoke(main, ["--work", str(work), "--fresh", "--newsqa", str(newsqa)])
    assert result.exit_code == 1 and "not an article index" in result.output
    assert (work / "story.txt").read_text() == "keep me too"
    assert (work / "all" / "notes.txt").read_text() == "keep me"


def test_layer_decay_gives_each_layer_a_lower_rate_than_the_one_above() -> None:
    from qa.index.embed import resolve_model
    from transformers import BertForQuestionAnswering

    from qa.reader.train import _parameter_groups

    model = BertForQuestionAnswering.from_pretrained(resolve_model(None)[1])
    groups = _parameter_groups(model, TrainConfig(learning_rate=1e-4, layer_decay=0.5))
    rates = [g["lr"] for g in groups]
    assert rates == [1e-4 * 0.5 ** n for n in range(8)]  # heads, 6 layers top down, embeddings
    assert groups[-1]["params"][0] is model.bert.embeddings.word_embeddings.weight
    assert sorted(map(id, (p for g in groups for p in g["params"]))) == \
        sorted(map(id, model.parameters()))  # every parameter in exactly one group


def test_a_shortened_question_keeps_what_it_asks_and_loses_answer_words() -> None:
    import random

    from qa.core.text import content_words
    from qa.reader.data import shorten_question

    question = "How many solo tackles did Von Miller make at Super Bowl 50 in Santa Clara?"
    evidence = "Von Miller made five solo tackles at Super Bowl 50 in Santa Clara."
    shortened = {shorten_question(question, evidence, random.Random(seed)) for seed in range(20)}
    for asked in shortened:
        assert asked.startswith("How many solo") and asked.endswith("?")
        rest = asked.removeprefix("How many solo")
        assert 2 <= len(content_words(rest)) <= 4, asked
    assert len(shortened) > 5
    assert shorten_question("Who won?", "X won.", random.Random(0)) == "Who won?"


def test_padded_pairs_keep_their_tokens_and_take_a_few_lengths_only() -> None:
    from qa.reader.features import encode_pairs, load_tokenizer
    from qa.reader.model import MODEL_DIR

    tokenizer = load_tokenizer(str(MODEL_DIR / "tokenizer.json"))
    questions = ["Who won?", "Where was the game played?"]
    passages = ["Denver won.", "The game was played at Levi's Stadium in Santa Clara."]
    tight = encode_pairs(tokenizer, questions, passages, 128)
    padded = encode_pairs(tokenizer, questions, passages, 128, pad_to=32)
    n = tight.input_ids.shape[1]
    assert n < 32 and padded.input_ids.shape[1] == 32
    for name in ("input_ids", "attention_mask", "token_type_ids", "passage_mask", "offsets"):
        assert (getattr(padded, name)[:, :n] == getattr(tight, name)).all(), name
        assert not getattr(padded, name)[:, n:].any(), name
    long = encode_pairs(tokenizer, questions, [" ".join(["word"] * 200)] * 2, 100, pad_to=32)
    assert long.input_ids.shape[1] == 100  # never past max_length


@pytest.mark.skipif(not SQUAD.exists(), reason="needs ../shared/train")
def test_each_question_gets_its_answer_passage_and_the_asked_no_answer_passages() -> None:
    from qa.reader.data import load_paragraphs, make_examples

    paragraphs = load_paragraphs(SQUAD)[:12]
    # numbered as make_examples numbers them
    questions = dict(enumerate(((p, q) for p in paragraphs for q in p.questions), 1))
    answers = {n: q.answers for n, (_, q) in questions.items()}
    marked = {n: p.context[slice(*q.spans[0])] for n, (p, q) in questions.items()}
    for neighbours, most in ((0, 2), (1, 3), (2, 4)):
        pairs: dict[int, list] = {}
        for example in make_examples(paragraphs, neighbours=neighbours):
            pairs.setdefault(example.question_id, []).append(example)
        assert len(pairs) == len(questions)
        sizes = [len(group) for group in pairs.values()]
        assert max(sizes) == most and sum(sizes) > (most - 0.5) * len(pairs)
        for group in pairs.values():
            (answer,) = [e for e in group if e.start is not None]
            assert answer.passage[answer.start:answer.end] == marked[answer.question_id]
            for other in group:
                if other.start is None:
                    assert not any(a.lower() in other.passage.lower()
                                   for a in answers[other.question_id])
            assert len({e.passage for e in group}) == len(group)


def test_the_shared_loss_ranks_the_answer_passage_above_the_question_s_other_passages() -> None:
    import numpy as np
    import torch

    from qa.reader.data import Example
    from qa.reader.train import _shared_loss

    pairs = [Example("q?", "no answer here", None, None, 7), Example("q?", "it is here", 1, 3, 7)]
    passage_mask = np.zeros((2, 6), dtype=bool)
    passage_mask[:, 2:5] = True
    starts, ends = [0, 3], [0, 4]

    def loss(row_with_high_scores: int) -> float:
        start = torch.zeros(2, 6)
        end = torch.zeros(2, 6)
        start[row_with_high_scores, 3] = end[row_with_high_scores, 4] = 20.0
        start[:, 0] = end[:, 0] = 50.0  # [CLS] is outside the passages: never counted
        return float(_shared_loss(start, end, passage_mask, pairs, starts, ends))

    assert loss(1) < 1e-6
    assert loss(0) > 19.0
    assert float(_shared_loss(torch.zeros(2, 6), torch.zeros(2, 6), passage_mask, pairs[:1],
                              [0], [0])) == 0.0


def test_a_deeper_reader_repeats_the_base_layers_in_order_as_separate_copies() -> None:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    model = BertForQuestionAnswering(BertConfig(
        vocab_size=30, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=16))
    base = [layer.output.dense.weight.detach().clone() for layer in model.bert.encoder.layer]
    _deepen(model, 5)
    grown = model.bert.encoder.layer
    copied_from = [next(i for i, weight in enumerate(base)
                        if torch.equal(weight, layer.output.dense.weight)) for layer in grown]
    assert copied_from == [0, 0, 1, 2, 2]
    assert model.config.num_hidden_layers == 5
    assert grown[0].output.dense.weight is not grown[1].output.dense.weight
    out = model(input_ids=torch.tensor([[1, 2, 3]]))
    assert out.start_logits.shape == (1, 3)


def test_the_shipped_reader_marks_the_answer_span() -> None:
    reader = Reader(MODEL_DIR)
    passages = ["Prices of bread rose sharply last winter, bakers said.",
                "A senior general, Yaroslav Moskalik, was killed by a car bomb in Balashikha "
                "on Friday, investigators said."]
    guesses = reader.read("Who was killed by a car bomb?", passages)
    best = max(guesses, key=lambda g: g.margin)
    assert best.passage == 1
    assert passages[1][best.start:best.end] == "Yaroslav Moskalik"
    assert reader.calibration.confidence(ConfidenceFeatures(best.margin, 1.0, 0.5)) \
        > reader.calibration.confidence(ConfidenceFeatures(guesses[0].margin, 1.0, 0.5))
    # a passage that lacks the question's words makes the same span less likely right
    assert reader.calibration.confidence(ConfidenceFeatures(best.margin, 0.2, 0.5)) \
        < reader.calibration.confidence(ConfidenceFeatures(best.margin, 1.0, 0.5))


def test_read_by_sentence_gives_each_sentence_its_own_best_span_inside_it() -> None:
    reader = Reader(MODEL_DIR)
    first = "Prices of bread rose sharply last winter, bakers said."
    second = ("A senior general, Yaroslav Moskalik, was killed by a car bomb in Balashikha "
              "on Friday, investigators said.")
    passage = f"{first} {second}"
    bounds = [(0, len(first)), (len(first) + 1, len(passage))]
    guesses = reader.read("Who was killed by a car bomb?", [passage], [bounds])
    assert [g.passage for g in guesses] == [0, 0]
    for guess, (start, end) in zip(guesses, bounds):
        assert start <= guess.start < guess.end <= end
    assert passage[guesses[1].start:guesses[1].end] == "Yaroslav Moskalik"
    assert guesses[1].margin > guesses[0].margin
    (whole,) = reader.read("Who was killed by a car bomb?", [passage])
    assert (whole.start, whole.end) == (guesses[1].start, guesses[1].end)


class _NoModel:
    """Stands in for the ONNX session where reading again would be a defect."""

    def run(self, *args: object) -> None:
        raise AssertionError("the pair was read again")


def test_a_pair_read_recently_is_answered_from_the_cache_in_its_new_place() -> None:
    question = "Who was killed by a car bomb?"
    bread = "Prices of bread rose sharply last winter, bakers said."
    general = ("A senior general, Yaroslav Moskalik, was killed by a car bomb in Balashikha "
               "on Friday, investigators said.")
    fresh = Reader(MODEL_DIR).read(question, ["", general, bread])
    cached = Reader(MODEL_DIR, cache_pairs=2)
    cached.read(question, [bread, general])
    cached._session = _NoModel()  # type: ignore[assignment]
    # the same pairs in other places (an empty passage skipped) come back in passage order
    assert cached.read(question, ["", general, bread]) == fresh
    assert general[fresh[0].start:fresh[0].end] == "Yaroslav Moskalik"
    with pytest.raises(AssertionError, match="read again"):  # another question is read
        cached.read("Who said so?", [general])
    with pytest.raises(AssertionError, match="read again"):  # and so is another sentence split
        cached.read(question, [general], [[(0, 20), (21, len(general))]])
    uncached = Reader(MODEL_DIR, cache_pairs=0)
    uncached.read(question, [general])
    uncached._session = _NoModel()  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="read again"):
        uncached.read(question, [general])


def test_a_pair_reads_the_same_alone_as_beside_other_passages() -> None:
    from dataclasses import replace

    question = "How long did the meeting last?"
    meeting = "The meeting between the two envoys lasted three hours, officials said."
    others = ["Prices of bread rose sharply last winter, bakers said. " * 6,
              "The talks were the fourth since February, and more are planned for May."]
    reader = Reader(MODEL_DIR)
    [alone] = reader.read(question, [meeting])
    beside = [guess for guess in reader.read(question, [others[0], meeting, others[1]])
              if guess.passage == 1]
    # once: the int8 graph's activation scales were taken over the batch, so the same pair
    # scored otherwise beside others, and the cache kept whichever reading came first
    assert beside == [replace(alone, passage=1)]
    assert meeting[alone.start:alone.end] == "three hours"


def _linked_model(folder: Path, **meta: object) -> Path:
    """The shipped weights in `folder`, with `reader.json` changed as `meta` says (a key
    given None is removed)."""
    folder.mkdir()
    for name in ("reader.onnx", "tokenizer.json"):
        (folder / name).symlink_to(MODEL_DIR / name)
    written = {**json.loads((MODEL_DIR / "reader.json").read_text()), **meta}
    (folder / "reader.json").write_text(json.dumps({k: v for k, v in written.items()
                                                    if v is not None}))
    return folder


def test_a_question_restricted_to_named_articles_is_weighed_by_the_named_fit(
        seed_index: Path, tmp_path: Path) -> None:
    from qa.core.settings import Settings
    from qa.engine import QA

    question = "Which Telegram channel said the bomb was detonated remotely?"
    shipped = json.loads((MODEL_DIR / "reader.json").read_text())
    assert 0 < shipped["named"]["threshold"] < 1 and set(shipped["named"]["calibration"]) == \
        set(shipped["calibration"])
    # the named fit abstains always, the open one never
    model = _linked_model(tmp_path / "named", threshold=0.0,
                          named={"calibration": shipped["calibration"], "threshold": 1.0})
    qa = QA(settings=Settings.from_env(index_dir=seed_index, reader_dir=model))
    searched = qa.answer(question)
    assert searched.short.text == "Baza"
    article = searched.citations[0].article
    named = qa.answer(question, sources=[article.name])
    assert named.abstained and named.confidence < 1.0 and named.related
    # a publisher names no article: the open fit
    assert qa.answer(question, sources=[article.source]).short.text == "Baza"
    # a model calibrated before the named fit weighs both kinds alike
    older = _linked_model(tmp_path / "older", threshold=0.0, named=None)
    qa = QA(settings=Settings.from_env(index_dir=seed_index, reader_dir=older))
    assert qa.answer(question, sources=[article.name]).short.text == "Baza"


def _damaged_copy(tmp_path: Path, name: str, content: bytes | None) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    if content is None:
        (target / name).unlink()
    else:
        (target / name).write_bytes(content)
    return target


def _other_graph() -> bytes:
    """An ONNX model that is not a reader: one input, one output."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return helper.make_model(graph).SerializeToString()


def _meta(**changes: object) -> bytes:
    return json.dumps({**json.loads((MODEL_DIR / "reader.json").read_text()),
                       **changes}).encode()


def _tokenizer_without_cls() -> bytes:
    data = json.loads((MODEL_DIR / "tokenizer.json").read_text())
    data["model"]["vocab"].pop("[CLS]")
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "[CLS]"]
    data["post_processor"] = None
    return json.dumps(data).encode()


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("reader.onnx", None, "missing"),
    ("reader.onnx", b"not a model", "cannot be loaded"),
    ("reader.onnx", _other_graph(), "is not a reader"),
    ("reader.json", json.dumps({"format": 99}).encode(), "format 99"),
    ("reader.json", b'{"format": 2, "calib', "is not readable JSON"),
    ("reader.json", _meta(calibration={"margin": "1.5"}), "not a finite number"),
    ("reader.json", _meta(threshold=float("nan")), "not a finite number"),
    ("reader.json", _meta(named={"threshold": 1.5}), "not a finite number"),
    ("reader.json", _meta(named=[0.5]), "not a finite number"),
    ("tokenizer.json", b"{", "cannot be loaded"),
    ("tokenizer.json", _tokenizer_without_cls(), "has no [CLS]"),
])
def test_a_damaged_reader_model_names_the_file_and_the_fix(tmp_path: Path, name: str,
                                                          content: bytes | None,
                                                          expected: str) -> None:
    directory = _damaged_copy(tmp_path, name, content)
    with pytest.raises(QAError) as caught:
        Reader(directory)
    message = str(caught.value)
    assert message.startswith(f"The reader model file {directory / name} ") and expected in message
    assert message.endswith(f"Rebuild the model with: python -m qa.reader.train "
                                      f"--out {directory} && python -m qa.reader.calibrate "
                                      f"--model-dir {directory}")


def test_qa_refuses_a_missing_reader_with_a_typed_error(seed_index: Path, tmp_path: Path
                                                        ) -> None:
    from qa.core.settings import Settings
    from qa.engine import QA

    with pytest.raises(QAError, match=r"reader\.onnx is missing"):
        QA(settings=Settings.from_env(index_dir=seed_index, reader_dir=tmp_path))


def test_answer_leads_with_the_short_answer_inside_its_cited_quote(seed_qa) -> None:
    answer = seed_qa.answer("Which Telegram channel said the bomb was detonated remotely?")
    short, citation = answer.short, answer.citations[0]
    assert short is not None and short.text == "Baza"
    assert citation.article.text[short.start:short.end] == short.text
    assert citation.start <= short.start < short.end <= citation.end
    assert answer.text.startswith(f"**{short.text}** — ")
    assert 0.5 < answer.confidence <= 1.0


def test_unanswerable_question_has_low_confidence_and_no_short_answer(seed_qa) -> None:
    answer = seed_qa.answer("What is the population of Balashikha?")
    assert answer.abstained and answer.short is None
    assert answer.confidence < seed_qa.reader.calibration.threshold


def test_ask_json_carries_the_short_answer_and_confidence(seed_index: Path) -> None:
    from click.testing import CliRunner

    from qa.cli import cli

    question = "Which Putin aide described the talks as constructive and quite useful?"
    result = CliRunner().invoke(cli, ["ask", question,
                                      "--index-dir", str(seed_index), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["short"]["text"] == "Yuri Ushakov" and data["short"]["citation"] == 1
    quote = data["citations"][0]["quote"]
    assert data["short"]["text"] in quote and 0 < data["confidence"] <= 1


def test_two_long_quotes_share_the_fifty_words_and_keep_their_spans() -> None:
    from qa.answering.extractive import MAX_WORDS, compose_answer
    from qa.core.records import Article, Chunk, Passage
    from qa.core.text import split_sentences
    from qa.reader.model import SpanGuess

    filler = " ".join(f"word{i}" for i in range(30))
    text = (f"The council met on Monday and after a long debate about {filler} the motion "
            f"was carried by 31 votes to 12. Later the mayor said that {filler} the vote "
            f"was a victory for the town's residents.")
    article = Article(id="a", path="council.txt", title="Council", text=text)
    sentences = tuple(split_sentences(text))
    chunk = Chunk("c", "a", 0, len(text), text, sentences)
    passages = [Passage(chunk, article, 1.0, 1)]
    first = text.index("31 votes to 12")
    second = text.index("a victory")
    ranked = [SpanGuess(0, first, first + len("31 votes to 12"), 5.0),
              SpanGuess(0, second, second + len("a victory"), 1.0)]
    answer = compose_answer("What was the result of the vote?", passages, ranked, 0.9)
    assert answer.short.text == "31 votes to 12"
    assert [c.n for c in answer.citations] == [1, 2]
    words = answer.text.replace("**", "").split()
    assert len([w for w in words if not w.startswith("[")]) <= MAX_WORDS + 1  # + the dash
    assert "31 votes to 12" in answer.citations[0].quote
    assert "a victory" in answer.citations[1].quote
    for citation in answer.citations:  # cut quotes are still the article's exact text
        assert text[citation.start:citation.end] == citation.quote
        assert f"…{citation.quote}…" in answer.text or f"{citation.quote}…" in answer.text \
            or f"…{citation.quote}" in answer.text


@pytest.mark.parametrize(("span", "short"), [
    ('"Cheyava Falls', "Cheyava Falls"), ('Cheyava Falls",', "Cheyava Falls"),
    ('"Cheyava Falls"', '"Cheyava Falls"'), ("(NASA", "NASA"), ('"', '"'),
    ('5 ft 11"', '5 ft 11"'), ("the workers’", "the workers’"),
])
def test_a_short_answer_does_not_start_or_end_with_a_quote_it_does_not_close(
        span: str, short: str) -> None:
    from qa.answering.extractive import compose_answer
    from qa.core.records import Article, Chunk, Passage
    from qa.core.text import split_sentences
    from qa.reader.model import SpanGuess

    text = f'The rock the rover found, named {span} by the team, holds spots.'
    article = Article(id="a", path="mars.txt", title="Mars", text=text)
    chunk = Chunk("c", "a", 0, len(text), text, tuple(split_sentences(text)))
    at = text.index(span)
    answer = compose_answer("What is the rock called?", [Passage(chunk, article, 1.0, 1)],
                            [SpanGuess(0, at, at + len(span), 5.0)], 0.9)
    assert answer.short.text == short == text[answer.short.start:answer.short.end]
    assert answer.text.startswith(f"**{short}** — ")


def test_of_two_sentences_the_reader_rates_alike_the_one_closer_in_meaning_answers(
        seed_index: Path) -> None:
    from qa.answering.extractive import read_spans
    from qa.core.settings import Settings
    from qa.engine import QA

    engine = QA(settings=Settings.from_env(index_dir=seed_index))
    question = "Who was killed by a car bomb in Balashikha?"
    passages = engine.retrieve(question)
    for passage in passages:  # the store's sentence vectors, one per chunk sentence
        assert len(passage.sentence_similarities) == len(passage.chunk.sentences)
        assert passage.similarity == max(passage.sentence_similarities)
    best, second = read_spans(question, passages, engine.reader)[:2]
    assert passages[best.passage].chunk.text[best.start:best.end] == "Yaroslav Moskalik"
    # the same spans and margins, with the two best sentences' closeness made -1 and 1
    changed = []
    for i, passage in enumerate(passages):
        closeness = list(passage.sentence_similarities)
        if i == best.passage:
            closeness[best.sentence] = -1.0
        if i == second.passage:
            closeness[second.sentence] = 1.0
        changed.append(replace(passage, sentence_similarities=tuple(closeness)))
    assert read_spans(question, changed, engine.reader)[0] == second


def test_calibration_weights_the_feature_that_separates_missing_articles() -> None:
    import random

    from qa.reader.calibrate import _fit, _Point
    from qa.reader.model import ConfidenceFeatures, calibrated_confidence

    rng = random.Random(0)

    def point(margin: float, low: float, high: float, correct: bool = False) -> _Point:
        return _Point(ConfidenceFeatures(rng.gauss(margin, 3), rng.uniform(low, high),
                                         rng.uniform(0.2, 0.6)), correct)

    # answerable: the passage holds the question's words; unanswerable: it does not, and the
    # reader's margin says little either way, the similarity nothing
    held = [(point(2, 0.6, 1.0), True) for _ in range(200)]
    held += [(point(1, 0.1, 0.7), False) for _ in range(200)]
    judged = [_Point(p.features, ok and p.features.margin > 0) for p, ok in held]
    weights = _fit(held, judged)
    assert weights["coverage"] > 0 and weights["margin"] > 0
    assert abs(weights["similarity"]) < weights["coverage"] / 4
    assert calibrated_confidence(weights, ConfidenceFeatures(2.0, 0.9, 0.4)) > 0.5 \
        > calibrated_confidence(weights, ConfidenceFeatures(2.0, 0.2, 0.4))



def test_a_confidence_far_from_zero_is_0_or_1_not_an_overflow() -> None:
    from qa.reader.model import calibrated_confidence

    features = ConfidenceFeatures(margin=2.0, coverage=0.5, similarity=0.3)
    assert calibrated_confidence({"bias": -1000.0}, features) == 0.0
    assert calibrated_confidence({"bias": 1000.0}, features) == 1.0


def test_a_short_answer_keeps_the_accents_of_decomposed_letters() -> None:
    passage = "The new mayor of Lisbon is Rene\u0301 Dupre\u0301, a former judge."
    reader = Reader(MODEL_DIR)
    (guess,) = reader.read("Who is the new mayor of Lisbon?", [passage])
    assert passage[guess.start:guess.end] == "Rene\u0301 Dupre\u0301"
