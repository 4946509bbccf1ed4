"""Text handling every layer shares: words (tokenizer, stemmer, stopwords), sentences, the
citation markers `[n]` of answers, and proper names.

One tokenizer serves both lexical retrieval (BM25) and the support checks of generated
answers, so that "a word of the question" means the same thing everywhere; one sentence
splitter serves chunking and the checking of generated replies. Imports nothing else from
the project.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

__all__ = [
    "BIDI_CONTROLS",
    "CITATION_MARKER",
    "CONTROL_CHARS",
    "LONE_SURROGATES",
    "NAME_OR_NUMBER",
    "NAME_PHRASE",
    "QUESTION_WORDS",
    "STOPWORDS",
    "content_words",
    "fold",
    "marker_numbers",
    "one_line",
    "root",
    "shorten",
    "split_sentences",
    "stem",
    "storable",
    "strip_markers",
    "tokenize",
]

#: character-class bodies: control characters other than tab and newline (C0, DEL, C1), and
#: the bidirectional embeddings, overrides and isolates.
CONTROL_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
#: halves of UTF-16 surrogate pairs: Python text can hold them alone (from JSON's escapes, or
#: `surrogateescape`), but no UTF-8 text can, and tokenizers refuse them.
LONE_SURROGATES = re.compile("[\ud800-\udfff]")
#: NUL and the other C0 controls but tab and line breaks: no text column of PostgreSQL can
#: hold NUL, and no article means them.
_C0 = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

# ---------------------------------------------------------------------------------------------
# Words

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom whose why will with would you your yours yourself yourselves also said says say
told according one s t did does done get got many much
""".split())  # noqa: SIM905 (a word list reads better as text)

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
#: the longest term kept (a database index entry must fit in a page).
MAX_TERM_CHARS = 100


def decode_entities(text: str) -> str:
    """`text` with its HTML character references ("&amp;", "&mdash;", "&#8217;") as the
    characters they stand for; only whole ones, ending in ";" ("AT&T" stays)."""
    import html

    return _ENTITY.sub(lambda m: html.unescape(m[0]), text)


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at line breaks only, not at the U+2028, U+2029
    and U+0085 that `str.splitlines` splits at too and that a JSON string may hold."""
    return _LINE_BREAK.split(text)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def fold(text: str) -> str:
    """`text` lower-cased, with curly apostrophes straightened and accents removed."""
    text = text.replace("’", "'").replace("‘", "'").lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A folded word, lightly stemmed: possessive, dots, apostrophes and plural -s removed."""
    word = word.removesuffix("'s").replace(".", "").replace("'", "")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


#: endings `root` strips, longest first.
_ENDINGS = ("ings", "ing", "edly", "ed", "es", "s", "ly")


