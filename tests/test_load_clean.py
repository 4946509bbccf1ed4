"""Loading and cleaning: seed metadata, chrome removed, every format, every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qa.index.clean import clean_record
from qa.index.html_text import html_to_record
from qa.index.load import find_files, load_file

from qa.core.errors import InputError, UnusableFileError
from tests.paths import GUARDIAN, INDEPENDENT, SEEDS

CHROME = ["Get all your news in one place", "100’s of premium titles", "Start reading",
          "Sign up to read this article", "Already a member? Sign in here", "Related Stories",
          "Top stories on inkl right now", "Our Picks", "Fourteen days free", "Download the app",
          "One app. One membership.", "100+ trusted global sources"]


def _article(path: Path):
    records, _ = load_file(path, 5_000_000)
    return clean_record(records[0])


def test_seed_metadata_is_lifted_out_of_the_text() -> None:
    independent = _article(SEEDS / INDEPENDENT)
    assert independent.title == ("Trump demands ‘high level’ Moscow-Kyiv meeting as Russian "
                                 "general killed by car bomb")
    assert independent.source == "The Independent UK"
    assert independent.author == "Andy Gregory and Alex Croft"
    assert independent.section == "World"
    guardian = _article(SEEDS / GUARDIAN)
    assert guardian.title == "Trump envoy meets Putin hours after Moscow killing of Russian general"
    assert guardian.source == "The Guardian - UK"
    assert guardian.author == "Pjotr Sauer"
    assert guardian.text.startswith("Donald Trump’s envoy Steve Witkoff has met Vladimir Putin")
    assert guardian.text.endswith("his methodical approach and thoughtfulness.”")


def test_chrome_publisher_lines_and_captions_leave_the_text() -> None:
    for name in (INDEPENDENT, GUARDIAN):
        article = _article(SEEDS / name)
        for chrome in CHROME:
            assert chrome not in article.text, (name, chrome)
        assert article.source not in article.text.split("\n")
    independent = _article(SEEDS / INDEPENDENT)
    assert "(AP)" not in independent.text and "(Reuters/Sofiia Gatilova)" not in independent.text
    assert len(independent.captions) == 4
    assert independent.captions[0].endswith("close to a peace deal (AP)")


def test_plain_text_gets_a_title_from_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Harbour reopens\n\nThe harbour reopened on Monday after repairs.\n\n"
                    "Fishing boats returned within hours.\n")
    article = _article(path)
    assert article.title == "Harbour reopens"
    assert article.text.startswith("The harbour reopened")


def test_cnn_story_title_is_its_first_sentence(tmp_path: Path) -> None:
    path = tmp_path / "cnn.txt"
    path.write_text("PARIS, France (CNN) -- The museum reopened on Monday. Crowds queued.\n\nMore.")
    article = _article(path)
    assert article.title == "The museum reopened on Monday."
    assert article.source == "CNN"
    path.write_text("(CNN) -- Golf was banned in the region. It is back.")
    article = _article(path)
    assert article.title == "Golf was banned in the region." and article.source == "CNN"
    path.write_text("(CNN) -- U.S. President George W. Bush told Congress on Monday to act.\n\n"
                    "Lawmakers agreed.")  # not cut at "U.S." or "W."
    assert _article(path).title == "U.S. President George W. Bush told Congress on Monday to act."


@pytest.mark.parametrize("lead", [
    'LONDON, England (CNN) -- He has been a singing barber in "Sweeney Todd."',  # ends in ."
    "(CNN) -- Depp is back",  # a dateline: the story's first words, however short
])
def test_a_short_lead_paragraph_stays_in_the_text(tmp_path: Path, lead: str) -> None:
    path = tmp_path / "cnn.txt"
    path.write_text(f"{lead}\n\n\n\nDepp is back as bank robber John Dillinger.\n\n"
                    "Now, actor Johnny Depp plays him in a new film.\n")
    article = _article(path)
    assert article.text.startswith(lead) and article.source == "CNN"
    assert article.title.startswith(("He has been", "Depp is back"))


def test_a_link_line_ending_in_a_guillemet_is_page_chrome(tmp_path: Path) -> None:
    path = tmp_path / "cnn.txt"
    path.write_text("Depp returns\n\nDepp plays John Dillinger.\n\n"
                    "In pictures: Johnny Depp's iconic roles »\n\nThe film opens Friday.")
    article = _article(path)
    assert "In pictures" not in article.text and "Friday" in article.text
    path.write_text("Le film\n\nDepp joue Dillinger.\n\n« C'est un grand film », a dit le "
                    "critique »\n\nLe film sort vendredi.")
    assert "« C'est un grand film »" in _article(path).text  # French quotes are not links
    quote = ("Grève des dockers\n\n« Nous ne céderons pas, a dit le syndicaliste.\n\n"
             "» Nous irons jusqu'au bout de cette réforme »\n\nLa grève continue.")
    path.write_text(quote)  # a quote running into the next paragraph, opened by "»"
    assert "Nous irons jusqu'au bout de cette réforme »" in _article(path).text
    path.write_text("Grève\n\n« Nous irons jusqu'au bout », a dit le maire mardi. »\n\n"
                    "La grève continue.")
    assert _article(path).text.startswith("« Nous irons")  # a French lead, not a headline


def test_a_chrome_line_inside_an_article_drops_itself_only(tmp_path: Path) -> None:
    path = tmp_path / "strike.txt"
    path.write_text("Hospital strike called off\n\nBy Ana Ruiz, Canal News, 5 March 2025\n\n"
                    "Nurses called off a planned strike after a last-minute pay deal.\n\n"
                    "Related stories\n\n"  # once: the rest of the article went, unsaid
                    "The deal gives nurses a 6 percent rise over two years, the union said.\n\n"
                    "Advertisement\n\n"  # once: the headline read as a publisher's line
                    "Union leader Kate Moss said members would vote next week.")
    article = _article(path)
    assert article.text == (
        "Nurses called off a planned strike after a last-minute pay deal.\n\n"
        "The deal gives nurses a 6 percent rise over two years, the union said.\n\n"
        "Union leader Kate Moss said members would vote next week.")
    assert (article.title, article.author, article.source, article.published) == (
        "Hospital strike called off", "Ana Ruiz", "Canal News", "2025-03-05")
    path.write_text("Strike ends\n\nNurses called off a planned strike on Wednesday.\n\n"
                    "Related stories\n\nNurses in Leeds vote on pay\n\nDoctors' strike ends")
    assert _article(path).text == "Nurses called off a planned strike on Wednesday."


def test_a_json_body_written_as_html_becomes_its_text(tmp_path: Path) -> None:
    path = tmp_path / "cms.jsonl"  # as content management systems and feeds export articles
    path.write_text(json.dumps({
        "title": "Crossing opens", "source": "Canal News",
        "body": "<p>A new zebra crossing opened on Main Street.</p><p>It was requested for "
                "<strong>five years</strong>, said councillor&nbsp;Ana Ruiz &amp; others.</p>"})
        + "\n" + json.dumps({"title": "Sums", "body": "Sales rose as 3 < 4 and 5 > 2."})
        + "\n" + json.dumps({"title": "Posted", "content": "The <b>ferry</b> sailed.\n\nIt "
                             "was <a href='x'>late</a> again.\r\n \r\nNobody minded."})
        + "\n", encoding="utf-8")
    records, _ = load_file(path, 100_000)
    assert [r.text for r in records] == [
        "A new zebra crossing opened on Main Street.\n\nIt was requested for five years, said "
        "councillor Ana Ruiz & others.", "Sales rose as 3 < 4 and 5 > 2.",
        "The ferry sailed.\n\nIt was late again.\n\nNobody minded."]  # (its paragraphs kept)


def test_an_agency_dateline_dates_the_article(tmp_path: Path) -> None:
    path = tmp_path / "libraries.txt"
    for lead, published in [
            ("ELLERY, Feb. 20, 2025 — The city will close two branch libraries.", "2025-02-20"),
            ("PARIS, France, Sept. 3, 2024 (AP) -- Leaders met on Monday.", "2024-09-03"),
            ("LONDON, March 3, 2025 - Ministers met.", "2025-03-03"),
            ("LONDON (CNN) -- Ministers met on March 3, 2025.", "")]:
        path.write_text(f"Libraries to close\n\n{lead}", encoding="utf-8")
        article = _article(path)  # once undated: every --since/--until left it out
        assert (article.published, article.text) == (published, lead)


def test_json_array_and_jsonl_objects_become_articles(tmp_path: Path) -> None:
    items = [{"title": "Dam opens", "body": "The new dam opened on Tuesday in Kariba.",
              "source": "Herald", "author": ["A. Moyo", "B. Dube"], "url": "https://x.test/1",
              "published_at": "2025-04-01"},
             {"headline": "Bridge closes", "text": "The old bridge closed for repairs.",
              "publisher": "Gazette"}]
    array = tmp_path / "feed.json"
    array.write_text(json.dumps(items))
    lines = tmp_path / "feed.jsonl"
    lines.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    for path in (array, lines):
        records, _ = load_file(path, 5_000_000)
        articles = [clean_record(r) for r in records]
        assert [a.title for a in articles] == ["Dam opens", "Bridge closes"]
        assert articles[0].source == "Herald" and articles[1].source == "Gazette"
        assert articles[0].author == "A. Moyo and B. Dube"
        assert articles[0].published == "2025-04-01" and articles[0].url == "https://x.test/1"
        assert articles[0].text == "The new dam opened on Tuesday in Kariba."
        assert articles[1].path.endswith("#2")


def test_json_exports_as_feeds_write_them_are_read_and_records_without_text_are_named(
        tmp_path: Path) -> None:
    newsapi = {"status": "ok", "totalResults": 2, "articles": [
        {"source": {"id": None, "name": "Reuters"}, "author": [{"name": "Ann Lee"},
                                                               {"name": "Bo Chen"}],
         "title": "Ferries cancelled", "publishedAt": "2025-06-03T08:00:00Z",
         "content": "All ferries to the islands were cancelled because of high winds."},
        {"source": {"name": "AP"}, "title": "Harbour wall", "published": "Wed, 05 Mar 2025 "
         "10:00:00 +0000", "body": [
            "The council approved the harbour wall.", "", "Work starts in June."]}]}
    feed = tmp_path / "newsapi.json"
    feed.write_text(json.dumps(newsapi))
    records, notices = load_file(feed, 5_000_000)
    ferries, wall = (clean_record(r) for r in records)
    assert (ferries.source, ferries.author, ferries.published) == (
        "Reuters", "Ann Lee and Bo Chen", "2025-06-03")  # (the day, as every date is shown)
    assert ferries.text.startswith("All ferries") and wall.source == "AP"
    assert wall.published == "2025-03-05"  # once shown as the feed wrote it
    assert wall.text == "The council approved the harbour wall.\n\nWork starts in June."
    assert notices == []

    lines = tmp_path / "feed.jsonl"
    lines.write_text(json.dumps({"title": "No body", "source": "X"}) + "\n"
                     + json.dumps({"title": "B", "body": "Ferry cancelled."}) + "\n")
    records, notices = load_file(lines, 5_000_000)  # once: the first record vanished unsaid
    assert [r.text for r in records] == ["Ferry cancelled."]
    assert [(Path(n.path).name, n.action) for n in notices] == [("feed.jsonl#1", "skipped")]
    assert "record 1 has no body/text/content/article/story/articleBody field" in notices[0].message
    (tmp_path / "one.json").write_text(json.dumps({"title": "Only a title"}))
    with pytest.raises(UnusableFileError, match=r"no record has a body/text/.* field"):
        load_file(tmp_path / "one.json", 5_000_000)


def test_html_page_keeps_the_story_and_drops_scripts_and_navigation(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>Site | Flood warning</title>"
                    "<meta property='og:site_name' content='Daily Post'>"
                    "<meta name='author' content='Jo Lee'><script>var x = 'evil';</script></head>"
                    "<body><nav>Home | World</nav><h1>Flood warning</h1>"
                    "<p>Rivers rose &amp; fields flooded.</p><p>Schools closed early.</p>"
                    "<footer>© Daily Post</footer></body></html>")
    article = _article(path)
    assert article.title == "Flood warning"
    assert article.source == "Daily Post" and article.author == "Jo Lee"
    assert article.text == "Rivers rose & fields flooded.\n\nSchools closed early."


def test_html_chrome_marked_by_class_or_outside_the_article_leaves_the_text(
        tmp_path: Path) -> None:
    story = ("<p>About 300 homes in Shrewsbury were evacuated overnight.</p>"
             "<aside class='related'><h3>Related stories</h3><a>Storm Henk</a></aside>"
             "<p>The river is expected to peak on Thursday.</p>")
    page = tmp_path / "flood.html"
    page.write_text(
        "<html><head><title>Flood | The Midland Post</title></head><body>"
        "<div class='cookie-banner'>We use cookies to improve your experience.</div>"
        "<div id='site-menu'><a>Home</a> | <a>News</a> | <a>Sport</a></div>"
        "<div class='top'><p>Subscribe for £1 a month to read every story.</p></div>"
        f"<main><article><h1>Severn flood warning</h1><p class='byline'>By Gareth Evans</p>"
        f"<time datetime='2025-01-09'>9 January 2025</time>{story}</article>"
        "<div class='share-bar'>Share on Facebook</div></main>"
        "<div class='footer'><div>Privacy policy | Terms | Política de cookies</div></div>"
        "<p>Sign up to our newsletter.</p></body></html>")
    article = _article(page)
    assert (article.title, article.author, article.published) == (
        "Severn flood warning", "Gareth Evans", "2025-01-09")
    assert article.text == ("About 300 homes in Shrewsbury were evacuated overnight.\n\n"
                            "The river is expected to peak on Thursday.")
    # without an <article>: the classes still say what is chrome
    bare = tmp_path / "bare.html"
    bare.write_text("<body><div id='menu'><a>Portada</a> | <a>Deportes</a></div>"
                    "<h1>Jara gana las primarias</h1><p>Jara ganó el domingo.</p>"
                    "<div class='footer'>Suscríbete | Aviso legal</div></body>")
    assert _article(bare).text == "Jara ganó el domingo."
    # labels that CMSs put on the page and the story are not chrome; a <li> or <p> marked as
    # chrome ends where the next one starts; a line that only starts with a date stays
    story = "<p>The harbour reopened on Monday after the storm.</p>"
    for page, text in [
            (f"<body class='single has-sidebar'><article class='post category-social "
             f"tag-transport'>{story}</article></body>", ""),
            (f"<ul><li class='share'>Share<li>Tweet</ul>{story}", "Tweet\n\n"),
            (f"<p class='newsletter'>Sign up<p>Read on.</p>{story}", "Read on.\n\n"),
            (f"<h1>T</h1><h2>2024-05-01 timetable changes</h2><p>0612345678</p>{story}",
             "2024-05-01 timetable changes\n\n0612345678\n\n")]:
        body, fields = html_to_record(page)
        assert body == text + "The harbour reopened on Monday after the storm."
        assert "published" not in fields


def _html_article(html: str) -> tuple[str, dict[str, str]]:
    """The article an HTML page gives: its cleaned text and its title and author."""
    from qa.index.load import RawRecord

    article = clean_record(RawRecord("page.html", *html_to_record(html)))
    return article.text, {"title": article.title, "author": article.author}


def test_html_keeps_every_word_of_the_story_apart_and_nothing_hidden() -> None:
    """Table cells, definitions and minor headings were glued together ("Maria Lopez12,400");
    a paywall or opinion body was dropped whole; an article's own header (headline, byline)
    was chrome; hidden, screen-reader-only and video fallback text was kept; teasers below
    the story joined it; all <h1>s made one title."""
    text, _ = _html_article(
        "<article><h1>Results</h1><p>The count finished on Monday night.</p><table><tr><th>"
        "Candidate</th><th>Votes</th></tr><tr><td>Maria Lopez</td><td>12,400</td></tr></table>"
        "<dl><dt>Cost</dt><dd>4 million euros</dd></dl><h5>Reaction</h5>Critics called it "
        "rushed.<hr>Supporters disagreed.</article>")
    assert text.split("\n\n") == ["The count finished on Monday night.", "Candidate | Votes",
                                    "Maria Lopez | 12,400", "Cost", "4 million euros",
                                    "Reaction", "Critics called it rushed.",
                                    "Supporters disagreed."]
    for body in ("article-body paywall", "content__article-body comment-body"):
        text, _ = _html_article(f"<article><h1>Mayor resigns</h1><div class='{body}'><p>The "
                                "mayor stepped down on Friday after an audit.</p></div></article>")
        assert text == "The mayor stepped down on Friday after an audit."
    text, fields = _html_article(
        "<body><h1>The Daily Bugle</h1><header>Site menu</header><article><header><h1>Mayor "
        "resigns<br>after audit</h1><p>The city's leader quits.</p></header><p>The mayor "
        "<a href=x>stepped down<span class=sr-only> (opens in a new window)</span></a> on "
        "Friday.</p><video>Your browser does not support the video tag.</video><div hidden>"
        "Loading comments</div><div style='display: none'>3 free articles left</div></article>"
        "<section><article><h3>Bridge reopens</h3></article></section></body>")
    assert fields["title"] == "Mayor resigns after audit"
    assert text == "The city's leader quits.\n\nThe mayor stepped down on Friday."
    _, fields = _html_article("<head><meta property='article:author' content='https://www."
                              "facebook.com/bugle'><meta name=author content='Jane Doe'></head>"
                              "<article><p>The mayor stepped down on Friday.</p></article>")
    assert fields["author"] == "Jane Doe"


def test_an_abbreviation_spelled_out_is_no_photo_credit(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text("Health plan\n\nThe government unveiled its plan on Monday.\n\nWhat it "
                    "means for the National Health Service (NHS)\n\nA nurse at work in Leeds "
                    "(Reuters)\n\nHospitals will get more money, ministers said.")
    article = clean_record(load_file(path, max_bytes=10_000)[0][0])
    assert "National Health Service (NHS)" in article.text
    assert article.captions == ("A nurse at work in Leeds (Reuters)",)


def test_footnotes_soft_hyphens_and_schema_org_records_keep_what_they_say(
        tmp_path: Path) -> None:
    """A Markdown footnote's text was deleted as a link definition; an HTML soft hyphen split
    a word; a schema.org record (headline, datePublished, articleBody) was "no article text"
    and an RSS pubDate no date."""
    (tmp_path / "notes.md").write_text("# Levy\n\nThe levy rose by 2%.[^1]\n\n[^1]: Published "
                                       "by the council.\n")
    (tmp_path / "page.html").write_text("<article><p>Die Bundes&shy;regierung tagte am Montag."
                                        "</p></article>")
    (tmp_path / "items.jsonl").write_text(
        json.dumps({"headline": "Dam breaks", "datePublished": "2025-03-04",
                    "articleBody": "The Varn dam broke on Tuesday night."}) + "\n"
        + json.dumps({"title": "Mill closes", "pubDate": "2025-03-05",
                      "body": "The Kell mill closed its doors."}) + "\n")
    articles = {Path(r.path).name: clean_record(r) for name in ("notes.md", "page.html",
                                                                "items.jsonl")
                for r in load_file(tmp_path / name, max_bytes=10_000)[0]}
    assert articles["notes.md"].text.endswith("[^1]: Published by the council.")
    assert articles["page.html"].text == "Die Bundesregierung tagte am Montag."
    assert [(a.title, a.published, a.text) for n, a in articles.items() if "jsonl" in n] == [
        ("Dam breaks", "2025-03-04", "The Varn dam broke on Tuesday night."),
        ("Mill closes", "2025-03-05", "The Kell mill closed its doors.")]


def test_a_front_matter_value_on_indented_lines_or_with_a_comment_is_read_whole(
        tmp_path: Path) -> None:
    """"title: >-" gave the title ">-", and "# draft" after a value stayed in it."""
    path = tmp_path / "mayor.md"
    path.write_text("---\ntitle: >-\n  Mayor resigns\n  after audit\nauthor: Jane Doe  # staff"
                    "\nsource: \"The # Bugle\"\n---\n\nThe mayor stepped down on Friday.\n")
    article = clean_record(load_file(path, max_bytes=10_000)[0][0])
    assert (article.title, article.author, article.source) == \
        ("Mayor resigns after audit", "Jane Doe", "The # Bugle")


def test_markdown_emphasis_over_a_wrapped_line_loses_its_marks_within_a_paragraph() -> None:
    from qa.index.markdown_text import markdown_to_record

    assert markdown_to_record("The plan was **entirely\nunacceptable**, _withdrawn\nby Friday_."
                              "\n\nNot *this\n\nacross* paragraphs.")[0] == (
        "The plan was entirely\nunacceptable, withdrawn\nby Friday.\n\nNot *this\n\nacross* "
        "paragraphs.")


def test_markdown_tables_html_and_entities_read_as_text(tmp_path: Path) -> None:
    """A table kept its pipes and rule, HTML its tags and comments, "&mdash;" and a front
    matter's "&amp;" stayed as written."""
    path = tmp_path / "results.md"
    path.write_text("---\ntitle: Tom &amp; Jerry win\n---\n\nThe count ended.<!-- more -->\n\n"
                    "| Candidate | Votes |\n|-----------|------:|\n| Maria Lopez | 12,400 |\n\n"
                    "It cost &euro;5 million &mdash; a record.<br>Next, <b>AT&T</b> and 3 < 4.\n")
    article = clean_record(load_file(path, max_bytes=10_000)[0][0])
    assert article.title == "Tom & Jerry win"
    assert article.text == ("The count ended.\n\nCandidate | Votes\nMaria Lopez | 12,400\n\n"
                            "It cost €5 million — a record.\nNext, AT&T and 3 < 4.")


