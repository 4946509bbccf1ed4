"""The Gradio front end, live: a real server (subprocess) over a temporary index of the seeds
plus one small article, driven by headless Chromium (Playwright) and by gradio_client."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from qa.ui.render import citation_html, md_escape
from qa.ui.serve import parse_auth
from qa.ui.uploads import UploadError, safe_name, store_uploads

from tests.live import live_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
AUTH = ("reader", "s3cret-pass")
SEED_QUESTION = "Who was killed by a car bomb in Balashikha?"

def _article(title: str, *paragraphs: str) -> str:
    return "\n\n".join((title, *paragraphs)) + "\n"


LIGHTHOUSE = _article(
    "Harwick reopens its restored lighthouse after a five-year campaign",
    "The Harwick lighthouse, built in 1843 on the northern breakwater, shone again on Saturday "
    "after a restoration that took five years.",
    "The restoration was led by the marine engineer Tomasz Brell, who rebuilt the lantern room "
    "and replaced the rusted gallery railings.",
    "The new lamp was made by the Danish firm Lumora and can be seen from 22 nautical miles "
    "away.",
    "The town's mayor, Agnes Thornby, cut the ribbon in front of a crowd of about two thousand "
    "people.")
CIDER = _article(
    "Orlen cider festival celebrates its fortieth year",
    "The Orlen cider festival was founded by the beekeeper Mira Haldane in 1987 in a barn "
    "behind the village church.",
    "This year more than nine thousand visitors tasted ciders from sixty orchards across the "
    "valley.")
XSS = _article(
    "Quillon Observatory marks its anniversary with an open night",
    "The Quillon Observatory was founded by the astronomer Petra Valdane "
    "<script>window.__xss=1</script> in 1931 on the hill above the town "
    '<img src=x onerror="window.__xss=2">.',
    "Visitors on Friday night looked at Saturn through the original brass refractor.")

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"{CHROMIUM} is missing (apt-get install chromium)")


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A live `qa serve` with a login, over the seeds and the Harwick article."""
    base = tmp_path_factory.mktemp("ui")
    extra = base / "extra"
    extra.mkdir()
    (extra / "harwick_lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    index_dir = base / "index"
    with live_server(["--index-dir", index_dir, "--auth", ":".join(AUTH),
                      "--index", ROOT / "seeds", "--index", extra], base) as live:
        yield {"url": live["url"], "index_dir": index_dir, "base": base}


@pytest.fixture(scope="session")
def client(server: dict):
    from gradio_client import Client

    return Client(server["url"], auth=AUTH, verbose=False)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: dict):
    """A logged-in page showing the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(server["url"])
    pg.fill("input[data-testid=textbox]", AUTH[0])
    pg.fill("input[type=password]", AUTH[1])
    pg.get_by_role("button", name="Login").click()
    pg.wait_for_selector("#qa-question textarea")
    yield pg
    context.close()


def _bot_count(pg) -> int:
    return pg.locator("#qa-chat [data-testid=bot]").count()


def ask_in_browser(pg, question: str) -> dict:
    """Type `question`, press Enter, wait for the answer and its citations."""
    before = _bot_count(pg)
    pg.fill("#qa-question textarea", question)
    started = time.perf_counter()
    pg.press("#qa-question textarea", "Enter")
    pg.wait_for_function(
        "n => document.querySelectorAll('#qa-chat [data-testid=bot]').length > n", arg=before)
    first = time.perf_counter() - started
    pg.wait_for_function(
        "q => document.querySelector('#qa-citations').innerText.includes(q)",
        arg=f"for: {question[:80]}")
    full = time.perf_counter() - started
    text = pg.locator("#qa-chat [data-testid=bot]").last.inner_text()
    labels = pg.locator("#qa-citations label").all_inner_texts()
    return {"text": text, "labels": labels, "first_token_s": first, "full_s": full}


def open_citation(pg, label_part: str) -> dict:
    """Select the first citation whose label contains `label_part`; return the panel."""
    pg.locator("#qa-citations label", has_text=label_part).first.click()
    pg.wait_for_selector("#qa-citation mark")
    return {"mark": pg.inner_text("#qa-citation mark"),
            "context": pg.inner_text("#qa-citation blockquote"),
            "panel": pg.inner_text("#qa-citation")}


def upload_in_browser(pg, path: Path) -> str:
    """Upload one file through the page; return the message shown."""
    if not pg.locator("#qa-upload").is_visible():
        pg.locator("#qa-upload-box").get_by_text("Add articles").click()
    pg.set_input_files("#qa-upload input[type=file]", str(path))
    message = "#qa-upload-msg [data-testid=markdown]"
    pg.wait_for_function(
        "([sel, name]) => { const t = document.querySelector(sel)?.innerText || '';"
        " return /[✅❌ℹ]/.test(t) && t.includes(name); }",
        arg=[message, safe_name(path.name)], timeout=60_000)
    return pg.inner_text(message)


# -- browser ------------------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
def test_browser_answers_with_highlighted_citation(page, tmp_path: Path) -> None:
    status = page.inner_text("#qa-status")
    assert re.search(r"3\s+articles", status) and "MiniLM" in status, status
    assert page.locator("#qa-examples").inner_text().strip()

    result = ask_in_browser(page, SEED_QUESTION)
    assert "Moskalik" in result["text"], result
    assert "Sources" in result["text"]
    moskalik_titles = ("Trump envoy meets Putin", "Trump demands ‘high level’")
    assert any(t in label for label in result["labels"] for t in moskalik_titles), result

    shown = None
    for label in result["labels"]:
        shown = open_citation(page, label.split(" — ")[0])
        if "Moskalik" in shown["mark"]:
            break
    assert shown and "Moskalik" in shown["mark"], shown
    # the reader's short answer: first and in bold in the message, and in bold inside the
    # highlighted quote of citation [1]
    bold = page.locator("#qa-chat [data-testid=bot] strong").first.inner_text().strip()
    open_citation(page, "[1]")
    assert bold and page.inner_text("#qa-citation mark .qa-short").strip() == bold
    assert len(_norm(shown["context"])) > len(_norm(shown["mark"])) + 100  # shown in context
    seeds = _norm(" ".join(p.read_text(encoding="utf-8") for p in (ROOT / "seeds").iterdir()))
    assert _norm(shown["mark"]) in seeds
    assert any(t in shown["panel"] for t in ("The Independent", "The Guardian"))

    shot = tmp_path / "answered-chat.png"  # the answer, with its citation opened
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    follow = ask_in_browser(page, "How old was he?")  # the conversation keeps context
    assert "59" in follow["text"], follow

    none = ask_in_browser(page, "What is the boiling point of mercury on Mars?")
    assert "The articles don't say." in none["text"]
    assert "No passage in the indexed articles answers" in none["text"]
    assert all("related" in label for label in none["labels"]), none

    page.locator("#qa-chat [data-testid=bot]").first.click()  # back to the first answer
    page.wait_for_function("q => document.querySelector('#qa-citations').innerText"
                           ".includes(q)", arg=f"Citations for: {SEED_QUESTION}")
    (tmp_path / "timings.json").write_text(json.dumps(
        {k: result[k] for k in ("first_token_s", "full_s")}))
    print(f"\nscreenshot: {shot}\nEnter -> first token {result['first_token_s']:.2f} s, "
          f"-> full answer {result['full_s']:.2f} s")


@pytest.mark.browser
@needs_chromium
def test_browser_upload_then_ask(page, server: dict, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{ this is not json", encoding="utf-8")
    message = upload_in_browser(page, bad)
    assert "❌" in message and "broken.json" in message and "JSON" in message, message

    good = tmp_path / "orlen cider?.txt"
    good.write_text(CIDER, encoding="utf-8")
    message = upload_in_browser(page, good)
    assert "✅" in message, message
    page.wait_for_function("() => /4\\s+articles/.test("
                           "document.querySelector('#qa-status').innerText)")
    uploads = server["index_dir"] / "uploads"
    assert (uploads / "orlen_cider.txt").read_text(encoding="utf-8") == CIDER
    assert not (uploads / "broken.json").exists()  # refused files are not kept
    result = ask_in_browser(page, "Who founded the Orlen cider festival?")
    assert "Haldane" in result["text"], result
    assert any("Orlen cider festival" in label for label in result["labels"]), result


@pytest.mark.browser
@needs_chromium
def test_browser_refused_and_duplicate_uploads_leave_no_file(page, server: dict,
                                                             tmp_path: Path) -> None:
    from qa.index import open_index

    articles = set(open_index(server["index_dir"]).articles)
    copy = tmp_path / "same as seed.txt"  # a seed article under another name
    copy.write_bytes((ROOT / "seeds" / "000_5213ba787b876419.txt").read_bytes())
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 64)
    assert "duplicate" in upload_in_browser(page, copy)
    assert "❌" in upload_in_browser(page, binary)
    names = {"same as seed.txt", "same_as_seed.txt", "photo.txt"}
    uploads = server["index_dir"] / "uploads"
    assert not names & {p.name for p in uploads.iterdir()}  # only accepted files stay
    assert not names & {p.name for p in (server["base"] / "gradio").rglob("*")}
    assert set(open_index(server["index_dir"]).articles) == articles  # none added or lost


@pytest.mark.browser
@needs_chromium
def test_browser_article_markup_does_not_run(page, tmp_path: Path) -> None:
    evil = tmp_path / "quillon.txt"
    evil.write_text(XSS, encoding="utf-8")
    assert "✅" in upload_in_browser(page, evil)
    result = ask_in_browser(page, "Who founded the Quillon Observatory?")
    assert "Valdane" in result["text"], result
    shown = open_citation(page, "Quillon Observatory")
    assert "<script>window.__xss=1</script>" in shown["mark"]  # shown as text, not run
    assert 'onerror="window.__xss=2"' in shown["mark"]
    assert "<script>" in result["text"]
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#qa-chat script, #qa-citation script").count() == 0


# -- gradio_client ------------------------------------------------------------------------


def test_api_answers_with_citations(client) -> None:
    first = client.predict(question=SEED_QUESTION, api_name="/ask")
    assert first["question"] == SEED_QUESTION and not first["abstained"]
    assert "Moskalik" in first["text"]
    cited = [c for c in first["citations"] if "Moskalik" in c["quote"]]
    assert cited and cited[0]["article"]["title"].startswith(("Trump envoy", "Trump demands"))
    for c in first["citations"]:
        assert f"[{c['n']}]" in first["text"]
        assert "/" not in c["article"]["file"] and "path" not in c["article"]
    history = [{"role": "user", "content": SEED_QUESTION},
               {"role": "assistant", "content": first["text"]}]
    follow = client.predict(question="How old was he?", history=history, api_name="/ask")
    assert "59" in follow["text"], follow["text"]


def test_api_abstains_and_reports_errors(client) -> None:
    out = client.predict(question="What is the boiling point of mercury on Mars?",
                         api_name="/ask")
    assert out["abstained"] and out["text"] == "The articles don't say."
    assert out["citations"] == []
    with pytest.raises(Exception, match="empty"):
        client.predict(question="   ", api_name="/ask")


def test_api_concurrent_questions_do_not_mix(client) -> None:
    cases = {
        "Who led the restoration of the Harwick lighthouse?": ("Brell", "Harwick"),
        "Which firm made the new lamp of the Harwick lighthouse?": ("Lumora", "Harwick"),
        "Who cut the ribbon at the Harwick lighthouse?": ("Thornby", "Harwick"),
        "When was the Harwick lighthouse built?": ("1843", "Harwick"),
        "Who is Dmitry Peskov?": ("Peskov", "Trump"),
        "Who is Steve Witkoff?": ("Witkoff", "Trump"),
        "What did Trump post on Truth Social?": ("bloodshed", "Trump demands"),
        SEED_QUESTION: ("Moskalik", "Trump"),
    }

    def ask(question: str) -> dict:
        return client.predict(question=question, api_name="/ask")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(cases, pool.map(ask, cases), strict=True))
    for question, (word, title) in cases.items():
        out = results[question]
        assert out["question"] == question
        assert word in out["text"], (question, out["text"])
        assert out["citations"][0]["article"]["title"].startswith(title), (question, out)


def test_server_files_are_not_served(server: dict) -> None:
    import httpx

    with httpx.Client(base_url=server["url"]) as http:
        assert http.get("config").status_code == 401  # login required
        assert http.post("login", data=dict(zip(("username", "password"), AUTH,
                                                strict=True))).status_code == 200
        for path in ("/etc/passwd", ROOT / "seeds" / "000_5213ba787b876419.txt",
                     server["index_dir"] / "CURRENT", server["base"] / "server.log"):
            assert http.get(f"gradio_api/file={path}").status_code == 403, path


# -- pure helpers -------------------------------------------------------------------------


class _Article:
    id, title, source, author = "a1", "<b>Bold</b> title", "Src", "Ann <i>"
    published, url, name = "2025-04-25T10:00:00", "javascript:alert(1)", "x.txt"
    text = "Before. <script>alert(1)</script> quoted <img src=x onerror=alert(2)>. After."


class _Citation:
    n, supported, article = 1, True, _Article()
    start = _Article.text.index("<script>")
    end = _Article.text.index(". After")
    quote = _Article.text[start:end]

    def context(self, chars: int = 400) -> tuple[str, str, str]:
        t = self.article.text
        return t[max(0, self.start - chars):self.start], self.quote, t[self.end:self.end + chars]


def test_citation_html_escapes_article_text() -> None:
    html = citation_html(_Citation())
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<mark>&lt;script&gt;" in html and "2025-04-25" in html
    assert "javascript:" not in html  # only http(s) links
    md = md_escape("<img src=x onerror=alert(1)> [1] **b** $$x$$")
    assert "<" not in md and "\\[1\\]" in md and "\\*\\*" in md


def test_upload_names_and_limits(tmp_path: Path) -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\x\\Ré sumé (1).TXT") == "Re_sume_1.txt"
    assert safe_name(".bashrc") == "article.bashrc"
    src = tmp_path / "a b.md"
    src.write_text("# Title\n\nBody text.", encoding="utf-8")
    stored = store_uploads([str(src)], tmp_path / "idx")
    assert stored == [tmp_path / "idx" / "uploads" / "a_b.md"]
    assert store_uploads([str(src)], tmp_path / "idx") == stored  # same content, same file
    src.write_text("# Other\n\nDifferent.", encoding="utf-8")
    assert store_uploads([str(src)], tmp_path / "idx")[0].name == "a_b-2.md"
    exe = tmp_path / "run.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UploadError, match="not an article file"):
        store_uploads([str(exe)], tmp_path / "idx")
    with pytest.raises(UploadError, match="too large"):
        store_uploads([str(src)], tmp_path / "idx", max_bytes=5)
    with pytest.raises(UploadError, match="Too many"):
        store_uploads([str(src)] * 3, tmp_path / "idx", max_files=2)


def test_parse_auth() -> None:
    assert parse_auth("u:p:q") == ("u", "p:q")
    assert parse_auth(None) is None
    for bad in ("nopassword", ":p", "u:"):
        with pytest.raises(ValueError):
            parse_auth(bad)
