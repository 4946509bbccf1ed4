"""Questions about what someone said ("What did Zelensky say about Crimea?"). The reader
learnt from SQuAD, whose questions share the answer sentence's words, so it is drawn to any
sentence about the topic that names the speaker, even one in which another person speaks
about them ("Mr Trump claimed that Mr Zelensky understood that 'Crimea will stay with
Russia'"). A sentence in which the one asked about does the speaking ranks higher."""

from __future__ import annotations

import re

from qa.core.text import NAME_PHRASE

__all__ = ["SPEAKER_PRIOR", "asked_speaker", "names_speaker", "speaks"]

#: logits added to a span's rank when its sentence has the asked-about speaker speaking.
#: NewsQA dev's 27 answerable "What did X say ...?" questions (`qa eval FILE`, the full dev
#: index; then `--oracle`), answer accuracy / short EM / short F1: none 40.7 / 0 / 18.6%
#: (gold article 48.1 / 3.7 / 21.9%), 4 logits 37.0 / 0 / 17.2% (48.1 / 3.7 / 22.6%), 8
#: logits 48.1 / 3.7 / 18.8% (51.9 / 7.4 / 24.2%); citation accuracy 80.8 -> 84.6%. Few
#: questions: a speaker is worth the margin of a sentence that merely names them.
SPEAKER_PRIOR = 8.0
#: "What did Zelensky say ...", "what does Pope Benedict XVI say", "What did UN call for".
_WHAT_DID_SAY = re.compile(
    r"\s*(?i:what)\s+(?i:did|does|do|has|have)\s+(?:(?i:the)\s+)?(?P<name>[A-Z][\w'’.-]*"
    r"(?:\s[A-Z][\w'’.-]*){0,3})\s+(?i:say|said|tell|told|claim|claimed|call|describe|think"
    r"|want|write|post|insist)\b")
#: the verbs of saying that mark a speaker, as news writes them.
_SAYING = (r"(?:said|says|say|told|tells|claimed|claims|insisted|insists|insisting|added|adds"
           r"|wrote|writes|posted|posts|stated|states|argued|argues|warned|warns|called|calls"
           r"|described|describes|explained|noted|declared|announced|urged|urges|hit back)")
#: what may stand between a verb of saying and the speaker after it: titles ("said Mr
#: Zelensky") and a role after an article or possessive ("said the trumpeter Marcus Bell",
#: "said his longtime friend Tom Lee"; not "said he admired Marcus Bell").
_AFTER_SAYING = (r"(?:(?:the|a|an|his|her|their|its)\s+(?:[a-z][\w'’-]*\s+){1,3})?"
                 r"(?:[A-Z]\S*\s+){0,3}?")

#: what may stand between a speaker and the verb: an apposition ("Volodymyr Zelenskyy,
#: Ukraine's leader,"), then adverbs and auxiliaries ("later", "has repeatedly"); not
#: another verb ("Nemcova shows CNN around Prague and tells ...": what she shows).
_BEFORE_SAYING = (r"(?:\s*,[^,.;“”\"]{1,60},)?(?:,?\s+(?:\w+ly|later|also|again|then|has|have"
                  r"|had|was|is|who|once|first|previously|recently|earlier|on \w+day))*,?\s+")


def asked_speaker(question: str) -> str | None:
    """The name a "What did X say ...?" question asks about, else None."""
    match = _WHAT_DID_SAY.match(question)
    if match is None or NAME_PHRASE.match(match["name"]) is None:
        return None
    return match["name"]


def names_speaker(name: str, text: str) -> bool:
    """Whether `text` holds a word of `name` (or that word with one more letter)."""
    who = _name_words(name)
    return bool(who) and re.search(who, text) is not None


def _name_words(name: str) -> str:
    """A pattern for any word of `name` of three letters or more ("" when it has none)."""
    words = [re.escape(w) for w in re.findall(r"[A-Z][\w'’.-]{2,}", name)]
    return rf"\b(?:{'|'.join(words)})\w?\b" if words else ""


def speaks(name: str, sentence: str) -> bool:
    """Whether `sentence` has `name` (any word of it, or that word with one more letter:
    "Zelenskyy") speaking: "Zelensky hit back, insisting ...", "..., said Mr Zelensky.", "...,
    said the trumpeter Marcus Bell." (not "Peskov said Witkoff had left")."""
    who = _name_words(name)
    if not who:
        return False
    return re.search(rf"{who}{_BEFORE_SAYING}{_SAYING}\b|\b(?:said|says|added|wrote)\s+"
                     rf"{_AFTER_SAYING}{who}(?=\s*[,.;:)]|\s*$)", sentence) is not None
