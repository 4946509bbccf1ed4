"""Hostile or odd article folders (issue 11, items 2, 7, 8): links out of the folder, deeply
nested JSON, Latin-1 text. Each is handled on its own; the rest is indexed and nothing is lost."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest
from qa.index import open_index
from qa.index.load import decode, load_file

from qa.core.errors import UnusableFileError
from tests.faults import assert_old_data_answers, finishes_within, run_cli


def _texts(index_dir: Path) -> dict[str, str]:
    return {Path(a.path).name: a.text for a in open_index(index_dir).articles.values()}


def test_links_out_of_the_folder_are_skipped_and_a_deleted_link_removes_its_article(
        index_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    (outside / "notes.md").write_text("Private notes\n\nThe vault code is 4321.")
    folder = tmp_path / "articles"
    (folder / ".drafts").mkdir(parents=True)
    (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    (folder / ".drafts" / "bridge").write_text("Bridge closes\n\nThe old bridge closed today.")
    os.symlink(outside / "passwd.txt", folder / "passwd.txt")
    os.symlink(outside, folder / "private")
    os.symlink("../outside/notes.md", folder / "relative.md")
    os.symlink(folder / ".drafts" / "bridge", folder / "bridge.txt")  # inside: followed

    result = run_cli("index", folder, "--index-dir", index_copy)
    assert result.exit_code == 0, result.output
    for name, kind in [("passwd.txt", "file"), ("private", "folder"), ("relative.md", "file")]:
        assert f"{folder / name}: skipped: link to a {kind} outside {folder}" in result.stderr
    texts = _texts(index_copy)
    assert sorted(texts)[-2:] == ["bridge.txt", "harbour.txt"] and len(texts) == 4
    assert not any("root:x" in t or "vault" in t for t in texts.values())
    # a shell glob names the links one by one: still not followed
    glob = run_cli("index", *sorted(folder.iterdir()), "--index-dir", index_copy)
    assert glob.exit_code == 0 and f"{folder / 'passwd.txt'}: skipped: link" in glob.stderr
    assert "vault" not in str(_texts(index_copy))

    (folder / "bridge.txt").unlink()
    again = run_cli("index", folder, "--index-dir", index_copy)
    assert f"{folder / 'bridge.txt'}: removed: its file is gone" in again.stderr
    assert "bridge.txt" not in _texts(index_copy)
    assert_old_data_answers(index_copy, 3)


def test_a_link_named_as_the_file_to_index_keeps_one_article_as_it_is_pointed_elsewhere(
        index_copy: Path, tmp_path: Path) -> None:
    """`latest.txt -> monday.txt`, indexed by that name; then `latest.txt -> tuesday.txt`:
    the article of `latest.txt` is replaced, not kept beside the new one."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "monday.txt").write_text("Harbour closes\n\nThe harbour closed on Monday.")
    (folder / "tuesday.txt").write_text("Harbour reopens\n\nThe harbour reopened on Tuesday.")
    latest = folder / "latest.txt"
    latest.symlink_to("monday.txt")
    assert run_cli("index", latest, "--index-dir", index_copy).exit_code == 0
    latest.unlink()
    latest.symlink_to("tuesday.txt")
    result = run_cli("index", latest, "--index-dir", index_copy)
    assert result.exit_code == 0 and "0 added, 1 updated" in result.output, result.output
    assert _texts(index_copy)["latest.txt"].endswith("reopened on Tuesday.")
    assert_old_data_answers(index_copy, 3)