def test_a_plain_text_header_block_and_a_dated_agency_dateline_give_their_metadata() -> None:
    """"Headline / By ... / date" on three lines was all left in the text with no author or
    date; "LONDON, March 3, 2025 (AP) —" gave the date but not the agency."""
    from qa.index.load import RawRecord

    article = clean_record(RawRecord("x.txt", "Mayor resigns after audit\nBy Jane Doe\n"
                                               "March 4, 2025\n\nThe mayor stepped down on "
                                               "Friday.\n\nHe said nothing more.", {}))
    assert (article.title, article.author, article.published) == \
        ("Mayor resigns after audit", "Jane Doe", "2025-03-04")
    assert article.text == "The mayor stepped down on Friday.\n\nHe said nothing more."
    agency = clean_record(RawRecord("y.txt", "Storm hits\n\nLONDON, March 3, 2025 (AP) — A "
                                             "storm hit the coast on Monday.\n\nMore.", {}))
    assert (agency.source, agency.published) == ("AP", "2025-03-03")


def test_what_the_loaders_fixed_keeps_working_on_pages_written_otherwise() -> None:
    """Regressions the fixes above made at first: a kicker above an <article>'s headline put
    headline and byline into the text; a live blog's posts were cut to the longest;
    aria-hidden on the page's wrapper (a dialog open) dropped the story; a front matter's
    nested author became "name: Jane Doe twitter: janedoe"; a JSON body's date paragraphs
    were deleted."""
    from qa.index.load import _body
    from qa.index.markdown_text import markdown_to_record

    text, fields = _html_article(
        "<article><header><span class=kicker>Politics</span><h1>Mayor resigns</h1><p>By Jane "
        "Doe</p></header><p>The mayor stepped down on Friday after an audit.</p></article>")
    assert (text, fields) == ("The mayor stepped down on Friday after an audit.",
                              {"title": "Mayor resigns", "author": "Jane Doe"})
    text, _ = _html_article("<h1>Election live</h1><article><p>Polls opened at 7am across "
                            "the country, with queues reported early.</p></article><article><p>"
                            "Turnout was high by noon in the north, officials said, with queues "
                            "in cities.</p></article>")
    assert text.startswith("Polls opened at 7am") and text.endswith("in cities.")
    text, _ = _html_article("<div aria-hidden=true><article><p>The mayor stepped down on "
                            "Friday.</p></article></div><div class=modal>We value your privacy."
                            "</div>")
    assert text == "The mayor stepped down on Friday."
    assert markdown_to_record("---\ntitle: Mayor resigns\nauthor:\n  name: Jane Doe\n  "
                              "twitter: janedoe\n---\n\nText.\n")[1]["author"] == "Jane Doe"
    assert _body({"content": "<b>How it unfolded</b>\n\nMarch 3, 2025\n\nThe mayor <em>"
                             "resigned</em>."}) == \
        "How it unfolded\n\nMarch 3, 2025\n\nThe mayor resigned."


