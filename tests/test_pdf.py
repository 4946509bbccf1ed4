"""PDF articles: the text of a page printed from a news site, without the page's furniture,
answered and cited like any other article; PDFs without text, or not PDFs at all, are
skipped with a notice and the rest of the folder is indexed."""

from __future__ import annotations

import contextlib
import json
import shutil
import zlib
from pathlib import Path

import pytest

from qa import QA
from tests.paths import ROOT

#: a two-page article printed to PDF by Chromium (with its running header and footer: the
#: date, the page's title, its address and "1/2"); one paragraph runs over the page break.
FERRY_LEVY = ROOT / "tests" / "files" / "ferry-levy.pdf"
#: a one-page article printed by Chromium with wide line spacing (line-height 1.6), where
#: pdfminer makes every line a text box of its own.
QUARRY = ROOT / "tests" / "files" / "quarry-wide-lines.pdf"
#: a one-page article printed by Chromium whose figure "11-4" (44 pt) and pull quote (30 pt) are
#: set larger than its headline (26 pt), and whose recorded title is not the headline.
RUNWAY = ROOT / "tests" / "files" / "runway-pull-quote.pdf"
#: a valid one-page PDF with nothing written on it, as a scan without OCR is to a reader.
BLANK = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
         b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
         b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
         b"trailer<</Root 1 0 R>>\n%%EOF")


def test_a_pdf_article_is_read_without_its_page_furniture_and_cited(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(FERRY_LEVY, folder / "ferry levy.pdf")
    (folder / "scan.pdf").write_bytes(BLANK)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 the rest of this file was lost")
    qa = QA.build(folder, tmp_path / "index")
    notices = [str(n) for n in qa.last_build.notices]
    assert f"{folder / 'scan.pdf'}: skipped: the PDF holds no text (a scanned page? its text " \
        "would need OCR)" in notices
    assert any(n.startswith(f"{folder / 'broken.pdf'}: refused: not a readable PDF: cut short")
               for n in notices), notices
    assert qa.stats.articles == 1

    answer = qa.answer("Who proposed the ferry levy?")
    assert answer.short.text == "Councillor Aoife Brennan"
    [citation] = answer.citations[:1]
    article = citation.article
    assert article.text[citation.start:citation.end] == citation.quote
    assert "who proposed the measure" in citation.quote
    assert (article.title, article.author, article.source, article.published) == (
        "Harbour council approves ferry levy after six-hour debate", "Maria Quinlan",
        "Coastal Herald", "2025-05-03")
    # the header and footer of each page are gone; the paragraph cut by the page is whole
    assert article.text.startswith("The Tolm harbour council voted 31 to 12 on Tuesday")
    for furniture in ("file:", "1/2", "2/2", " AM", "\ufb01"):
        assert furniture not in article.text, furniture
    assert "will run an extra evening crossing on Fridays and Sundays" in article.text
    assert "day-trippers" in article.text  # a hyphen at a line's end kept where it belongs


def test_the_headline_is_the_largest_type_and_text_near_a_page_edge_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two more pages printed by Chromium with its header and footer: a library story with a
    section label above its headline and a table ending near the foot of page 1; a three-page
    tram story whose headline is also the running header of every page."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ("library-kicker-table.pdf", "tram-strike-3-pages.pdf"):
        shutil.copy(ROOT / "tests" / "files" / name, folder / name)
    settings_cache = tmp_path / "cache"
    monkeypatch.setenv("QA_CACHE_DIR", str(settings_cache))
    qa = QA.build(folder, tmp_path / "index")
    again = QA.build(folder, tmp_path / "index").last_build
    articles = {Path(a.path).name: a for a in qa.store.sample_articles(10)}
    library, tram = articles["library-kicker-table.pdf"], articles["tram-strike-3-pages.pdf"]
    assert (library.title, library.author, library.source, library.published) == (
        "City library to open around the clock from September", "Sofia Lindqvist",
        "Harbour Times", "2025-06-12")  # once "CULTURE": the first type larger than the text
    assert "2024 840,000 862,000" in library.text  # once dropped as a footer
    assert (tram.title, tram.author) == ("Tram strike cancelled", "Petra Novak")  # once lost
    # each PDF is read once: what it holds is kept in the cache by its content
    assert len(list((settings_cache / "pdf-text").glob("*.json"))) == 2
    assert sorted(Path(p).name for p in again.unchanged) == sorted(articles)


def test_the_pdf_reader_runs_only_the_installed_code_and_mends_its_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.index.pdf_text import pdf_to_record

    data = FERRY_LEVY.read_bytes()
    text, fields, _ = pdf_to_record(data, "ferry.pdf")
    planted = tmp_path / "downloads" / "qa"  # a folder named like the package, where one
    planted.mkdir(parents=True)  # runs `qa index .`: once imported by the PDF reader
    (planted / "__init__.py").write_text("raise SystemExit('planted code ran')")
    monkeypatch.chdir(planted.parent)
    assert pdf_to_record(data, "ferry.pdf")[:2] == (text, fields)
    cache = tmp_path / "cache"
    pdf_to_record(data, "ferry.pdf", cache)
    [entry] = (cache / "pdf-text").glob("*.json")
    entry.write_text('{"title": "x"}')  # damaged: once a KeyError for every build
    assert pdf_to_record(data, "ferry.pdf", cache)[:2] == (text, fields)
    assert '"paragraphs"' in entry.read_text()


def _pdf(content: bytes, *, count: bytes = b"1", font: bytes = b"/Type1 /BaseFont /Helvetica",
         pages: bool = True) -> bytes:
    """A hand-made PDF: one page drawing `content` with font F1 (`font`: the font dictionary's
    subtype and the rest), its page tree claiming `count` pages; without `pages`, none."""
    stream = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %s >>" % (b"3 0 R" if pages else b"", count)]
    if pages:
        objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font "
                    b"<< /F1 5 0 R >> >> /Contents 4 0 R >>",
                    b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
                    + b"\nendstream", b"<< /Type /Font /Subtype %s >>" % font]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(
        b"%010d 00000 n \n" % o for o in offsets)
    return pdf + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)


