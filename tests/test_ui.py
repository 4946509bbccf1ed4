"""The Gradio front end, live: a real server (subprocess) over a temporary index of the seeds
plus one small article, driven by headless Chromium (Playwright) and by gradio_client."""

from __future__ import annotations

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from qa.ui.render import WHOLE_ARTICLE_CHARS, citation_html
from qa.ui.serve import parse_auth
from qa.ui.uploads import UploadError, safe_name, store_uploads

from qa.core.errors import InputError
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


def _login(browser, server: dict, viewport: dict, scheme: str = "light"):
    """A new logged-in page showing the app, its opening card loaded."""
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(server["url"])
    pg.fill("input[data-testid=textbox]", AUTH[0])
    pg.fill("input[type=password]", AUTH[1])
    pg.get_by_role("button", name="Login").click()
    pg.wait_for_selector("#qa-history .qa-card[aria-label='Loaded articles']")
    return pg


@pytest.fixture
def page(browser, server: dict):
    """A logged-in page showing the app at 1280x800."""
    pg = _login(browser, server, {"width": 1280, "height": 800})
    yield pg
    pg.context.close()


def _turns(pg) -> int:
    return pg.locator("#qa-history .qa-turn").count()


def ask_in_browser(pg, question: str) -> dict:
    """Type `question`, press Enter, wait for the finished answer; returns its text, the
    summaries of its sources and timings."""
    before = _turns(pg)
    pg.fill("#qa-question textarea", question)
    started = time.perf_counter()
    pg.press("#qa-question textarea", "Enter")
    pg.wait_for_function("() => /\\w/.test(document.querySelector('#qa-live .qa-answer')"
                         "?.innerText.replace('Searching the articles', '') || '') || "
                         "!document.querySelector('#qa-live .qa-turn')")
    first = time.perf_counter() - started
    pg.wait_for_function("n => document.querySelectorAll('#qa-history .qa-turn').length > n",
                         arg=before)
    full = time.perf_counter() - started
    turn = pg.locator("#qa-history .qa-turn").nth(before)
    return {"turn": turn, "text": turn.locator(".qa-answer, .qa-flag").first.inner_text(),
            "labels": turn.locator("details.qa-cite > summary").all_inner_texts(),
            "first_token_s": first, "full_s": full}


def open_citation(turn, n: int = 1) -> dict:
    """Click chip [n] of an answer; return its opened passage."""
    turn.locator(f"button.qa-chip:text-is('[{n}]')").first.click()
    cite = turn.locator(f"details.qa-cite[id$='-c{n}']")
    cite.locator(".qa-passage > blockquote mark").wait_for(state="visible")
    return {"mark": cite.locator(".qa-passage > blockquote mark").inner_text(),
            "context": cite.locator("blockquote").inner_text(),
            "panel": cite.inner_text(), "cite": cite}


def upload_in_browser(pg, path: Path) -> str:
    """Upload one file through the page; return the message shown."""
    if not pg.locator("#qa-upload").is_visible():
        pg.locator("#qa-upload-box").get_by_text("Add articles").click()
    pg.set_input_files("#qa-upload input[type=file]", str(path))
    message = "#qa-upload-msg"
    pg.wait_for_function(
        "([sel, name]) => { const t = document.querySelector(sel)?.innerText || '';"
        " return /(Added|Not added|Already indexed):/.test(t) && t.includes(name); }",
        arg=[message, safe_name(path.name)], timeout=60_000)
    return pg.inner_text(message)