def test_an_html_page_is_read_in_the_encoding_it_declares(tmp_path: Path) -> None:
    path = tmp_path / "wybory.html"
    path.write_bytes("<html><head><meta charset='windows-1250'></head><body><article><p>"
                     "Premier powiedział we wtorek, że wybory odbędą się w maju.</p></article>"
                     "</body></html>".encode("cp1250"))
    [record], notices = load_file(path, max_bytes=10_000)
    assert "powiedział we wtorek, że wybory odbędą się" in record.text
    assert [n.message for n in notices] == ["not UTF-8; read as cp1250, as it declares"]


def test_markdown_reads_as_its_reader_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "glassworks.md"
    path.write_text(
        "# Vendria glassworks to close\n\n*By Helena Strand — Coastal Herald, 3 May 2025*\n\n"
        "The **Vendria glassworks**, founded in 1812, will close at the end of June, its owner "
        "[Corvane Holdings](https://example.com/c \"site\") said.\n\n"
        "- 140 workers will lose their jobs.\n- The `kiln_3` stays as a museum.\n\n"
        "> \"A sad day,\" said __Tomas Breen__. ![The kiln](kiln.jpg)\n\n---\n\n"
        "A snake_case_name, 2 * 3 * 4 = 24 and an escaped \\*star\\* keep their marks.\n",
        encoding="utf-8")
    article = _article(path)
    assert (article.title, article.author, article.source, article.published) == (
        "Vendria glassworks to close", "Helena Strand", "Coastal Herald", "2025-05-03")
    assert article.text == (
        "The Vendria glassworks, founded in 1812, will close at the end of June, its owner "
        "Corvane Holdings said.\n\n140 workers will lose their jobs.\nThe kiln_3 stays as a "
        "museum.\n\n\"A sad day,\" said Tomas Breen.\n\nA snake_case_name, 2 * 3 * 4 = 24 "
        "and an escaped *star* keep their marks.")
    path.write_text("---\ntitle: \"Ferry back\"\nauthor: Jo Lee\npublisher: Valley Times\n"
                    "date: 2025-04-02\n---\n\nThe ferry runs again.\n", encoding="utf-8")
    article = _article(path)
    assert (article.title, article.author, article.source, article.published) == (
        "Ferry back", "Jo Lee", "Valley Times", "2025-04-02")
    assert article.text == "The ferry runs again."
    path.write_text("---\ntitle: Vote\nauthors:\n  - Ann Lee\n  - Bo Chan\n---\n\nCallers "
                    "press # to vote, in C # or ***not*** at all; **bold *inner* text**, [the "
                    "ruling](https://x.org/Foo_(bar)).\n\n```text\nkept()\n```\n", encoding="utf-8")
    article = _article(path)
    assert (article.title, article.author) == ("Vote", "Ann Lee and Bo Chan")
    assert article.text == ("Callers press # to vote, in C # or not at all; bold inner text, "
                            "the ruling.\n\nkept()")
    path.write_text("---\ntitle: Ferry [Live]\nauthors: [\"Doe, Jane\", \"Roe, John\"]\n# a comment"
                    "\nlast-modified: 2025-05-01\n---\n\n```rm -rf``` deletes files.\n",
                    encoding="utf-8")
    article = _article(path)
    assert (article.title, article.author) == ("Ferry [Live]", "Doe, Jane and Roe, John")
    assert article.text == "rm -rf deletes files."
    path.write_text("---\ntitle: Vote\nauthor:\n- Ann Lee\n---\n\nThe vote was held.\n",
                    encoding="utf-8")  # YAML's usual list style
    assert (_article(path).title, _article(path).author) == ("Vote", "Ann Lee")
    # rules around text are not a front matter: the text stays
    path.write_text("# Mayor\n\n---\nThe mayor resigned on Tuesday, aides said.\n---\n",
                    encoding="utf-8")
    assert _article(path).text == "The mayor resigned on Tuesday, aides said."