#: one line of text as a PDF draws it.
_LINE = b"BT /F1 12 Tf 50 700 Td (The Welk council met on Friday and agreed the budget.) Tj ET\n"


def test_odd_pdfs_are_read_or_skipped_for_the_reason_they_have(tmp_path: Path) -> None:
    from qa.index.pdf_text import pdf_to_record

    from qa.core.errors import UnusableFileError

    for count in (b"(one)", b"1000000000000"):  # a page tree that says something untrue
        assert pdf_to_record(_pdf(_LINE, count=count), "budget.pdf") == (
            "The Welk council met on Friday and agreed the budget.", {}, None)
    identity = (b"/Type0 /BaseFont /Xyz /Encoding /Identity-H /DescendantFonts [<< /Type /Font "
                b"/Subtype /CIDFontType2 /BaseFont /Xyz /CIDSystemInfo << /Registry (Adobe) "
                b"/Ordering (Identity) /Supplement 0 >> >>]")  # glyphs mapped to no letters
    for data, why in [(_pdf(b"BT /F1 12 Tf 50 700 Td <00260052005800510046004C> Tj ET",
                            font=identity), "the PDF's fonts do not say which letters they "
                       "draw, so its text cannot be read (print it to PDF again, or save it as "
                       "text)"),
                      (_pdf(b"", count=b"0", pages=False), "the PDF has no pages")]:
        with pytest.raises(UnusableFileError) as refused:
            pdf_to_record(data, "odd.pdf")
        assert str(refused.value) == f"odd.pdf: skipped: {why}"