def test_a_folder_merely_named_like_a_generation_hides_no_articles(index_copy: Path,
                                                                     tmp_path: Path) -> None:
    """Only an index's own generation (its manifest and articles, or the one its `CURRENT`
    names) makes a folder an index whose files are not articles; a web app's
    `gen-ai/manifest.json` does not."""
    news = tmp_path / "news"
    (news / "gen-ai").mkdir(parents=True)
    (news / "gen-ai" / "manifest.json").write_text('{"name": "demo"}')
    (news / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    damaged = news / "old-index" / "gen-20250101T000000-1-1"  # an index, its list gone
    damaged.mkdir(parents=True)
    (damaged / "chunks.jsonl").write_text('{"id": "a:0", "text": "Chunk text, not an article '
                                          'to index again."}\n')
    (news / "old-index" / "CURRENT").write_text(damaged.name + "\n")
    result = run_cli("index", news, "--index-dir", index_copy)
    assert result.exit_code == 0, result.output
    assert f"{news / 'old-index'}: skipped: an article-qa index" in result.stderr
    assert _texts(index_copy)["harbour.txt"] == "The harbour reopened on Monday."
    assert "chunks.jsonl#1" not in _texts(index_copy)


def test_a_file_swapped_for_a_link_out_while_indexing_is_not_read(
        index_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.index import ingest

    secret = tmp_path / "secret.txt"
    secret.write_text("Vault codes\n\nThe vault code is 4321.")
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    (folder / "story.txt").write_text("Bridge closes\n\nThe old bridge closed today.")
    (folder / "inside.txt").symlink_to(folder / "story.txt")  # a link inside is still read
    found_files = ingest.find_files

    def swap_after_finding(paths):  # someone who can write to the folder, between the two
        found = found_files(paths)
        (folder / "harbour.txt").unlink()
        (folder / "harbour.txt").symlink_to(secret)
        return found

    monkeypatch.setattr(ingest, "find_files", swap_after_finding)
    result = run_cli("index", folder, "--index-dir", index_copy)
    assert result.exit_code == 0, result.output
    assert (f"{folder / 'harbour.txt'}: skipped: it became a link out of {folder} while being "
            "indexed") in result.stderr
    texts = _texts(index_copy)
    assert "vault" not in str(texts) and "harbour.txt" not in texts
    assert texts["inside.txt"].endswith("The old bridge closed today.")
    assert_old_data_answers(index_copy, 3)


def test_deeply_nested_json_is_refused_alone_and_the_rest_is_indexed(index_copy: Path,
                                                                      tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "deep.json").write_text("[" * 100_000)
    (folder / "deep-object.jsonl").write_text(
        json.dumps({"title": "ok", "body": "Fine line."}) + "\n" + '{"a":' * 5000 + "\n")
    (folder / "brackets-in-strings.json").write_text(json.dumps(
        {"title": "Brackets", "body": "Markets fell [" * 200 + " sharply on Friday."}))
    (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    (folder / "huge-number.json").write_text('{"body": "The dam broke.", "id": ' + "9" * 5000
                                             + "}")
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")  # (a loop of links)
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")

    result = run_cli("index", folder, "--index-dir", index_copy)
    assert result.exit_code == 0, result.output
    assert f"{folder / 'deep.json'}: refused: JSON nested more than 64 levels deep" \
        in result.stderr
    assert "huge-number.json: refused: unreadable JSON (Exceeds the limit" in result.stderr
    assert "loop-a.txt: skipped: link in a loop of links" in result.stderr
    assert "deep-object.jsonl: refused: JSON nested more than 64 levels deep on line 2" \
        in result.stderr
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert "2 added" in result.stdout
    assert sorted(_texts(index_copy))[-2:] == ["brackets-in-strings.json", "harbour.txt"]
    assert_old_data_answers(index_copy, 4)


def test_a_jsonl_string_may_hold_the_unicode_line_separators(tmp_path: Path) -> None:
    """U+2028, U+2029 and U+0085 are text inside a JSON string; the line was refused as
    malformed JSON when they were taken for line breaks."""
    path = tmp_path / "feed.jsonl"
    lines = [json.dumps({"title": f"Item {n}", "body": f"First\u2028second\u2029third\x85 {n}."},
                        ensure_ascii=False) for n in (1, 2)]
    path.write_text("\r\n".join(lines), encoding="utf-8")
    records, notices = load_file(path, max_bytes=10_000)
    assert [r.path for r in records] == [f"{path}#1", f"{path}#2"] and notices == []


def test_a_file_name_holding_colons_keeps_its_notice_whole(tmp_path: Path) -> None:
    folder = tmp_path / "drafts: refused: not really"
    folder.mkdir()
    (folder / "note: empty.txt").write_text("")
    (folder / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday.")
    result = run_cli("index", folder, "--index-dir", tmp_path / "index")
    assert result.exit_code == 0, result.output
    assert f"{folder / 'note: empty.txt'}: skipped: empty file\n" in result.stderr


LATIN1 = ["The naïve reporter met José Muñoz at the café in Zürich.",
          "naïve Muñoz",
          "Die Bürger in München äußerten große Sorge. Schön.",
          "El señor Muñoz dijo que la situación en España es difícil. ¿Por qué? Años."]


def test_latin1_text_survives_and_the_encoding_is_reported(index_copy: Path,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "latin"
    folder.mkdir()
    for n, text in enumerate(LATIN1):
        (folder / f"latin-{n}.txt").write_bytes(f"Story {n}\n\n{text}\n".encode("latin-1"))
    # one large file: charset-normalizer alone reads it as cp1250 ("naďve", "Muńoz")
    (folder / "long.txt").write_bytes(f"Long story\n\n{LATIN1[0] * 2000}".encode("latin-1"))
    (folder / "smart-quotes.txt").write_bytes("Quotes\n\nHe said “no” — twice… and paid €5."
                                              .encode("cp1252"))

    result = run_cli("index", folder, "--index-dir", index_copy)
    assert result.exit_code == 0, result.output
    for name in ["latin-0.txt", "long.txt", "smart-quotes.txt"]:
        assert f"{folder / name}: decoded: not UTF-8; read as cp1252" in result.stderr
    texts = _texts(index_copy)
    for n, text in enumerate(LATIN1):
        assert text in texts[f"latin-{n}.txt"]
    assert LATIN1[0] in texts["long.txt"]
    assert "“no” — twice… and paid €5" in texts["smart-quotes.txt"]
    assert_old_data_answers(index_copy, 2 + len(LATIN1) + 2)


def test_other_encodings_are_still_detected() -> None:
    for text, encoding in [("Президент России заявил, что переговоры продолжатся в Москве.",
                            "cp1251"),
                           ("Zażółć gęślą jaźń. Rząd przyjął nową ustawę w Łodzi.", "cp1250"),
                           ("Ο πρωθυπουργός δήλωσε ότι η κυβέρνηση θα συνεχίσει.", "cp1253"),
                           ("東京で新しい法律が成立しました。首相は説明した。", "shift_jis")]:
        decoded, notice = decode(text.encode(encoding), "x.txt")
        assert decoded == text, encoding
        assert notice is not None and "not UTF-8; read as" in notice.message


def test_utf16_and_utf32_with_a_byte_order_mark_are_text(tmp_path: Path) -> None:
    text = "Muñoz said the naïve plan “failed” — twice."
    for encoding in ("utf-16", "utf-16-be", "utf-32"):
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = codecs.BOM_UTF16_BE + data
        decoded, notice = decode(data, "x.txt")
        assert decoded == text, encoding
        assert notice is not None and "read as utf-" in notice.message
    with pytest.raises(UnusableFileError, match="starts like utf-16-le"):
        decode(codecs.BOM_UTF16_LE + b"\x00\xd8", "x.txt")  # a lone surrogate


def test_long_runs_of_punctuation_numbers_names_and_spaces_cost_linear_time() -> None:
    from qa.core.records import Article
    from qa.core.text import split_sentences, strip_markers
    from qa.examples import example_questions

    dots = "Contents" + "." * 200_000 + " page 4. The end."
    table = "Scores: " + " ".join(str(i % 97) for i in range(100_000)) + ". "
    names = " ".join(f"met Xa{i:05d}z Yb{i:05d}q," for i in range(20_000))
    lead = "This year more than nine thousand visitors tasted ciders from sixty orchards. "
    with finishes_within(20):  # each took from minutes to hours before
        assert split_sentences(dots)[-1] == (len(dots) - 8, len(dots))
        assert strip_markers(" " * 200_000 + "x [1]") == " " * 200_000 + "x"
        articles = [Article(id="a", path="a.txt", title="t", text=lead + table + names)]
        assert "How many visitors tasted ciders from sixty orchards?" in example_questions(
            articles, 4)


def test_escape_sequences_in_an_article_never_reach_the_terminal(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "oslo\x1b[2J.txt").write_text(
        "Car bomb in Oslo\n\nA man was killed by a car bomb in Oslo on Monday, police "
        "said.\x1b]0;OWNED\x07 He was Ole Hansen, a judge.\r\x1b[2K\u202eFAKE\x9b2J")
    index = tmp_path / "idx"
    built = subprocess.run([sys.executable, "-m", "qa", "index", folder, "--index-dir", index],
                           capture_output=True, text=True, timeout=300)
    asked = subprocess.run([sys.executable, "-m", "qa", "ask", "Who was killed in Oslo?",
                            "--index-dir", index], capture_output=True, text=True, timeout=300)
    as_json = subprocess.run([sys.executable, "-m", "qa", "ask", "Who was killed in Oslo?",
                              "--index-dir", index, "--json"], capture_output=True, text=True,
                             timeout=300)
    assert built.returncode == 0 and asked.returncode == 0, built.stderr + asked.stderr
    assert "Ole Hansen" in asked.stdout and "said.]0;OWNED He was" in asked.stdout
    quote = json.loads(as_json.stdout)["citations"][0]["quote"]
    assert "said.]0;OWNED He was" in quote  # C0 controls are no part of an article's text
    for output in (built.stdout, built.stderr, asked.stdout, asked.stderr, as_json.stdout):
        assert not {"\x1b", "\x07", "\r", "\u202e", "\x9b"} & set(output), output


def test_hostile_uploads_and_histories_cost_linear_time(tmp_path: Path) -> None:
    from itertools import product

    from qa.index.chunk import chunk_article
    from qa.index.clean import clean_record

    from qa.core.records import Article
    from qa.core.text import NAME_PHRASE, strip_markers
    from qa.examples import example_questions

    (tmp_path / "open.json").write_text('{"title": "x", "body": "' + '\\"' * 100_000)
    (tmp_path / "tags.html").write_text("<p>Storm news.</p>" + "<a" * 200_000)
    header = "\n".join("".join(p) for p in product("abcdefghij", repeat=5))  # 100,000 lines
    (tmp_path / "header.txt").write_text(f"{header}\n\nadvertisement\n\nThe storm hit the "
                                         "coast.\n\nTen people were hurt.\n")
    with finishes_within(20):  # each took from minutes to hours before
        with pytest.raises(UnusableFileError, match="JSON"):
            load_file(tmp_path / "open.json", 5_000_000)
        records, _ = load_file(tmp_path / "tags.html", 5_000_000)
        assert clean_record(records[0]).text.startswith("Storm news.")
        records, _ = load_file(tmp_path / "header.txt", 5_000_000)
        assert "The storm hit the coast." in clean_record(records[0]).text
        lazy = [Article(id=f"a{i}", path=f"{i}.txt", title="t", text="It was" + " " * 9_000)
                for i in range(3)]
        assert example_questions(lazy, 4) == []
        assert strip_markers("[" + " " * 100_000 + "x") == "[" + " " * 100_000 + "x"
        assert NAME_PHRASE.findall("A-" * 100_000) == []
    spaced = "The storm hit the coast on Monday." + " " * 1_000_000 + "Ten people were hurt."
    chunks = chunk_article(Article(id="s", path="s.txt", title="", text=spaced))
    assert [c.text for c in chunks] == ["The storm hit the coast on Monday.",
                                        "Ten people were hurt."]  # not a 1 MB chunk