def root(word: str) -> str:
    """A stemmed word (`stem`'s) cut further to a root that its other forms share:
    "bombing", "bombed" and "bombs" all "bomb", "killing" and "kills" "kill". Too coarse for
    the stored lexical index, whose terms are `stem`'s; for comparing a question with a
    passage."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[:-len(ending)]
            break
    return word.rstrip("e") if len(word) > 3 else word


def tokenize(text: str) -> list[str]:
    """Folded, lightly stemmed words of `text`, stopwords dropped (BM25's terms); a "word"
    longer than `MAX_TERM_CHARS` (a code, an encoded blob) is not one."""
    words = (stem(w) for w in _WORD.findall(fold(text)) if len(w) <= MAX_TERM_CHARS)
    return [w for w in words if w and w not in STOPWORDS]


def content_words(text: str) -> set[str]:
    """The distinct terms of `text` that carry meaning: `tokenize` less one-letter words."""
    return {w for w in tokenize(text) if len(w) > 1 or w.isdigit()}


def storable(text: str) -> str:
    """`text` as every store can hold it: lone surrogates as U+FFFD (as undecodable bytes
    are), and no NUL or other control characters but tab and line breaks."""
    return _C0.sub("", LONE_SURROGATES.sub("\ufffd", text))


def one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, made one space."""
    return " ".join(text.split())


def shorten(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------------------------------------
# Sentences

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "lt", "gen", "col", "capt", "sgt", "cpl",
    "maj", "gov", "sen", "rep", "rev", "hon", "pres", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "no", "vs", "etc", "inc", "ltd", "co", "corp",
    "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "mt", "ft", "ave", "fig", "approx", "dept",
    "est", "univ", "adm", "cmdr", "gens", "sens", "reps",
}
# A candidate boundary: terminal punctuation, optional closing quotes/brackets and footnote
# numbers ("said.[3]"), whitespace. It starts only where a run of punctuation starts, so a long
# run is read once, not once per mark.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]+[\"'”’)\]]*(?:\[\d{1,3}\])*"
                       r"(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot_end: int) -> bool:
    match = _WORD_BEFORE.search(text, max(0, dot_end - 12), dot_end)
    if not match:
        return False
    word = match.group(1).lower()
    return word in _ABBREVIATIONS or len(word) == 1  # "J. Smith", "U.S." style initials


#: a list item's number or letter, which starts its sentence rather than being one.
_LIST_MARKER = re.compile(r"\s*(?:\d{1,3}|[a-zA-Z])[.)]\s*")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text`; paragraph breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for paragraph in re.finditer(r"[^\n]+", text):
        base, p_text = paragraph.start(), paragraph.group()
        cuts = [0]
        for match in _BOUNDARY.finditer(p_text):
            if p_text[match.start()] == "." and _is_abbreviation(p_text, match.start() + 1):
                continue
            if _LIST_MARKER.fullmatch(p_text[cuts[-1]:match.end()]):  # "3. Plant trees"
                continue
            cuts.append(match.end())
        cuts.append(len(p_text))
        for s, e in itertools.pairwise(cuts):
            raw = p_text[s:e]
            if raw.strip():
                lead, trail = len(raw) - len(raw.lstrip()), len(raw) - len(raw.rstrip())
                spans.append((base + s + lead, base + e - trail))
    return spans


# ---------------------------------------------------------------------------------------------
# Citation markers and names

#: a citation marker as answers write it, and as models do: "[1]", "[1, 2]", "[Passage 1]",
#: "[passages 1 and 3]", "[1-2]"; group 1 holds the numbers.
CITATION_MARKER = re.compile(r"\[\s*((?:(?:passages?|source|p\.?)\s*)?\d{1,3}"
                             r"(?:\s*(?:,|;|&|and|-|–)\s*(?:passages?\s*)?\d{1,3})*)\s*\]",
                             re.IGNORECASE)
# (from the start of the spaces before a marker only: a long run of spaces is read once)
_MARKER_WITH_SPACE = re.compile(r"(?<!\s)\s*" + CITATION_MARKER.pattern, re.IGNORECASE)

# (its first lower-case letter within 41 characters: "A-A-A-..." is not read to its end
# again from every capital)
_NAME_WORD = r"(?:[A-Z][\w'’-]{0,40}?[a-z][\w'’-]*|[A-Z]{2,})"
#: a name or a number: a capitalised word with a lower-case letter in it, an acronym, or a
#: number (the facts a weak model most often makes up).
#: the question words, as a regular expression's alternatives.
QUESTION_WORDS = "who|whom|whose|what|when|where|why|which|how"
NAME_OR_NUMBER = re.compile(rf"\b(?:{_NAME_WORD}|\d[\d,.]*\d|\d)\b")
#: a proper name of one or more words: "Yaroslav Moskalik", "Bank of England", "NATO".
NAME_PHRASE = re.compile(rf"\b{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|of|de|al|bin|van|von))*\b")

def marker_numbers(body: str) -> list[int]:
    """The passage numbers in a marker's body (`CITATION_MARKER` group 1), ranges expanded."""
    nums = [int(x) for x in re.findall(r"\d{1,3}", body)]
    if re.search(r"\d\s*[-–]\s*\d", body) and len(nums) == 2 and 0 < nums[1] - nums[0] < 10:
        nums = list(range(nums[0], nums[1] + 1))
    return list(dict.fromkeys(nums))


def strip_markers(text: str) -> str:
    """`text` without its citation markers (and the spaces before them)."""
    return _MARKER_WITH_SPACE.sub("", text)