def test_a_pdf_reader_stopped_from_outside_is_not_remembered_as_a_bad_pdf(
        tmp_path: Path) -> None:
    import os
    import signal
    import threading

    from qa.index.pdf_text import pdf_to_record

    from qa.core.errors import UnusableFileError

    # 64k empty drawing operations: the reader is found and stopped long before it is done
    # (and reading it to the end, last, takes a second, not half a minute as 1M did)
    data, cache = _pdf(_LINE + b"q Q " * (4 << 14)), tmp_path / "cache"

    def stopped_by(sent: signal.Signals) -> str:
        outcome: list[object] = []

        def read() -> None:
            try:
                outcome.append(pdf_to_record(data, "budget.pdf", cache))
            except UnusableFileError as exc:
                outcome.append(exc)

        reading = threading.Thread(target=read)
        reading.start()
        child = None
        while child is None and reading.is_alive():  # the reader's process, as the OOM
            for stat in Path("/proc").glob("[0-9]*/stat"):  # killer would find it
                with contextlib.suppress(OSError):
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == os.getpid():
                        child = int(stat.parent.name)
        os.kill(child, sent)
        reading.join()
        return str(outcome[0])

    # the program stopped as a whole (Ctrl+C, a service stopped): no verdict on the PDF
    assert stopped_by(signal.SIGTERM) == "budget.pdf: refused: the PDF reader was stopped " \
        "(signal 15)"
    assert not list(cache.glob("pdf-text/*.json"))
    assert stopped_by(signal.SIGKILL) == ("budget.pdf: refused: the PDF reader was stopped "
                                          "(signal 9); it is read again a day after it failed")
    [entry] = cache.glob("pdf-text/*.json")  # not refused for good, nor read at every build
    with pytest.raises(UnusableFileError, match="stopped"):
        pdf_to_record(data, "budget.pdf", cache)
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "retry_after": 0}))
    assert pdf_to_record(data, "budget.pdf", cache)[0] == "The Welk council met on Friday " \
        "and agreed the budget."  # a day later: read again


def test_a_word_a_browser_broke_at_a_soft_hyphen_is_one_word_again() -> None:
    from collections import Counter

    from qa.index.pdf_text import _joined

    assert _joined(["They discuss the exam\u00ad", "ple of the harbour."], Counter()) == \
        "They discuss the example of the harbour."  # once "exam ple"
    assert _joined(["The U.S.-", "based firm cut costs\u2014", "which rose - and fell."],
                   Counter()) == "The U.S.-based firm cut costs\u2014which rose - and fell."


def test_lines_spaced_wide_are_joined_and_type_larger_than_the_headline_is_text(
        tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(QUARRY, folder)
    shutil.copy(RUNWAY, folder)
    qa = QA.build(folder, tmp_path / "index")
    answer = qa.answer("How many jobs would the quarry expansion protect?")
    article = answer.citations[0].article
    assert article.title == "Quarry expansion approved despite objections from Dunmere villagers"
    assert (article.author, article.source, article.published) == (
        "Helen Okafor", "Fenland Gazette", "2025-03-14")
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 5, paragraphs  # one per paragraph, not one per printed line
    assert paragraphs[0] == ("The county planning committee approved an eastward expansion of "
                             "the Dunmere limestone quarry on Thursday, allowing the operator "
                             "to extract stone for another fifteen years.")
    assert answer.short.text == "48"
    assert answer.citations[0].quote == (
        "The operator, Hallam Aggregates, said the expansion would protect 48 jobs at the site "
        "and that it would plant a 12-hectare woodland screen along the quarry's northern edge "
        "before blasting begins.")
    runway = qa.answer("Who called the runway delay a mistake?", sources=[RUNWAY.name])
    article = runway.citations[0].article
    assert (article.title, article.author, article.source, article.published) == (
        "Lowmoor council backs second runway", "Alice Penrose", "Lowmoor Post", "2025-02-04")
    assert article.text.startswith("11-4\n\nLowmoor council voted on Tuesday")
    assert "\n\nThe vote was eleven to four.\n\n" in article.text
    assert "Dan Mercer" in runway.text