#: the contrast of an element's text on its own (or its nearest opaque ancestor's) background
_CONTRAST = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = el, back;
  while (bg) { back = rgb(getComputedStyle(bg).backgroundColor);
    if (back.length < 4 || back[3] > 0.99) break; bg = bg.parentElement; }
  if (!bg) back = [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


# -- browser ------------------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
def test_browser_citations_open_in_the_conversation(page, tmp_path: Path) -> None:
    status = page.inner_text("#qa-status")
    assert re.search(r"Ready: 3\s+articles", status) and "model" not in status.lower(), status
    card = page.inner_text("#qa-history .qa-card")
    assert "Harwick reopens its restored lighthouse" in card and "The Guardian" in card
    examples = page.locator("#qa-examples button").all_inner_texts()
    assert len(examples) >= 3 and len({e.split()[0] for e in examples}) >= 2, examples
    assert page.locator("#qa-examples").bounding_box()["y"] < 800  # above the fold (1280x800)

    result = ask_in_browser(page, SEED_QUESTION)
    assert "Moskalik" in result["text"], result
    page.wait_for_function("() => /^Answer: .*Moskalik/s.test(document.querySelector("
                           "'#qa-announce[aria-live=polite]')?.textContent || '')")  # read out
    page.wait_for_timeout(500)  # the opened passage settles: the answer is still in view
    assert page.evaluate("""a => { const r = a.getBoundingClientRect();
        const c = document.querySelector('#qa-chat').getBoundingClientRect();
        return r.top >= Math.max(c.top, 0) && r.top < Math.min(c.bottom, innerHeight); }""",
                         result["turn"].locator(".qa-answer").element_handle())
    turn = result["turn"]
    assert re.search(r"Confidence: \d+%", turn.locator(".qa-confidence").inner_text())
    first = turn.locator("details.qa-cite").first
    assert first.get_attribute("open") is not None  # the first citation opens by itself
    for label in result["labels"]:  # each source line shows its own quote
        assert "“" in label and ("The Independent" in label or "The Guardian" in label)
    assert len(set(result["labels"])) == len(result["labels"])

    shown = open_citation(turn, 1)
    bold = turn.locator(".qa-answer strong").first.inner_text().strip()
    short = shown["cite"].locator(".qa-passage > blockquote mark .qa-short").inner_text()
    assert bold and short == bold
    assert "Moskalik" in shown["mark"]
    assert len(_norm(shown["context"])) > len(_norm(shown["mark"])) + 100  # shown in context
    seeds = _norm(" ".join(p.read_text(encoding="utf-8") for p in (ROOT / "seeds").iterdir()))
    assert _norm(shown["mark"]) in seeds

    whole = shown["cite"].locator("details.qa-whole")
    whole.locator("summary").click()  # "Show the whole article": its full text, quote marked
    text = _norm(whole.locator(".qa-context").inner_text())
    assert text.startswith("US president Donald Trump has urged Kremlin and Kyiv")
    assert len(text) > 5000 and _norm(shown["mark"]) in text
    page.wait_for_function("m => { const r = m.getBoundingClientRect(); return r.top >= 0 && "
                           "r.bottom <= innerHeight; }",  # once below the fold: two scrollers
                           arg=whole.locator("mark").element_handle())

    shot = tmp_path / "answered-chat.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000

    follow = ask_in_browser(page, "How old was he?")  # the conversation keeps context
    assert "59" in follow["text"], follow
    # an earlier answer's citations, by keyboard: focus its chip, Enter opens the passage
    assert first.get_attribute("open") is None  # only the latest answer opens one itself
    turn.locator("button.qa-chip").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("d => d.open", arg=first.element_handle())
    whole.evaluate("d => { d.open = false; }")
    whole.locator("summary").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("d => d.open", arg=whole.element_handle())

    none = ask_in_browser(page, "What is the boiling point of mercury on Mars?")
    assert "The articles don't say." in none["text"]
    assert "No passage in the indexed articles answers" in none["turn"].inner_text()
    related = none["turn"].locator("details.qa-cite[id*='-r']")
    assert related.count() > 0  # related passages, each marking one sentence
    related.first.locator("> summary").click()
    marked = related.first.locator(".qa-passage > blockquote mark").inner_text()
    assert "\n" not in marked.strip() and len(marked) < 400, marked
    assert none["turn"].locator("button.qa-chip").count() == 0
    print(f"\nEnter -> first text {result['first_token_s']:.2f} s, -> full answer "
          f"{result['full_s']:.2f} s")


@pytest.mark.browser
@needs_chromium
def test_browser_copy_gives_plain_text_and_small_things(page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    example = page.locator("#qa-examples button").first
    question = example.inner_text().strip()
    example.click()  # an example question is asked at once
    page.wait_for_selector("#qa-history .qa-turn")
    assert question in page.locator("#qa-history .qa-q").first.inner_text()
    page.click("#qa-ask")  # an empty question says so
    page.wait_for_selector("#qa-live [role=alert]")
    assert "Type a question first" in page.inner_text("#qa-live")
    pasted = " ".join(["Who was killed?"] * 160)  # 2,559 characters: said, and left to shorten
    page.fill("#qa-question textarea", pasted)
    page.click("#qa-ask")
    page.wait_for_function("() => document.querySelector('#qa-live').innerText"
                           ".includes('2,559 characters long')")
    assert "at most 2,000 characters" in page.inner_text("#qa-live")
    assert page.input_value("#qa-question textarea") == pasted
    page.fill("#qa-question textarea", "")
    page.evaluate("""() => { window.__askDisabled = false;
      const b = document.querySelector('#qa-ask');
      new MutationObserver(() => { if (b.disabled) window.__askDisabled = true; })
        .observe(b, {attributes: true}); }""")
    result = ask_in_browser(page, SEED_QUESTION)
    assert page.evaluate("() => window.__askDisabled")  # Ask was disabled while answering
    assert page.locator("#qa-ask").is_enabled()
    result["turn"].locator("button.qa-copy").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "\\" not in copied and "**" not in copied and "Moskalik" in copied, copied
    assert re.search(r"\nSources:\n\[1\] “.+” — ", copied), copied
    label = page.get_by_role("textbox", name="Your question")
    assert label.count() == 1
    label.focus()  # a focus ring that shows (Gradio's own style hid it: 1.1:1 contrast)
    assert label.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + "
                          "getComputedStyle(e).outlineWidth") == "solid 3px"
    assert page.locator("h1").inner_text() == "Article QA"
    assert "\\" not in (result["turn"].get_attribute("aria-label") or "")


@pytest.mark.browser
@needs_chromium
def test_browser_a_question_sent_while_answering_is_answered_next(page) -> None:
    before = _turns(page)
    page.fill("#qa-question textarea", SEED_QUESTION)
    page.press("#qa-question textarea", "Enter")
    page.wait_for_function("() => document.querySelector('#qa-ask').disabled")  # answering
    page.fill("#qa-question textarea", "Which Telegram channel said the bomb was detonated "
                                       "remotely?")
    page.press("#qa-question textarea", "Enter")  # not dropped: asked once the first is done
    page.wait_for_function("n => document.querySelectorAll('#qa-history .qa-turn').length"
                           " >= n + 2", arg=before, timeout=60_000)
    turns = page.locator("#qa-history .qa-turn")
    assert "Moskalik" in turns.nth(before).locator(".qa-answer").inner_text()
    assert "Telegram" in turns.nth(before + 1).locator(".qa-q").inner_text()
    assert "Baza" in turns.nth(before + 1).locator(".qa-answer").inner_text()
    assert page.input_value("#qa-question textarea") == ""


@pytest.mark.browser
@needs_chromium
def test_browser_broad_question_gets_a_digest_citing_both_articles(page) -> None:
    result = ask_in_browser(page, "How do the Guardian and the Independent differ in "
                                  "describing the car bomb?")
    assert result["text"].startswith("Overview from 2 articles"), result["text"]
    labels = " ".join(result["labels"])
    assert "Guardian" in labels and "Independent" in labels, labels
    assert open_citation(result["turn"], 2)["mark"] in result["text"]


@pytest.mark.browser
@needs_chromium
def test_browser_who_wrote_an_article_is_its_byline_and_its_source_shows_it(page) -> None:
    result = ask_in_browser(page, "Who wrote the Guardian article?")
    assert "is by Pjotr Sauer." in result["text"], result["text"]
    opened = open_citation(result["turn"], 1)
    assert "Pjotr Sauer" in opened["panel"]  # the byline beside the article's lead, quoted
    assert opened["mark"].startswith("Donald Trump’s envoy Steve Witkoff has met")


@pytest.mark.browser
@needs_chromium
def test_browser_filters_limit_the_sources(page) -> None:
    toggle = page.locator("#qa-filters button.label-wrap")
    assert toggle.get_attribute("aria-expanded") == "false"  # once: no open/closed state said
    page.locator("#qa-filters").get_by_text("Filter articles").click()
    page.wait_for_function("b => b.getAttribute('aria-expanded') === 'true'",
                           arg=toggle.element_handle())
    page.locator("#qa-sources").get_by_text("The Guardian - UK").click()
    result = ask_in_browser(page, "Who is Steve Witkoff?")
    labels = result["labels"]
    assert labels and all("The Guardian" in label for label in labels), labels
    since = page.locator("#qa-since textarea, #qa-since input")
    since.focus()
    assert since.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.fill("#qa-since textarea, #qa-since input", "last week")
    page.fill("#qa-question textarea", "Who is Yuri Ushakov?")
    page.press("#qa-question textarea", "Enter")
    page.wait_for_selector("#qa-live [role=alert]")  # a bad date says how to write it,
    assert "'last week' is not a date; write it as YYYY-MM-DD" in page.inner_text("#qa-live")
    assert page.input_value("#qa-question textarea") == "Who is Yuri Ushakov?"  # and keeps it


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_browser_highlight_and_buttons_are_readable(browser, server: dict, scheme: str,
                                                    tmp_path: Path) -> None:
    page = _login(browser, server, {"width": 1280, "height": 800}, scheme)
    result = ask_in_browser(page, SEED_QUESTION)
    mark = result["turn"].locator("details.qa-cite[open] .qa-passage > blockquote mark").first
    checks = {"highlight": mark, "ask button": page.locator("#qa-ask"),
              "chip": result["turn"].locator("button.qa-chip").first,
              "answer": result["turn"].locator(".qa-answer"),
              "source line": result["turn"].locator(".qa-cite-src").first,
              "status": page.locator("#qa-status p")}
    ratios = {name: round(el.evaluate(_CONTRAST), 2) for name, el in checks.items()}
    assert all(r >= 4.5 for r in ratios.values()), (scheme, ratios)
    page.screenshot(path=str(tmp_path / f"{scheme}.png"))
    page.context.close()


@pytest.mark.browser
@needs_chromium
def test_browser_phone_passage_is_next_to_its_message(browser, server: dict,
                                                      tmp_path: Path) -> None:
    page = _login(browser, server, {"width": 390, "height": 844})
    box = page.locator("#qa-question textarea").bounding_box()
    assert box["y"] + box["height"] <= 844, box  # the question box shows without scrolling
    ask = page.locator("#qa-ask").bounding_box()  # and takes the width (once half of it)
    assert box["width"] > 2.5 * ask["width"] and ask["x"] + ask["width"] <= 390, (box, ask)
    result = ask_in_browser(page, SEED_QUESTION)
    message = result["turn"].bounding_box()
    mark = result["turn"].locator("details.qa-cite[open] .qa-passage > blockquote mark").first
    mark.scroll_into_view_if_needed()
    message = result["turn"].bounding_box()
    box = mark.bounding_box()
    assert box["y"] + box["height"] - message["y"] < 844, (message, box)  # one screen
    page.screenshot(path=str(tmp_path / "phone.png"))
    page.context.close()


@pytest.mark.browser
@needs_chromium
def test_browser_phone_opening_card_lists_three_articles_and_counts_the_rest(browser) -> None:
    from qa.ui.assets import APP_CSS
    from qa.ui.render import welcome_html

    from qa.core.records import Article

    articles = [Article(id=str(i), path=f"{i}.txt", title=f"Story number {i} with a long "
                        "headline about the harbour", text="x", source="Coastal Herald")
                for i in range(21)]
    for width, shown, more in ((390, 3, "… and 18 more"), (1280, 6, "… and 15 more")):
        pg = browser.new_page(viewport={"width": width, "height": 844})
        pg.set_content(f"<style>{APP_CSS}</style>{welcome_html(articles, 21)}")
        visible = [t for t in pg.locator(".qa-card li").all() if t.is_visible()]
        assert len(visible) == shown + 1 and visible[-1].inner_text() == more
        pg.close()


@pytest.mark.browser
@needs_chromium
def test_browser_upload_then_ask(page, server: dict, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{ this is not json", encoding="utf-8")
    message = upload_in_browser(page, bad)
    assert "Not added" in message and "broken.json" in message and "JSON" in message, message
    assert "no article was added" not in message  # the file's own line says why
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")  # once a RecursionError and a traceback
    message = upload_in_browser(page, deep)
    assert "Not added" in message and "deep.json: refused: JSON nested more than 64 levels " \
        "deep" in message and "Recursion" not in message, message
    document = tmp_path / "report.docx"
    document.write_bytes(b"PK\x03\x04 not an article")
    message = upload_in_browser(page, document)
    assert "Not added" in message and "not an article file" in message, message
    assert page.locator("#qa-upload .error, #qa-upload [class*=error]").count() == 0

    good = tmp_path / "orlen cider?.txt"
    good.write_text(CIDER, encoding="utf-8")
    message = upload_in_browser(page, good)
    assert "Added" in message and "chunks" not in message, message
    page.wait_for_function("() => /4\\s+articles/.test("
                           "document.querySelector('#qa-status').innerText)")
    uploads = server["index_dir"] / "uploads"
    assert (uploads / "orlen_cider.txt").read_text(encoding="utf-8") == CIDER
    assert not (uploads / "broken.json").exists()  # refused files are not kept
    result = ask_in_browser(page, "Who founded the Orlen cider festival?")
    assert "Haldane" in result["text"], result
    assert any("Orlen cider festival" in label or "orlen" in label.lower()
               for label in result["turn"].locator("details.qa-cite").all_inner_texts())


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
    assert "Not added" in upload_in_browser(page, binary)
    names = {"same as seed.txt", "same_as_seed.txt", "photo.txt"}
    uploads = server["index_dir"] / "uploads"
    assert not names & {p.name for p in uploads.iterdir()}  # only accepted files stay
    assert not names & {p.name for p in (server["base"] / "gradio").rglob("*")}
    assert set(open_index(server["index_dir"]).articles) == articles  # none added or lost


@pytest.mark.browser
@needs_chromium
def test_browser_an_uploaded_article_can_be_removed_with_its_file(page, browser, server: dict,
                                                                  tmp_path: Path) -> None:
    from qa.index import open_index

    articles = set(open_index(server["index_dir"]).articles)
    other = _login(browser, server, {"width": 1280, "height": 800})  # another visitor's page
    ferry = tmp_path / "gozo ferry.txt"
    ferry.write_text("Gozo ferry timetable\n\nThe Gozo ferry ran every 45 minutes in June, "
                     "its operator said on Monday.\n", encoding="utf-8")
    assert "Added" in upload_in_browser(page, ferry)
    assert "every 45 minutes" in ask_in_browser(page, "How often did the Gozo ferry run in "
                                                      "June?")["text"]
    assert _offers_upload(other, page, "gozo_ferry.txt")  # the other page's list follows
    uploads = server["index_dir"] / "uploads"
    held = {p.name for p in uploads.iterdir()}
    page.locator("#qa-uploaded input").click()
    page.get_by_role("option", name="gozo_ferry.txt").click()
    page.locator("#qa-remove").click()
    page.wait_for_function("() => /Removed:/.test(document.querySelector('#qa-upload-msg')"
                           ".innerText)")
    assert "gozo_ferry.txt; the index now holds" in page.inner_text("#qa-upload-msg")
    assert {p.name for p in uploads.iterdir()} == held - {"gozo_ferry.txt"}  # the others stay
    assert set(open_index(server["index_dir"]).articles) == articles
    assert "45 minutes" not in ask_in_browser(page, "How often did the Gozo ferry run in "
                                                    "June?")["text"]
    assert not _offers_upload(other, page, "gozo_ferry.txt")  # (once: until reloaded)
    other.context.close()


def _offers_upload(pg, changed, name: str) -> bool:
    """Whether `pg`'s list of uploaded articles offers `name`, once its status line shows
    what the page `changed` (where an article was added or removed) shows: both come from
    one status tick."""
    from qa.ui.app import STATUS_SECONDS

    pg.wait_for_function("t => document.querySelector('#qa-status').innerText === t",
                         arg=changed.inner_text("#qa-status"), timeout=3000 * STATUS_SECONDS)
    if not pg.locator("#qa-uploaded").is_visible():
        pg.locator("#qa-upload-box").get_by_text("Add articles").click()
    pg.locator("#qa-uploaded input").click()
    offered = pg.get_by_role("option", name=name).count() > 0
    pg.keyboard.press("Escape")
    return offered


def test_a_page_open_to_anyone_removes_nothing(index_copy: Path, tmp_path: Path) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    qa = QA(index_dir=index_copy)
    ferry = tmp_path / "ferry.txt"
    ferry.write_text("Ferry fares\n\nA return ticket cost 4.65 euros in June.\n",
                     encoding="utf-8")
    (stored,), _ = store_uploads([str(ferry)], index_copy)
    qa.add_files([str(stored)])
    chat = Handlers(EngineLoader.loaded(qa), removable=False)  # no login, not this machine only
    message, *_ = chat.remove_articles(["ferry.txt"])
    assert "Not removed" in message and "needs a login" in message
    assert stored.exists() and qa.stats.articles == 3


def test_only_uploaded_files_can_be_removed_and_a_failed_removal_puts_them_back(
        tmp_path: Path) -> None:
    from qa.ui.uploads import UploadError, removing_uploads, uploaded_names

    index = tmp_path / "index"
    uploads = index / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "kept.txt").write_text("kept", encoding="utf-8")
    (index / "CURRENT").write_text("gen-1", encoding="utf-8")
    for names in (["../CURRENT"], ["kept.txt", "missing.txt"], ["."], [""]):
        with pytest.raises(UploadError, match="not an uploaded article"), \
                removing_uploads(names, index):
            pass
    assert uploaded_names(index) == ["kept.txt"] and (index / "CURRENT").exists()
    with pytest.raises(InputError, match="the store is down"), \
            removing_uploads(["kept.txt"], index) as removed:  # indexing then fails
        assert removed == [uploads / "kept.txt"] and uploaded_names(index) == []
        raise InputError("the store is down")
    assert (uploads / "kept.txt").read_text(encoding="utf-8") == "kept"  # put back
    (uploads / "other.txt").write_text("other", encoding="utf-8")
    (uploads / ".other.txt.removing").mkdir()  # where it would be set aside: cannot be
    (uploads / ".other.txt.removing" / "x").write_text("", encoding="utf-8")
    with pytest.raises(OSError), removing_uploads(["kept.txt", "other.txt"], index):
        pass
    assert uploaded_names(index) == ["kept.txt", "other.txt"]  # the first put back too
    shutil.rmtree(uploads / ".other.txt.removing")
    with removing_uploads(["kept.txt", "other.txt"], index):
        pass
    assert list(uploads.iterdir()) == []


@pytest.mark.browser
@needs_chromium
def test_browser_article_markup_does_not_run(page, tmp_path: Path) -> None:
    evil = tmp_path / "quillon.txt"
    evil.write_text(XSS, encoding="utf-8")
    assert "Added" in upload_in_browser(page, evil)
    result = ask_in_browser(page, "Who founded the Quillon Observatory?")
    assert "Valdane" in result["text"], result
    cite = result["turn"].locator("details.qa-cite").first
    mark = cite.locator(".qa-passage > blockquote mark").inner_text()
    assert "<script>window.__xss=1</script>" in mark  # shown as text, not run
    assert 'onerror="window.__xss=2"' in mark
    assert "<script>" in result["text"]
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#qa-chat script").count() == 0


@pytest.mark.browser
@needs_chromium
def test_the_starting_page_waits_out_the_handover_without_an_error_page(browser) -> None:
    """The "starting" page closes before the chat binds the port: the page open meanwhile
    must wait for the chat, not land on the browser's "refused to connect"."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from qa.ui.placeholder import StartingPage

    from tests.live import free_port

    class Chat(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>chat</title><p id='chat'>the chat</p>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None: ...

    port = free_port()
    starting = StartingPage("127.0.0.1", port)
    page = browser.new_page()
    shown: list[str] = []
    page.on("framenavigated", lambda frame: shown.append(frame.url))
    page.goto(f"http://127.0.0.1:{port}/")
    assert "starting" in page.inner_text("body")
    starting.close()
    time.sleep(2.5)  # nothing listens: the page's looks fail meanwhile
    chat = ThreadingHTTPServer(("127.0.0.1", port), Chat)
    threading.Thread(target=chat.serve_forever, daemon=True).start()
    try:
        page.wait_for_selector("#chat", timeout=15_000)
        assert page.inner_text("#chat") == "the chat"
        assert not [url for url in shown if url.startswith("chrome-error:")], shown
    finally:
        chat.shutdown()
        chat.server_close()
        page.close()


def test_first_start_listens_at_once(tmp_path: Path) -> None:
    """`qa serve --index` on a new index: the page answers HTTP within 5 s and shows the
    indexing progress; questions are answered once the index is ready."""
    import httpx
    from gradio_client import Client

    headless = {name: "" for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    with live_server(["--index-dir", tmp_path / "index", "--index", ROOT / "seeds", "--open"],
                     tmp_path, headless, ready=False) as live:
        assert live["listening_s"] < 5, live["listening_s"]  # the "starting" page

        def wait_for(line: str) -> str:
            deadline = time.monotonic() + 180
            while line not in (log := live["log"].read_text()) and time.monotonic() < deadline:
                time.sleep(0.2)
            return log

        config = httpx.get(f"{live['url']}config").text
        log = live["log"].read_text()
        assert "Indexing the articles" in config or "Ready:" in log, config[:2000]
        log = wait_for("Ready:")
        assert "share=True" not in log and "public link" not in log
        assert "Note: no web browser found here for --open: open the address below in " \
            "one.\nChat on http" in log  # --open said so, rather than did nothing
        answer = Client(live["url"], verbose=False).predict(question=SEED_QUESTION,
                                                            api_name="/ask")
        assert "Moskalik" in answer["text"]


@pytest.mark.browser
@needs_chromium
def test_articles_dropped_in_the_folder_or_indexed_beside_the_server_are_answered(
        browser, index_copy: Path, tmp_path: Path) -> None:
    """`qa serve --index FOLDER` indexes files added to or deleted from FOLDER while it runs,
    and answers from what another `qa index` wrote; the page's status line follows."""
    import subprocess
    import sys

    from gradio_client import Client

    folder, other = tmp_path / "news", tmp_path / "other"
    folder.mkdir()
    other.mkdir()
    (folder / "harwick_lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    with live_server(["--index-dir", index_copy, "--index", folder], tmp_path) as live:
        client = Client(live["url"], verbose=False)
        pg = browser.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(live["url"])
        status = "document.querySelector('#qa-status')?.innerText"
        pg.wait_for_function(f"() => /Ready: 3 articles/.test({status})")

        def answer_until(question: str, done, seconds: float = 60) -> dict:
            deadline = time.monotonic() + seconds
            while not done(out := client.predict(question=question, api_name="/ask")) \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
            return out

        cider = "Who founded the Orlen cider festival?"
        assert "Haldane" not in client.predict(question=cider, api_name="/ask")["text"]
        title, body = CIDER.split("\n\n", 1)
        (folder / "orlen cider.txt").write_text(
            f"{title}\n\nBy Ann Lee, Orlen Gazette, 3 May 2025\n\n{body}", encoding="utf-8")
        out = answer_until(cider, lambda a: "Haldane" in a["text"])
        assert "Haldane" in out["text"] and \
            out["citations"][0]["article"]["file"] == "orlen cider.txt", out
        pg.wait_for_function(f"() => /Ready: 4 articles/.test({status})")
        assert "changed: " in live["log"].read_text()
        card = "#qa-history .qa-card[aria-label='Loaded articles']"
        pg.wait_for_function(f"() => document.querySelector(\"{card}\")?.innerText"
                             ".includes('Orlen cider festival')")  # no question asked here yet

        pg.get_by_text("Filter articles").click()
        pg.get_by_label("Orlen Gazette").check()  # its only article is deleted next

        (folder / "orlen cider.txt").unlink()
        out = answer_until(cider, lambda a: "Haldane" not in a["text"])
        assert "Haldane" not in out["text"], out
        pg.wait_for_function(f"() => /Ready: 3 articles/.test({status})")
        pg.wait_for_function("() => !document.body.innerText.includes('Orlen Gazette')")
        result = ask_in_browser(pg, cider)  # once: refused by Gradio on every question
        assert "Haldane" not in result["text"] and result["text"].strip(), result

        (other / "observatory.txt").write_text(XSS, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "qa", "index", str(other), "--index-dir",
                        str(index_copy)], check=True, capture_output=True, timeout=300)
        out = answer_until("Who founded the Quillon Observatory?",
                           lambda a: "Valdane" in a["text"], seconds=15)
        assert "Valdane" in out["text"], out
        pg.wait_for_function(f"() => /Ready: 4 articles/.test({status})")
        pg.close()


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


def test_a_quote_that_opens_with_quotation_marks_is_not_quoted_again() -> None:
    class Spoken(_Citation):
        article = type("Spoken", (_Article,), {"text": "“Any talks must wait,” he said. After."})
        start, end = 0, article.text.index(" After")

    assert "[1] “Any talks must wait,” he said.</summary>" in citation_html(Spoken()) \
        .replace(' <span class="qa-cite-src">— Src</span>', "")
    assert "[1] “&lt;script&gt;" in citation_html(_Citation())  # (once “““Any talks...)


def test_each_part_of_a_two_part_answer_leads_with_its_short_answer_in_bold(seed_qa) -> None:
    from qa.ui.render import answer_html

    answer = seed_qa.answer("Who was killed by a car bomb in Balashikha, and how old was he?")
    html = answer_html(1, answer.question, answer)
    assert '<strong class="qa-short">Yaroslav Moskalik</strong> — ' in html
    assert '<strong class="qa-short">59</strong> — ' in html and "**" not in html


def test_an_answer_shows_its_confidence_and_flags_a_low_one(seed_qa) -> None:
    from dataclasses import replace

    from qa.ui.render import answer_html, answer_plain

    from qa.render import render_answer

    answer = seed_qa.answer("Who was killed by a car bomb in Balashikha?")
    sure, unsure = replace(answer, confidence=0.91), replace(answer, confidence=0.19)
    assert '<span class="qa-confidence">Confidence: 91%</span></p>' in answer_html(1, "Q", sure)
    low = "Confidence: 19% (low: check that the quote answers the question)"
    assert f'<span class="qa-confidence qa-flag">{low}</span></p>' in answer_html(1, "Q", unsure)
    assert low in answer_plain(unsure) and low in render_answer(unsure)
    assert not replace(answer, confidence=0.4996).low_confidence  # shown as 50%: not low
    assert replace(answer, confidence=0.494).low_confidence
    assert replace(answer, confidence=0.495).confidence_line == "Confidence: 50%"
    none = seed_qa.answer("What is the boiling point of mercury on Mars?")
    assert "Confidence" not in answer_html(1, "Q", none) + render_answer(none)


def test_a_long_article_cited_in_many_turns_keeps_each_reply_small() -> None:
    from qa.ui.app import _conversation

    from qa.core.records import Answer, Article, Citation

    text = "".join(f"Paragraph {n}: the council met again and talked. " for n in range(20_000))
    quote = "Paragraph 12345: the council met again and talked."
    at = text.index(quote)
    article = Article(id="a", path="/x/minutes.txt", title="Minutes", text=text)
    cited = Citation(1, article, quote, at, at + len(quote), 0.9)
    answer = Answer(question="q", text="**again** — x [1]", citations=[cited])
    html = _conversation([{"question": "q", "answer": answer.text, "result": answer}] * 20, "")
    assert len(text) > 1_000_000 and len(html) < 20 * 3 * WHOLE_ARTICLE_CHARS  # not 20 copies
    cite = citation_html(cited)
    whole = cite[cite.index('class="qa-whole"'):]
    assert f"Show {WHOLE_ARTICLE_CHARS:,} characters around the quote (the article has " \
        f"{len(text):,})" in whole
    before, after = whole.split(f"<mark>{quote}</mark>")
    assert "Paragraph 12000:" in before and "Paragraph 12600:" in after  # centred on it
    assert "Paragraph 0:" not in whole and "Paragraph 19999:" not in whole
    short = citation_html(_Citation())  # all of a short article is in the context already:
    assert "qa-whole" not in short and "…" not in short  # shown once, not twice
    assert "Before. <mark>&lt;script&gt;" in short and "After.</blockquote>" in short


def test_example_questions_are_of_several_kinds() -> None:
    from qa.core.records import Article
    from qa.examples import example_questions

    text = ("About 31,000 swims were recorded there last year. The pool was shut there because "
            "it failed. "  # "there": nothing to point back to in a question
            "This year more than nine thousand visitors tasted ciders from sixty orchards. "
            "The vote was delayed because the mayor was ill. Crowds gathered in Harwick. "
            "The founder, Mira Haldane, spoke. Then Mira Haldane left.")
    articles = [Article(id=f"a{i}", path=f"{i}.txt", title="t", text=text, source=source)
                for i, source in enumerate(["The Coastal Herald UK", "Valley Times - UK"])]
    assert example_questions(articles, 5) == [
        "Who is Mira Haldane?", "Why was the vote delayed?",
        "How many visitors tasted ciders from sixty orchards?", "What happened in Harwick?",
        "How do the Coastal Herald and Valley Times describe Mira Haldane?"]
    odd = ("It has to take that into account and because it is late. Saudi Arabia thanked "
           "Interpol, and Saudi Arabia paid. Officials in Saudi Arabia agreed. Twelve reports "
           "quoted senior U.S. officials.")
    questions = example_questions([Article(id="b", path="b.txt", title="t", text=odd)], 5)
    assert questions == ["What happened in Saudi Arabia?"]  # no "Who is Saudi Arabia?"
    apart = [Article(id="c", path="c.txt", title="t", source="Coastal Herald",
                     text="Lisa Brown has to move out of her rental house because the owner "
                          "sold it. Lisa Brown said so."),
             Article(id="d", path="d.txt", title="t", source="Valley Times",
                     text="The Orlen bridge reopened. Tom Reid cut the ribbon.")]
    questions = example_questions(apart, 5)  # no "How do ... describe the story?" either
    assert not [q for q in questions if q.startswith(("How do ", "Why has"))], questions


def test_upload_names_and_limits(tmp_path: Path) -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\x\\Ré sumé (1).TXT") == "Ré_sumé_1.txt"  # accents kept
    assert safe_name("Zürich — Seebad öffnet.txt") == "Zürich_Seebad_öffnet.txt"
    assert safe_name("a\u202eb.txt") == "a_b.txt" and safe_name("e\u0301cole.md") == "école.md"
    assert len(safe_name("東京" * 100 + ".txt").encode()) <= 204
    assert safe_name(".bashrc") == "article.bashrc"
    assert safe_name("ferry.html.bak") == "ferry.html.bak"  # named as the user named it
    assert safe_name("..a...b.txt") == "a.b.txt" and safe_name("...txt") == "article.txt"
    src = tmp_path / "a b.md"
    src.write_text("# Title\n\nBody text.", encoding="utf-8")
    stored, refused = store_uploads([str(src)], tmp_path / "idx")
    assert (stored, refused) == ([tmp_path / "idx" / "uploads" / "a_b.md"], [])
    assert store_uploads([str(src)], tmp_path / "idx")[0] == stored  # same content, same file
    src.write_text("# Other\n\nDifferent.", encoding="utf-8")
    assert store_uploads([str(src)], tmp_path / "idx")[0][0].name == "a_b-2.md"
    exe = tmp_path / "run.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UploadError, match="not an article file"):
        store_uploads([str(exe)], tmp_path / "idx")
    # one bad file among good ones: the good ones are stored, the bad one named
    stored, refused = store_uploads([str(exe), str(src)], tmp_path / "idx")
    assert [p.name for p in stored] == ["a_b-2.md"]
    assert refused == ["run.exe: not an article file (use .txt, .md, .html, .htm, .json, "
                       ".jsonl, .pdf)."]
    with pytest.raises(UploadError, match="too large"):
        store_uploads([str(src)], tmp_path / "idx", max_bytes=5)
    with pytest.raises(UploadError, match="Too many"):
        store_uploads([str(src)] * 3, tmp_path / "idx", max_files=2)
    # what the uploads hold together is bounded (anyone who reaches the page may upload)
    held = sum(p.stat().st_size for p in (tmp_path / "idx" / "uploads").iterdir())
    third = tmp_path / "third.md"
    third.write_text("# Third\n\nMore text.", encoding="utf-8")
    with pytest.raises(UploadError, match=r"^third\.md: the articles uploaded here are at "
                                          r"their limit \(0 MB together\); whoever runs"):
        store_uploads([str(third)], tmp_path / "idx", max_total=held + 5)
    stored, _ = store_uploads([str(third)], tmp_path / "idx",
                              max_total=held + third.stat().st_size)
    assert [p.name for p in stored] == ["third.md"]
    # a file that cannot be stored takes back what this upload stored, nothing stored before
    new = tmp_path / "new.md"
    new.mkdir()  # a file that cannot be read
    with pytest.raises(UploadError, match=r"new\.md: could not be stored"):
        store_uploads([str(src), str(new)], tmp_path / "idx")
    assert (tmp_path / "idx" / "uploads" / "a_b-2.md").read_text(encoding="utf-8") == \
        "# Other\n\nDifferent."
    src.unlink()  # gone from the upload cache before it was stored
    with pytest.raises(UploadError, match="no longer on the server"):
        store_uploads([str(src)], tmp_path / "idx")


def test_upload_messages_name_files_not_server_folders(index_copy: Path,
                                                       tmp_path: Path) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA
    from tests.paths import GUARDIAN, SEEDS

    engine = QA(index_dir=index_copy)
    chat = Handlers(EngineLoader.loaded(engine))
    cached = tmp_path / "gradio" / "0123abcd"  # where Gradio keeps an upload
    cached.mkdir(parents=True)
    copy = cached / "copy.txt"
    copy.write_text((SEEDS / GUARDIAN).read_text())
    message, *_ = chat.add_articles([str(copy)])
    assert f"copy.txt: duplicate: same article as {GUARDIAN}; stored once" in message
    assert str(SEEDS) not in message and str(index_copy) not in message
    # the cached copy is gone (expired, or another session's identical upload took it)
    message, *_ = chat.add_articles([str(cached / "gone.txt")])
    assert "gone.txt: the upload is no longer on the server; add it again." in message
    assert str(tmp_path) not in message
    assert not [p for p in (index_copy / "uploads").iterdir()]
    # a picture beside an article: the article is added, the picture named
    cached.mkdir(parents=True, exist_ok=True)
    (cached / "cider.txt").write_text(CIDER, encoding="utf-8")
    (cached / "bild.png").write_bytes(b"\x89PNG")
    message, *_ = chat.add_articles([str(cached / "cider.txt"), str(cached / "bild.png")])
    assert "<b>Added:</b> cider.txt: 1 article" in message, message
    assert "<b>Not added:</b> bild.png: not an article file" in message
    # an article stored from a folder whose name holds spaces and brackets
    private = tmp_path / "bob smith" / "HR cases (confidential)"
    private.mkdir(parents=True)
    (private / "dismissal notes.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    engine.add_files([str(private)])
    cached.mkdir(parents=True, exist_ok=True)
    (cached / "notes.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    message, *_ = chat.add_articles([str(cached / "notes.txt")])
    assert "notes.txt: duplicate: same article as dismissal notes.txt; stored once" in \
        message and "bob smith" not in message and "confidential" not in message, message
    # a path a request made up: Gradio's cache itself (a folder) is refused, not deleted
    message, *_ = chat.add_articles([str(cached.parent)])
    assert "<b>Not added:</b> gradio: not an article file" in message, message
    assert "Errno" not in message and cached.parent.is_dir()


def test_uploading_a_file_again_keeps_the_copy_already_stored(index_copy: Path,
                                                              tmp_path: Path) -> None:
    """Its article may be stored from another place by now (a folder that got the same text,
    then a rebuild); the upload is then the copy it falls back to when that place goes."""
    from qa.index import build_index
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA
    from qa.core.settings import Settings
    from tests.paths import SEEDS

    def upload() -> str:
        cached = tmp_path / "gradio" / "0123abcd"
        cached.mkdir(parents=True, exist_ok=True)
        (cached / "cider.txt").write_text(CIDER, encoding="utf-8")
        return Handlers(EngineLoader.loaded(QA(index_dir=index_copy))).add_articles(
            [str(cached / "cider.txt")])[0]

    assert "<b>Added:</b> cider.txt: 1 article" in upload()
    colleague = tmp_path / "news"
    colleague.mkdir()
    (colleague / "cider-copy.txt").write_text(CIDER, encoding="utf-8")
    build_index([SEEDS, colleague], Settings.from_env(index_dir=index_copy), rebuild=True)
    message = upload()
    assert "cider.txt: duplicate: same article as cider-copy.txt" in message, message
    assert (index_copy / "uploads" / "cider.txt").read_text(encoding="utf-8") == CIDER
    (colleague / "cider-copy.txt").unlink()
    build_index([SEEDS, colleague], Settings.from_env(index_dir=index_copy))
    answer = QA(index_dir=index_copy).answer("Who founded the Orlen cider festival?")
    assert "Haldane" in answer.text and \
        answer.citations[0].article.path.endswith("uploads/cider.txt"), answer.text


def test_messages_lose_server_folders_but_not_dates_or_addresses(seed_qa) -> None:
    from qa.ui.app import Handlers, _without_folders
    from qa.ui.startup import EngineLoader

    assert _without_folders("same article as /srv/news/a.txt; stored once") == \
        "same article as a.txt; stored once"
    kept = "see https://example.com/news/a.html, or 'x' (/tmp)"
    assert _without_folders(kept) == kept
    chat = Handlers(EngineLoader.loaded(seed_qa))
    [(_, _, alert, _, _)] = chat.respond("Who was killed?", [], None, None, None, "2025/13/45",
                                         None)
    assert "Published on or after: &#x27;2025/13/45&#x27; is not a date; write it as " \
        "YYYY-MM-DD." in alert


def test_a_fault_while_indexing_uploads_keeps_them_and_the_index(index_copy: Path,
                                                                 tmp_path: Path) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    chat = Handlers(EngineLoader.loaded(QA(index_dir=index_copy)))
    cached = tmp_path / "gradio" / "0123abcd"
    cached.mkdir(parents=True)
    (cached / "council.txt").write_text(
        "Council backs new bridge\n\nThe city council voted 31 to 12 on Tuesday to build a "
        "footbridge over the Wear, after two years of debate about its cost.")

    def progress(*_: object, **__: object) -> None:  # the page's progress bar breaks
        raise RuntimeError("websocket closed")

    message, status, _ = chat.add_articles([str(cached / "council.txt")], progress=progress)
    assert "indexing failed on the server (its log says why); add the files again" in message
    assert "websocket" not in message and str(index_copy) not in message
    assert [p.name for p in (index_copy / "uploads").iterdir()] == ["council.txt"]  # kept
    assert "Ready: 2 articles" in status
    answer = QA(index_dir=index_copy).answer("Who was killed by a car bomb in Balashikha?")
    assert "Moskalik" in answer.text


def test_a_failed_load_is_shown_without_the_servers_folders(tmp_path: Path) -> None:
    from qa.ui.app import Handlers, _for_visitors
    from qa.ui.startup import EngineLoader

    from qa.core.errors import InputError, QAError
    from qa.core.settings import Settings

    def load(report: object) -> None:
        raise InputError(f"No article files found in {tmp_path / 'news'}")

    loader = EngineLoader(load, Settings()).start()
    assert loader.wait(30) is None
    assert Handlers(loader).status() == ("The articles could not be loaded: No article "
                                         "files found in news")

    def fault(report: object) -> None:  # a fault, not the user's: once `qa serve` went on
        raise FileNotFoundError(2, "No such file", str(tmp_path / "news" / "gone.txt"))

    loader = EngineLoader(fault, Settings()).start()
    assert loader.wait(30) is None  # `qa serve` then stops with this one line, exit 1
    assert isinstance(loader.error, QAError) and str(loader.error).startswith(
        "Loading the articles failed: FileNotFoundError: [Errno 2] No such file")
    assert Handlers(loader).status() == ("The articles could not be loaded: internal error "
                                         "(FileNotFoundError)")

    def unreachable(report: object) -> None:  # once: host, port, user and database shown
        from qa.core.errors import StoreUnavailableError

        raise StoreUnavailableError("Cannot reach the PostgreSQL store at postgresql://app@"
                                    "db.internal:5432/news: password authentication failed")

    loader = EngineLoader(unreachable, Settings()).start()
    assert loader.wait(30) is None
    assert Handlers(loader).status() == ("The articles could not be loaded: The article store "
                                         "cannot be reached just now.")

    def elsewhere(report: object) -> None:
        raise InputError("The store at postgresql://app@db.internal/news holds no articles.")

    loader = EngineLoader(elsewhere, Settings()).start()
    assert loader.wait(30) is None
    assert Handlers(loader).status() == ("The articles could not be loaded: The store at "
                                         "[address hidden] holds no articles.")
    for message, shown in (  # in brackets, before punctuation, and psycopg's own words
            ("not a usable PostgreSQL URL (postgresql://app@127.0.0.1:99999/news): bad",
             "not a usable PostgreSQL URL ([address hidden]): bad"),
            ("The store at postgresql://app@db/news, built with model X, holds none.",
             "The store at [address hidden], built with model X, holds none."),
            ('refused: connection to server at "10.0.0.7", port 5432 failed',
             "refused: connection to server [address hidden] failed")):
        assert _for_visitors(InputError(message)) == shown


def test_the_status_line_says_when_articles_are_being_added(index_copy: Path,
                                                            tmp_path: Path) -> None:
    import threading

    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    engine = QA(index_dir=index_copy)
    chat = Handlers(EngineLoader.loaded(engine))
    assert chat.status().endswith("passages.")
    (tmp_path / "cider.txt").write_text(CIDER, encoding="utf-8")
    embedding, release = threading.Event(), threading.Event()

    def progress(done: int, total: int) -> None:
        embedding.set()
        release.wait(30)

    adding = threading.Thread(target=engine.add_files, args=([tmp_path / "cider.txt"],),
                              kwargs={"progress": progress})
    adding.start()
    assert embedding.wait(60)
    assert chat.status().startswith("Ready: 2 articles") and \
        chat.status().endswith("Adding new articles…")
    release.set()
    adding.join(60)
    assert chat.status().startswith("Ready: 3 articles") and chat.status().endswith("passages.")


def test_a_publisher_ticked_before_its_articles_went_does_not_block_questions(seed_qa) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    chat = Handlers(EngineLoader.loaded(seed_qa))

    def ask(sources: list[str]) -> dict:
        *_, (_, _, _, turns, _) = chat.respond("Who was killed by a car bomb in Balashikha?",
                                               [], None, None, sources, None, None)
        return turns[-1]

    turn = ask(["Fresh Gazette", "The Guardian - UK"])  # once: "no indexed article is from"
    assert turn["result"] is not None and turn["result"].citations, turn
    assert {c.article.source for c in turn["result"].citations} == {"The Guardian - UK"}
    assert ask(["Fresh Gazette"])["error"] == (
        "No indexed article is from Fresh Gazette any more: untick it under Filter articles "
        "to search all articles.")


def test_the_date_boxes_take_dates_as_people_write_them_and_name_themselves(seed_qa) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    chat = Handlers(EngineLoader.loaded(seed_qa))

    def ask(since: str) -> list[tuple]:
        return list(chat.respond("Who was killed by a car bomb in Balashikha?", [], None, None,
                                 None, since, None))

    for typed, day in [("2025/04/01", "2025-04-01"), ("1 May 2025", "2025-05-01")]:
        *_, (_, _, _, turns, _) = ask(typed)
        assert turns[-1]["answer"] == seed_qa.answer(
            "Who was killed by a car bomb in Balashikha?", since=day).text
    # a mistyped date is said at once (not "since must be a date as ..."), and the question
    # stays in its box to ask again: nothing is cleared, no turn is added
    [(box, conversation, alert, turns, _)] = ask("soon")
    assert "Published on or after: &#x27;soon&#x27; is not a date; write it as YYYY-MM-DD." \
        in alert and 'role="alert"' in alert
    assert box == conversation == turns == {"__type__": "update"}  # gr.skip(): all kept
    # a range no article can be in is said the same way, by the boxes' names (it was a
    # failed turn saying "since (...) is after until (...)")
    [(box, conversation, alert, turns, _)] = list(chat.respond(
        "Who was killed by a car bomb in Balashikha?", [], None, None, None, "2025-04-26",
        "20 April 2025"))
    assert "Published on or after (2025-04-26) is after published on or before (2025-04-20)" \
        in alert and 'role="alert"' in alert
    assert box == conversation == turns == {"__type__": "update"}


def test_enter_in_an_empty_box_is_left_alone_and_ask_says_why(seed_qa) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    chat = Handlers(EngineLoader.loaded(seed_qa))
    # Enter pressed twice: the second runs once the first has emptied the box
    assert list(chat.submitted("  ", [], None, None, None, None, None)) == \
        [tuple({"__type__": "update"} for _ in range(5))]
    [(_, _, alert, _, _)] = list(chat.respond("", [], None, None, None, None, None))
    assert "Type a question first." in alert
    *_, (_, _, _, turns, _) = chat.submitted("Who was killed by a car bomb in Balashikha?", [],
                                             None, None, None, None, None)
    assert "Moskalik" in turns[-1]["answer"]


def test_a_fault_of_the_server_is_logged_not_shown_and_the_chat_goes_on(
        index_copy: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import gradio as gr
    from qa.ui.app import UNEXPECTED, Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    engine = QA(index_dir=index_copy)
    chat = Handlers(EngineLoader.loaded(engine))

    def fault(*args: object, **kwargs: object) -> None:  # e.g. a file of the server's gone
        raise RuntimeError("cannot map /srv/article-qa/private/reader.onnx")

    monkeypatch.setattr(engine.reader, "read", fault)
    *_, (_, _, _, turns, button) = chat.respond("Who was killed by a car bomb in Balashikha?",
                                                [], None, None, None, None, None)
    assert turns[-1]["error"] == UNEXPECTED  # once: the message, server path and all
    assert button.interactive is True and button.value == "Ask"  # once: left disabled
    with pytest.raises(gr.Error) as raised:
        chat.ask("Who was killed by a car bomb in Balashikha?")
    assert raised.value.message == UNEXPECTED
    assert "/srv/article-qa/private" in caplog.text  # for whoever runs the server
    monkeypatch.undo()
    *_, (_, _, _, turns, _) = chat.respond("Who was killed by a car bomb in Balashikha?",
                                           turns, None, None, None, None, None)
    assert "Moskalik" in turns[-1]["answer"]


def test_open_pages_share_one_look_at_the_status(seed_qa) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    chat = Handlers(EngineLoader.loaded(seed_qa))
    looks = []
    status = chat.status
    chat.status = lambda: looks.append(1) or status()  # type: ignore[method-assign]
    line, shown, card, publishers, examples, uploaded = chat.changed_status("", [])
    assert len(examples.samples) == 4 and uploaded.choices == []
    assert line == shown and "Ready: 2 articles" in line and "Loaded articles" in card
    assert [value for _, value in publishers.choices] == ["The Guardian - UK",
                                                          "The Independent UK"]
    for _ in range(50):  # 50 pages ticking at once: one look at the store
        assert chat.changed_status(shown, [])[1] == shown
    assert len(looks) == 1


def test_serve_refuses_a_missing_index_folder_before_it_listens(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qa.cli import cli
    from qa.core.errors import InputError

    missing = tmp_path / "nope"
    result = CliRunner().invoke(cli, ["serve", "--index-dir", str(tmp_path / "index"),
                                      "--index", str(missing), "--port", "1"])
    assert isinstance(result.exception, InputError)
    assert str(result.exception) == f"--index {missing}: no such file or folder"
    assert "Chat on" not in result.output


def test_parse_auth() -> None:
    assert parse_auth("u:p:q") == ("u", "p:q")
    assert parse_auth(None) is None
    for bad in ("nopassword", ":p", "u:"):
        with pytest.raises(InputError, match="auth"):
            parse_auth(bad)


def test_a_question_is_shown_as_the_engine_reads_it_not_turned_round() -> None:
    from qa.ui.render import pending_html

    shown = pending_html("Who was killed\u202e in Balashikha by a car bomb?", "")
    assert "Who was killed in Balashikha by a car bomb?" in shown and "\u202e" not in shown


def test_the_still_indexing_alert_is_taken_back_once_the_articles_are_loaded(seed_qa) -> None:
    import threading

    from qa.ui.app import STILL_INDEXING, Handlers
    from qa.ui.startup import EngineLoader

    release = threading.Event()
    loader = EngineLoader(lambda report: (release.wait(30), seed_qa)[1],
                          seed_qa.settings).start()
    chat = Handlers(loader)
    *_, (_, _, live, _, _) = chat.respond("Who was killed?", [], None, None, None, None, None)
    assert STILL_INDEXING in live
    release.set()
    assert loader.wait(30) is seed_qa
    assert chat.refresh([], None, live)[-1] == ""  # once it stayed under the opening card


def test_a_follow_up_shows_how_it_was_read(seed_qa) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    chat = Handlers(EngineLoader.loaded(seed_qa))
    *_, (_, first, _, turns, _) = chat.respond("Who was killed by a car bomb in Balashikha?",
                                               [], None, None, None, None, None)
    *_, (_, second, _, turns, _) = chat.respond("How old was he?", turns, None, None, None,
                                                None, None)
    assert "Read as" not in first  # asked as it stands: nothing to say
    *_, (_, hidden, _, _, _) = chat.respond("Who is Yuri\u202e Ushakov?\u200b", [], None, None,
                                            None, None, None)
    assert "Read as" not in hidden  # only invisible characters taken out: nothing to say
    assert second.count("Read as") == 1
    assert '<p class="qa-note qa-read-as">Read as: How old was Yaroslav Moskalik?</p>' in second
    assert '<strong class="qa-short">59</strong>' in second


def test_an_upload_into_an_index_whose_folder_name_holds_a_hash_sign_stays(
        index_copy: Path, tmp_path: Path) -> None:
    from qa.ui.app import Handlers
    from qa.ui.startup import EngineLoader

    from qa import QA

    index_dir = tmp_path / "news#1"  # an upload's path is not a JSON record's ("feed.jsonl#1")
    shutil.copytree(index_copy, index_dir)
    chat = Handlers(EngineLoader.loaded(QA(index_dir=index_dir)))
    cached = tmp_path / "gradio" / "0123abcd"
    cached.mkdir(parents=True)
    (cached / "cider.txt").write_text(CIDER, encoding="utf-8")
    message, *_ = chat.add_articles([str(cached / "cider.txt")])
    assert "<b>Added:</b> cider.txt: 1 article" in message, message
    assert [p.name for p in (index_dir / "uploads").iterdir()] == ["cider.txt"]  # was deleted
    again = QA.build(index_dir / "uploads", index_dir=index_dir)  # and then its article
    assert "Mira Haldane" in again.answer("Who founded the Orlen cider festival?").text