@pytest.mark.parametrize("markup", ["[", "![", "[a](", "[a](((", "**a ", "***", "_a",
                                    "# " + "#" * 99, "> ", "~~a ", "a`", " ", " #", "- ",
                                    "<!--", "<a ", "| ", "|-", "&#", "|" + "-" * 999 + "x\n"])
def test_markdown_markup_costs_linear_time(tmp_path: Path, markup: str) -> None:
    from qa.index.markdown_text import markdown_to_record

    from tests.faults import finishes_within

    with finishes_within(20):  # 2 MB of an unclosed mark
        body, _ = markdown_to_record(markup * (2_000_000 // len(markup)) + "x")
    assert body.endswith("x")


def test_latin1_file_is_decoded_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Café owners in Zürich said the façade was repaired. "
                     "Crème brûlée sales rose.".encode("latin-1"))
    records, notices = load_file(path, 5_000_000)
    assert "Café owners in Zürich" in records[0].text
    assert notices and notices[0].action == "decoded"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.txt", b"", "empty file"),
    ("blank.txt", b"  \n\n ", "empty file"),
    ("picture.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary file"),
    ("broken.json", b'{"title": "x", "body": ', "malformed JSON"),
    ("broken.jsonl", b'{"title": "x", "body": "y"}\n{oops\n', "malformed JSON on line 2"),
    ("numbers.json", b"[1, 2]", "not a JSON object"),
    ("sheet.csv", b"a,b\n1,2\n", "unsupported file type"),
])
def test_bad_files_are_refused_with_a_message_naming_them(tmp_path: Path, name: str,
                                                           content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        load_file(path, 5_000_000)
    assert name in str(error.value)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 3000)
    with pytest.raises(InputError, match=r"0\.01 MB is over the 0\.00 MB limit"):
        load_file(path, 1000)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        find_files([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    files, notices = find_files([tmp_path / "empty"])
    assert files == [] and "no article files" in notices[0].message
    for name in ("a.docx", "b.DOCX", "c.rtf", "Makefile", ".hidden", "story.txt"):
        (tmp_path / "mixed" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "mixed" / name).write_text("x")
    (tmp_path / "mixed" / "CURRENT").write_text("x")  # a file so named makes no index
    for name in ("~$story.txt", "story.txt~"):  # an editor's lock and backup files
        (tmp_path / "mixed" / name).write_text("x")
    import os

    latin1 = os.fsencode(tmp_path / "mixed") + b"/caf\xe9.txt"  # from an old zip file
    with open(latin1, "w") as handle:  # once: every build of the folder failed on it
        handle.write("Cafe\n\nThe cafe reopened.")
    files, notices = find_files([tmp_path / "mixed"])  # once: left out without a word
    assert [f.name for f in files] == ["story.txt"]
    assert [str(n) for n in notices] == [
        f"{tmp_path / 'mixed'}/caf\ufffd.txt: skipped: its name is not valid UTF-8: rename it",
        f"{tmp_path / 'mixed'}: skipped: 5 files of other types (2 (none), 2 .docx, 1 .rtf); "
        "articles are .txt .md .html .htm .json .jsonl .pdf"]


@pytest.mark.parametrize(("byline", "author", "source", "published"), [
    ("By Maria Quinlan, Coastal Herald, 3 May 2025", "Maria Quinlan", "Coastal Herald",
     "2025-05-03"),
    ("By Maria Quinlan | Coastal Herald | May 3, 2025", "Maria Quinlan", "Coastal Herald",
     "2025-05-03"),
    ("By Ana de la Cruz and Tom Field", "Ana de la Cruz and Tom Field", "", ""),
    ("By Élodie Martin, Le Progrès, 14 mars 2025", "Élodie Martin", "Le Progrès", "2025-03-14"),
    ("Von Özlem Türeci | Die Zeit | 7. April 2025", "Özlem Türeci", "Die Zeit", "2025-04-07"),
    ("Por Andrés Muñoz, El País, 14 de marzo de 2025", "Andrés Muñoz", "El País",
     "2025-03-14"),
    ("Par Élodie Martin et Jean Dupont", "Élodie Martin et Jean Dupont", "", ""),
    # the publisher and the date on lines of their own (once left in the text, unread)
    ("By Maria Quinlan\nCoastal Herald, 3 May 2025", "Maria Quinlan", "Coastal Herald",
     "2025-05-03"),
    ("By Amina Njoroge\nThe Coastal Herald\n12 March 2025", "Amina Njoroge",
     "The Coastal Herald", "2025-03-12"),
    ("By Maria Quinlan\nCoastal Herald, May 3, 2025", "Maria Quinlan", "Coastal Herald",
     "2025-05-03"),
])
def test_plain_text_byline_becomes_author_source_and_date(tmp_path: Path, byline: str,
                                                          author: str, source: str,
                                                          published: str) -> None:
    path = tmp_path / "council.txt"
    # a paragraph of its own under the headline, then the same lines in the headline's
    for gap in ("\n\n", "\n"):
        path.write_text(f"Council backs the new harbour wall{gap}{byline}\n\nThe council voted "
                        "31 to 12 on Tuesday to build the wall.\n\nWork starts in June.\n")
        article = _article(path)
        assert (article.title, article.author, article.source, article.published) == (
            "Council backs the new harbour wall", author, source, published)
        assert article.text.startswith("The council voted 31 to 12")
        assert byline not in article.text


@pytest.mark.parametrize("lines", [
    "By Maria Quinlan\nHigh winds closed the port on Tuesday.",  # the lead, not a publisher
    "By Maria Quinlan\nChief Reporter",
    "By Christmas Eve\nNorthern Rail had cancelled 400 trains.",
    "By Ann Lee\n4 March 2025\nUpdated 5 March 2025 10:00 GMT",
])
def test_lines_under_a_byline_that_are_no_publisher_or_date_stay_in_the_text(
        tmp_path: Path, lines: str) -> None:
    path = tmp_path / "port.txt"
    path.write_text(f"Port closes after storm\n\n{lines}\n\nFerries were cancelled.\n")
    article = _article(path)
    assert article.text.startswith(lines) and article.source == ""


@pytest.mark.parametrize("text", [
    "By the end of the week, the harbour had reopened to boats.",
    "Por la tarde, los barcos volvieron al puerto.",
    "Von Berlin aus fuhren die Boote weiter.",
])
def test_a_sentence_starting_with_by_stays_in_the_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "note.txt"
    path.write_text(f"Harbour reopens\n\n{text}\n\nFishing boats returned.\n")
    article = _article(path)
    assert article.text.startswith(text) and article.author == ""


@pytest.mark.parametrize(("written", "day"), [
    ("14 mars 2025", "2025-03-14"), ("mardi 14 mars 2025", "2025-03-14"),
    ("Montag, 7. April 2025", "2025-04-07"), ("14 de marzo de 2025", "2025-03-14"),
    ("le 1er mai 2025", "2025-05-01"), ("1748944800", "2025-06-03"),
    ("1748944800000", "2025-06-03"), ("May 3, 2025", "2025-05-03"),
    ("2025-06-03T08:00:00Z", "2025-06-03"), ("last Tuesday", None), ("31 février 2025", None),
    ("Tagesspiegel, 7. April 2025", None),
])
def test_publication_dates_are_read_in_the_forms_news_writes_them(written: str,
                                                                  day: str | None) -> None:
    from qa.core.records import parse_date

    parsed = parse_date(written)
    assert (parsed.isoformat() if parsed else None) == day


def test_a_line_of_text_is_a_date_only_when_all_of_it_is_one() -> None:
    from qa.core.records import parse_date

    for line in ("2024-05-01 timetable changes", "0612345678", "1748944800"):
        assert parse_date(line, whole=True) is None
    for line, day in (("2025-01-09", "2025-01-09"), ("2025-01-09T07:30:00Z", "2025-01-09"),
                      ("9 January 2025", "2025-01-09")):
        assert str(parse_date(line, whole=True)) == day


def test_an_unreadable_date_is_reported_and_the_article_listed_last(tmp_path: Path) -> None:
    from qa.index.ingest import BuildReport, load_articles
    from qa.ui.render import welcome_html

    from qa.core.settings import Settings

    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"title": title, "published": published,
                                        "body": f"{title} happened in the harbour."}) + "\n"
                            for title, published in [("Old", "2024-01-01"),
                                                     ("Vague", "last Tuesday"),
                                                     ("New", "3 May 2025")]))
    report = BuildReport(None)
    articles, _ = load_articles([feed], Settings.from_env(index_dir=tmp_path / "i"), report)
    assert [(Path(n.path).name, n.action) for n in report.notices] == [("feed.jsonl#2",
                                                                         "undated")]
    assert "its date 'last Tuesday' is not one that can be read" in report.notices[0].message
    card = welcome_html(articles, 3)
    assert card.index("<b>New</b>") < card.index("<b>Old</b>") < card.index("<b>Vague</b>")


def test_overlong_metadata_is_cut_and_an_overlong_address_left_out(tmp_path: Path) -> None:
    body = "The Welk council agreed its budget on Friday, officials said."
    for url, kept in (("https://example.com/?" + "q" * 900, True),
                      ("https://example.com/?" + "q" * 2100, False)):
        path = tmp_path / "story.json"
        path.write_text(json.dumps({"title": "Budget " + "long " * 200, "url": url,
                                    "body": body}))
        article = _article(path)
        assert len(article.title) == 500 and article.title.endswith("…")
        assert article.url == (url if kept else "")  # a cut address would lead nowhere
