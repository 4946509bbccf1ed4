"""`qa eval`: answer a question set and measure answers, citations, abstention, retrieval
and latency."""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.core.errors import InputError
from qa.core.text import strip_markers

if TYPE_CHECKING:
    from qa.core.records import Article
    from qa.engine import QA

__all__ = ["CONTEXT_CHARS", "EvalReport", "Miss", "contains_answer", "evaluate", "exact_match",
           "first_gold_rank", "format_report", "load_questions", "percentile", "token_f1"]

#: the retrieved-context budget in which the gold answer is looked for.
CONTEXT_CHARS = 4000


@dataclass(frozen=True)
class Miss:
    """A question answered wrong: what was `got` ("abstained" when the answerable one was
    not answered), and what was `expected` (gold answers, or "abstention")."""

    id: str
    question: str
    got: str
    expected: list[str] | str | None = None


@dataclass
class EvalReport:
    """`evaluate`'s measures. Shares are 0-1, None when nothing was there to measure (no
    unanswerable question, no question naming its source articles...)."""

    questions: int
    answerable: int
    unanswerable: int
    #: answerable questions whose answer holds a gold string.
    answer_accuracy: float | None
    #: token F1 of the whole answer text, and of the short answer (exact match too).
    token_f1: float | None
    short_exact_match: float | None
    short_f1: float | None
    #: answered questions citing one of their gold articles.
    citation_accuracy: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    abstained_answerable: int
    article_recall_at_5: float | None
    mrr: float | None
    answer_in_context_4000: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    #: "llm" or "extractive": how the engine answers.
    mode: str
    #: how the answered questions were answered: "llm-fallback" when the model failed.
    answered_by_mode: dict[str, int]
    oracle: bool
    #: gold source names that no indexed article has (their questions count as misses).
    unknown_sources: list[str]
    failures: list[Miss] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (`qa eval --json`)."""
        return asdict(self)


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL question set: {"question", "answers": [...], "sources": [...]} per line
    (answers and sources: lists of strings). A lone surrogate escape ("\\ud800") in them
    is read as U+FFFD, so that the report can be printed."""
    from qa.core.text import json_lines

    try:
        lines = json_lines(path.read_text(encoding="utf-8-sig"))  # (Notepad writes a BOM)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    questions = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as exc:  # (also numbers past 4,300 digits)
            raise InputError(f"{path}: line {lineno} is not JSON "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None
        problem = _record_problem(item)
        if problem:
            raise InputError(f"{path}: line {lineno} is not a question record: {problem}")
        questions.append({"id": _printable(str(item.get("id", lineno))),
                          "question": _printable(item["question"]),
                          "answers": [_printable(a) for a in item.get("answers", [])],
                          "sources": [_printable(s) for s in item.get("sources", [])]})
    if not questions:
        raise InputError(f"{path}: holds no questions (one JSON object per line: "
                         '{"question": ..., "answers": [...], "sources": [...]})')
    return questions


def _printable(text: str) -> str:
    """`text` with each lone surrogate (a JSON escape such as "\\ud800") as U+FFFD."""
    from qa.core.text import LONE_SURROGATES

    return LONE_SURROGATES.sub("\ufffd", text)


def _record_problem(item: object) -> str:
    """What makes `item` not a question record, or "" when it is one."""
    if not isinstance(item, dict):
        return f"a JSON object is needed, not {type(item).__name__}"
    if not isinstance(item.get("question"), str):
        return '"question" must be a string'
    for key in ("answers", "sources"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f'"{key}" must be a list of strings'
    return ""


def _check_questions(engine: QA, questions: list[dict[str, Any]], oracle: bool) -> None:
    from qa.core.errors import QAError
    from qa.inputs import article_filter, clean_question

    for item in questions:
        try:
            clean_question(item["question"], engine.settings)
            if oracle and item["sources"]:
                article_filter(item["sources"], None, None, engine.store)
        except QAError as exc:
            raise InputError(f"question {item['id']}: {exc}") from None


def _normalize(text: str) -> list[str]:
    text = "".join(c for c in text.lower() if c not in string.punctuation + "“”‘’")
    return [w for w in text.split() if w not in ("a", "an", "the")]


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1 between a prediction and one gold answer."""
    pred, ref = _normalize(prediction), _normalize(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> bool:
    """SQuAD-style exact match after normalisation."""
    return _normalize(prediction) == _normalize(gold)


def contains_answer(text: str, answers: list[str]) -> bool:
    """Whether `text` holds one of the gold `answers` (case-insensitive)."""
    low = text.lower()
    return any(a.strip().lower() in low for a in answers if a.strip())


def _is_gold(article: Article, sources: Collection[str]) -> bool:
    """Whether `article` is one a question's gold `sources` name: by its file name or, as
    the `sources` filter takes them too, its publisher."""
    return article.name in sources or article.source in sources


def first_gold_rank(ranking: Sequence[str], gold: Collection[str]) -> int:
    """1-based rank of the first gold name in `ranking` (distinct articles, best first), or 0
    when none is there: recall@k counts ranks up to k, MRR averages 1/rank."""
    return next((rank for rank, name in enumerate(ranking, 1) if name in gold), 0)


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0-1) of `values` by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(engine: QA, questions: list[dict[str, Any]], k: int | None = None,
             oracle: bool = False) -> EvalReport:
    """Run every question through `engine.answer` (the default answering path) and measure.
    `oracle`: restrict each question to its gold source articles (perfect retrieval). A
    question the engine would refuse (empty, too long, an unindexed source) is an
    `InputError` naming it, before any is answered."""
    _check_questions(engine, questions, oracle)
    answerable = answered = correct = cited_ok = abstained_ok = 0
    #: answerable / answered questions that name their source articles: citations and
    #: article recall are measured over these only (a question without sources has no gold).
    sourced = sourced_answered = 0
    unanswerable = abstentions = 0
    recall5 = mrr = in_context = 0.0
    f1s: list[float] = []
    short_f1s: list[float] = []
    short_exact = 0
    latencies: list[float] = []
    failures: list[Miss] = []
    modes: Counter[str] = Counter()
    gold_sources = {name for item in questions for name in item["sources"]}
    for item in questions:
        sources_only = item["sources"] if oracle and item["sources"] else None
        result = engine.answer(item["question"], k=k, sources=sources_only)
        latencies.append(result.timings["total"])
        golds, sources = item["answers"], set(item["sources"])
        abstentions += result.abstained
        if not golds:
            unanswerable += 1
            abstained_ok += result.abstained
            if not result.abstained:
                failures.append(Miss(item["id"], item["question"],
                                     strip_markers(result.text)[:200], "abstention"))
            continue
        answerable += 1
        sourced += bool(sources)
        passages = engine.retrieve(item["question"], k=10)
        articles = list({p.article.id: p.article for p in passages}.values())[:5]
        hit = next((rank for rank, a in enumerate(articles, 1) if _is_gold(a, sources)), 0)
        recall5 += bool(hit)
        mrr += 1 / hit if hit else 0.0
        context = "\n".join(p.chunk.text for p in passages)[:CONTEXT_CHARS]
        in_context += contains_answer(context, golds)
        text = strip_markers(result.text)
        f1s.append(0.0 if result.abstained else max(token_f1(text, g) for g in golds))
        short = "" if result.abstained else (result.short.text if result.short else text)
        short_f1s.append(max(token_f1(short, g) for g in golds) if short else 0.0)
        short_exact += bool(short) and any(exact_match(short, g) for g in golds)
        if result.abstained:
            failures.append(Miss(item["id"], item["question"], "abstained"))
            continue
        answered += 1
        modes[result.mode] += 1
        good = contains_answer(text, golds)
        correct += good
        sourced_answered += bool(sources)
        cited_ok += any(_is_gold(c.article, sources) for c in result.citations)
        if not good:
            failures.append(Miss(item["id"], item["question"], text[:200], golds))
    n = len(questions)

    def share(part: float, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return EvalReport(
        questions=n, answerable=answerable, unanswerable=unanswerable,
        answer_accuracy=share(correct, answerable),
        token_f1=share(sum(f1s), answerable),
        short_exact_match=share(short_exact, answerable),
        short_f1=share(sum(short_f1s), answerable),
        citation_accuracy=share(cited_ok, sourced_answered),
        abstention_precision=share(abstained_ok, abstentions),
        abstention_recall=share(abstained_ok, unanswerable),
        abstained_answerable=answerable - answered,
        article_recall_at_5=share(recall5, sourced),
        mrr=share(mrr, sourced),
        answer_in_context_4000=share(in_context, answerable),
        latency_p50_ms=round(percentile(latencies, 0.5) * 1000, 1),
        latency_p95_ms=round(percentile(latencies, 0.95) * 1000, 1),
        mode=(engine.llm_spec and "llm") or "extractive",
        answered_by_mode=dict(modes),
        oracle=oracle,
        unknown_sources=sorted(gold_sources - engine.store.sources(gold_sources)),
        failures=failures,
    )


def format_report(report: EvalReport) -> str:
    """A small table of the metrics, then the first failures."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    rows = [
        ("questions (answerable / unanswerable)",
         f"{report.questions} ({report.answerable} / {report.unanswerable})"),
        ("answer accuracy (gold string in answer)", pct(report.answer_accuracy)),
        ("token F1 (whole answer)", pct(report.token_f1)),
        ("short answer exact match", pct(report.short_exact_match)),
        ("short answer token F1", pct(report.short_f1)),
        ("citation accuracy (answered)", pct(report.citation_accuracy)),
        ("abstention precision", pct(report.abstention_precision)),
        ("abstention recall (unanswerable)", pct(report.abstention_recall)),
        ("answerable questions abstained", str(report.abstained_answerable)),
        ("article recall@5", pct(report.article_recall_at_5)),
        ("MRR (articles)", f"{report.mrr:.3f}" if report.mrr is not None else "n/a"),
        (f"gold answer in {CONTEXT_CHARS:,}-char context", pct(report.answer_in_context_4000)),
        ("latency p50 / p95", f"{report.latency_p50_ms} ms / {report.latency_p95_ms} ms"),
    ]
    fallbacks = report.answered_by_mode.get("llm-fallback", 0)
    if report.mode == "llm":
        rows.append(("answered by the language model / fallback",
                     f"{report.answered_by_mode.get('llm', 0)} / {fallbacks}"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if unknown := report.unknown_sources:
        lines.append(f"\n{len(unknown)} gold source(s) not in the index (their questions "
                     f"cannot be cited right): {', '.join(unknown[:5])}"
                     + (", ..." if len(unknown) > 5 else ""))
    if report.failures:
        lines.append(f"\n{len(report.failures)} missed; first ones:")
        for failure in report.failures[:5]:
            lines.append(f"- {failure.question} -> {failure.got[:120]}")
    return "\n".join(lines)
