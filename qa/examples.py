"""Example questions for a corpus, of several kinds, made from its own articles: who someone
is, how many of something, why something happened, what happened somewhere (an overview),
and how two publishers differ (a comparison)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from qa.core.records import Article

__all__ = ["example_questions"]

_NAME = re.compile(r"(?<![A-Z][a-z]\s)\b([A-Z][a-z]+\s+[A-Z][a-z]+)\b(?!\s+[A-Z])")
_TITLES = {"Mr", "Mrs", "Ms", "Dr", "Lt", "Gen", "Col", "Sgt", "Prof", "Sen", "Gov", "Rep"}
_NUMBER = (r"\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
           r"thirty|forty|fifty|sixty|hundreds?|thousands?|dozens?")
#: "... nine thousand visitors tasted ciders from sixty orchards." -> noun and what follows.
_COUNT = re.compile(rf"(?<![\w,.])(?:{_NUMBER})\s+(?P<noun>[a-z]{{3,}}s)\s+"
                    r"(?P<verb>(?:were|are|have|had|[a-z]{3,}ed))\b(?P<rest>[^.;:!?”\"]{0,70})"
                    r"(?<!\b[A-Z])[.;]")  # (not the dot of an initial: "senior U.S. officials")
#: "The vote was delayed because ..." -> "Why was the vote delayed?"
_BECAUSE = re.compile(r"(?:^|(?<=[.!?]\s)|(?<=\n))"
                      r"(?P<subject>[A-Z][\w’'-]*(?:\s+[\w’'-]+){0,3}?)\s+"
                      r"(?P<aux>is|was|are|were|has|had|will|would|could)\s+"
                      r"(?P<rest>[^.;:!?,]{3,70}?),?\s+because\b")
_REPORTING = {"said", "says", "told", "added", "claimed", "reported", "argued", "warned"}
#: words that point back into the article: a question holding them means nothing alone
#: ("How many swims were recorded there last year?").
_REFERS_BACK = re.compile(r"\b(?:there|here|it|its|he|him|his|she|her|they|them|their|this|"
                          r"that|these|those)\b", re.IGNORECASE)
_PLACE = re.compile(r"\bin ([A-Z][a-z]{3,}(?: [A-Z][a-z]+)?)\b")
#: how much of each article's start the examples are made from: its lead holds the news, and
#: the cost stays bounded however long an uploaded article is.
_LEAD_CHARS = 10_000
#: runs of spaces, made one (the patterns below read "\s+" in several places in a row)
_SPACES = re.compile(r"[^\S\n]+")
_MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December", "Monday", "Tuesday", "Wednesday",
           "Thursday", "Friday", "Saturday", "Sunday"}


_TWO_WORDS = r"[A-Z][a-z]+ [A-Z][a-z]+"
_ROLES = ("president|minister|senator|governor|chief|actor|actress|singer|coach|director|"
          "officer|spokesman|spokeswoman|spokesperson|lawyer|attorney|judge|prince|king|queen|"
          "general|envoy|organiser|organizer|mayor|founder|leader|chairman|chairwoman|author|"
          "writer|manager|executive|CEO")
#: where a name reads as a person's: saying or doing what people do, "who", an age, or a
#: title or role before it ("The founder, Mira Haldane, spoke"); not "Saudi Arabia".
_PERSON_CUES = [
    re.compile(rf"(?P<name>{_TWO_WORDS}),? (?:said|says|told|tells|added|wrote|asked|spoke|"
               r"speaks|met|died|won|left|resigned|announced|denied|who)\b"),
    re.compile(rf"(?P<name>{_TWO_WORDS}), \d{{1,3}},"),
    re.compile(rf"(?:{'|'.join(sorted(_TITLES))})\.? (?P<name>{_TWO_WORDS})"),
    re.compile(rf"\b(?i:{_ROLES}),? (?P<name>{_TWO_WORDS})")]


def example_questions(articles: list[Article], n: int = 4) -> list[str]:
    """Up to `n` questions the articles can answer, of as many kinds as they allow (why, how
    many, an overview, a comparison), then "Who is ...?" about the names they mention most."""
    articles = [replace(a, text=_SPACES.sub(" ", a.text[:_LEAD_CHARS])) for a in articles]
    people = _people(articles)
    kinds: list[Callable[[list[Article]], str | None]] = [_why, _how_many, _overview, _compare]
    questions = [f"Who is {name}?" for name in people[:1]]
    questions += [q for q in (kind(articles) for kind in kinds) if q][:n - len(questions)]
    questions += [f"Who is {name}?" for name in people[1:]][:n - len(questions)]
    return questions


def _people(articles: list[Article]) -> list[str]:
    """Names of people that recur in the articles, spread over as many articles as possible."""
    lower_words = {w for a in articles for w in re.findall(r"\b[a-z]+\b", a.text)}
    counts: Counter[str] = Counter()
    home: dict[str, str] = {}
    for article in articles:
        cued = {m["name"] for cue in _PERSON_CUES for m in cue.finditer(article.text)}
        for name in set(_NAME.findall(article.text)):
            words = name.split()
            # a person's name: two capitalised words, neither an ordinary word or a title
            if any(w.lower() in lower_words or w in _TITLES for w in words):
                continue
            if not re.search(rf"[a-z,;:“\"'’] {re.escape(name)}", article.text):
                continue  # seen only at the start of sentences ("Although Trump")
            if name not in cued:
                continue  # never said to say or do anything, nor titled: "Saudi Arabia"
            counts[name] += article.text.count(name) + article.text.count(words[-1])
            home.setdefault(name, article.id)
    names: list[str] = []
    used: set[str] = set()
    for name, _ in counts.most_common():
        if home[name] in used and len(used) < len(articles):
            continue
        used.add(home[name])
        names.append(name)
    return names


def _how_many(articles: list[Article]) -> str | None:
    for article in articles:
        for match in _COUNT.finditer(article.text):
            rest = " ".join(match["rest"].split())
            if not _REFERS_BACK.search(rest):
                return f"How many {match['noun']} {match['verb']}{' ' + rest if rest else ''}?"
    return None


def _why(articles: list[Article]) -> str | None:
    for article in articles:
        for match in _BECAUSE.finditer(article.text):
            subject = match["subject"]
            if _REPORTING & set(subject.lower().split()):
                continue  # "Supporters said the wall": not the subject of "was needed"
            if subject in ("It", "He", "She", "They", "We", "I", "You", "This", "That") or \
                    re.search(r"\b(?:and|or|but|to|of)$", match["rest"].strip()) or \
                    _REFERS_BACK.search(match["rest"]) or \
                    match["rest"].split()[:1] == ["to"]:
                continue  # whom "It" means is not in the question; "...into account and?";
                # "has to move" does not turn round ("Why has Lisa Brown to move?")
            if subject.split()[0] in ("The", "A", "An", "This", "That", "Its"):
                subject = subject[0].lower() + subject[1:]
            return f"Why {match['aux']} {subject} {' '.join(match['rest'].split())}?"
    return None


def _overview(articles: list[Article]) -> str | None:
    places = Counter(p for a in articles for p in _PLACE.findall(a.text) if p not in _MONTHS)
    return f"What happened in {places.most_common(1)[0][0]}?" if places else None


def _compare(articles: list[Article]) -> str | None:
    """Two publishers on what both mention most, when two of them write about the same thing
    (else none: "the story" of two publishers that share none has no answer)."""
    by_source: dict[str, Counter[str]] = {}
    for article in articles:
        if article.source:
            # "The Guardian - UK", "The Independent UK": "the Guardian", "the Independent"
            name = re.sub(r"^The\b", "the", re.sub(r"\s+(?:[-–]\s+\w+|UK|US|USA)$", "",
                                                  article.source))
            by_source.setdefault(name, Counter()).update(_NAME.findall(article.text))
    largest = sorted(by_source.items(), key=lambda kv: -kv[1].total())[:5]
    pairs = [((names_a & names_b).most_common(1), a, b)
             for n, (a, names_a) in enumerate(largest) for b, names_b in largest[n + 1:]]
    shared = [(common[0][1], common[0][0], a, b) for common, a, b in pairs if common]
    if not shared:
        return None
    _, topic, a, b = max(shared, key=lambda pair: pair[0])  # (the first of the most shared)
    return f"How do {a} and {b} describe {topic}?"
