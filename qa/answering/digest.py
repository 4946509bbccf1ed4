"""Broad questions get a digest instead of an abstention.

"What happened in Russia?", "Summarise the articles" or "How do the Guardian and the
Independent differ on the car bomb?" ask for no single fact: a reader that looks for one
answer span finds none and would say "The articles don't say." while on-topic passages sit
right there. A digest answers them with the sentence closest to the question from each
relevant article, quoted exactly and cited, and says that it is an overview."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qa.answering.metadata import shown_field
from qa.answering.publishers import GENERIC_WORDS, named_publishers, publisher_words
from qa.core.records import Answer, Article, Citation, Passage
from qa.core.text import content_words, split_sentences, strip_markers

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DIGEST_MODE", "digest_answer", "is_broad"]

DIGEST_MODE = "digest"
#: articles summarised at most (one sentence quoted from each).
MAX_ARTICLES = 3
#: a sentence of fewer words comes after every longer one of its article.
MIN_WORDS = 8
#: lead sentences quoted when one article is summarised.
LEAD_SENTENCES = 3
#: an article is on topic when its closest sentence has at least this cosine to the question
#: (all-MiniLM-L6-v2; seed questions on topic score 0.35-0.7, off-topic ones below 0.2).
MIN_SIMILARITY = 0.25
_BROAD = re.compile(
    r"^\s*(?:so\s+|and\s+|ok(?:ay)?,?\s+)?(?:"
    r"what(?:'s|\s+is|\s+has)?\s+(?:happened|happening|going\s+on|new|the\s+(?:news|story|"
    r"latest|gist))\b(?!\s+to\b)|"
    r"(?:please\s+)?(?:summari[sz]e|sum\s+up|recap|brief\s+me|give\s+(?:me\s+)?(?:an?\s+)?"
    r"(?:overview|summary|rundown|recap))|"
    r"(?:an?\s+)?(?:overview|summary)\b|"
    r"tell\s+me\s+(?:about|what)|"
    r"what\s+(?:do|does|did)\s+(?:the\s+)?(?:(?:(?:[\w'’-]+\s+){0,3}?(?:articles?|stor(?:y|ies)|"
    r"pieces?|obituar(?:y|ies))|reports?|sources?|papers?)\s+)?(?:say|report|write)\b|"
    r"compare|contrast|"
    r"how\s+do(?:es)?\s+\S.*?\s(?:differ|compare|contrast)|"
    r"how\s+do\s+\S.*?\sand\s.*?\s(?:describe|portray|cover|see|view)\b|"
    r"what(?:'s|\s+(?:is|are))\s+the\s+differences?\b"
    r")", re.IGNORECASE)


def is_broad(question: str) -> bool:
    """Whether `question` asks for an overview or a comparison rather than one fact ("what
    happened to X?" asks for one fact: X's fate)."""
    return bool(_BROAD.search(question))


def digest_answer(question: str, passages: Sequence[Passage],
                  embed: Callable[[list[str]], np.ndarray]) -> Answer | None:
    """An overview of `passages` for a broad `question`: per article (in retrieval order, at
    most `MAX_ARTICLES`), its sentence closest to the question's topic, cited; its lead
    sentence when the question names no topic ("Summarise the articles"). Articles named in
    the question by their publisher ("Summarise the Independent article") are the only ones
    summarised; one article alone gets up to `LEAD_SENTENCES` sentences. None when no article
    is on topic. `embed` turns texts into unit vectors (the retriever's query model)."""
    articles: dict[str, list[tuple[Article, int, int]]] = {}
    for passage in passages:
        sentences = articles.setdefault(passage.article.id, [])
        sentences += [(passage.article, start, end) for start, end in passage.chunk.sentences]
    topic = _topic(question)
    asked = set(named_publishers(question, {s[0][0].source for s in articles.values()}))
    named = {key: sentences for key, sentences in articles.items()
             if sentences[0][0].source in asked}
    publishers = set().union(*map(publisher_words, asked))
    chosen = named or articles  # an article named by its publisher: that one alone
    picked = _leads(chosen) if not content_words(topic) - GENERIC_WORDS - publishers \
        else _closest(topic, chosen, embed, on_topic_only=not named)
    if not picked:
        return None
    citations = [Citation(n, article, article.text[s:e], s, e, round(score, 4))
                 for n, (article, s, e, score) in enumerate(picked, 1)]
    by_article: dict[str, list[Citation]] = {}
    for citation in citations:
        by_article.setdefault(citation.article.id, []).append(citation)
    count = len(by_article)
    lines = [f"Overview from {count} article{'s' if count > 1 else ''}:"]
    lines += [f"- {_label(cited[0])}: " + " ".join(f"{strip_markers(c.quote)} [{c.n}]"
                                                   for c in cited)
              for cited in by_article.values()]
    return Answer(question=question, text="\n".join(lines), citations=citations,
                  mode=DIGEST_MODE)


def _topic(question: str) -> str:
    """`question` without its broad phrasing: "what happened in Russia?" -> "in Russia?"."""
    return _BROAD.sub("", question, count=1)


def _leads(articles: dict[str, list[tuple[Article, int, int]]]
           ) -> list[tuple[Article, int, int, float]]:
    """The first sentence of each of the first `MAX_ARTICLES` articles; of one article, its
    first `LEAD_SENTENCES` (a summary of that article)."""
    chosen = list(articles.values())[:MAX_ARTICLES]
    per_article = LEAD_SENTENCES if len(chosen) == 1 else 1
    picked = []
    for sentences in chosen:
        article = sentences[0][0]
        picked += [(article, *span, 1.0) for span in split_sentences(article.text)[:per_article]]
    return picked


def _closest(topic: str, articles: dict[str, list[tuple[Article, int, int]]],
             embed: Callable[[list[str]], np.ndarray], *, on_topic_only: bool
             ) -> list[tuple[Article, int, int, float]]:
    """Per article (the first `MAX_ARTICLES`), its retrieved sentence closest to `topic`;
    `on_topic_only`: of the articles on topic only. Of one article, up to `LEAD_SENTENCES`
    of its sentences on topic, in the article's order."""
    import numpy as np

    candidates = [c for sentences in articles.values() for c in sentences]
    if not candidates:
        return []
    texts = [a.text[s:e] for a, s, e in candidates]
    vectors = embed([topic, *texts])
    similarity = vectors[1:] @ vectors[0]
    # a fragment ("This wasn't given by Trump.") is close to a name and says little of it
    fragment = np.array([len(t.split()) < MIN_WORDS for t in texts])
    per_article: list[list[tuple[Article, int, int, float]]] = []
    at = 0
    for sentences in articles.values():
        scores, fragments = similarity[at:at + len(sentences)], fragment[at:at + len(sentences)]
        at += len(sentences)
        ranked = [(*sentences[i], float(scores[i])) for i in np.lexsort((-scores, fragments))]
        if scores.max() >= MIN_SIMILARITY or not on_topic_only:
            per_article.append(ranked)
    if len(per_article) == 1:
        ranked = per_article[0]
        close = [ranked[0], *(s for s in ranked[1:LEAD_SENTENCES] if s[3] >= MIN_SIMILARITY)]
        return sorted(close, key=lambda sentence: sentence[1])
    return [ranked[0] for ranked in per_article[:MAX_ARTICLES]]


def _label(citation: Citation) -> str:
    """Who says it: the publisher, else the headline."""
    article = citation.article
    return shown_field(article.source or article.title or article.name)
