"""The PostgreSQL store's connection and schema: URLs shown without passwords, connecting with
one clear error, and versioned migrations.

    schema_version (version, applied_at)   one row per applied migration
    store_meta     (key, value)            model, dimension, chunking of every stored vector
    corpus_stats   one row                 article/chunk/sentence counts, word totals (BM25's N,
                                           average lengths), bumped in each article's
                                           transaction; `generation` counts changes
    articles       content_hash PK         one cleaned article; id = hash prefix; `name` (file
                                           name) and `published_on` for filters
    chunks         id PK                   article_id -> articles.id (cascade), exact character
                                           offsets into articles.text, words (BM25 length)
    sentences      (chunk_id, i) PK        each chunk sentence's offsets and its vector in
                                           context, halfvec(dimension), HNSW (inner product)
    chunk_terms    (term, chunk_id)        BM25 postings of chunk text (title + chunk), and
                                           by term in order of impact (version 2)
    article_terms  (term, article_id)      BM25 postings of whole articles (the article prior),
                                           the same
    article_copies (content_hash, path)    where else an article stored once was found
                                           (version 3)
    articles.uploaded                      uploaded in the chat of some server: kept by a
                                           rebuild from the store's text (version 4)
    articles.uploaded_to                   the id of that server (`uploads_owner`; version 5,
                                           NULL for uploads from before)

Migrations run in one transaction under an advisory lock, so writers starting together apply
them once. A store whose schema is newer than this program's is refused, never changed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from qa.core.errors import IndexMismatchError, IndexNotFoundError, InputError, QAError
from qa.core.urls import mask_password, redact

if TYPE_CHECKING:
    from types import ModuleType

    import psycopg

__all__ = ["NOMINAL_WORDS", "SCHEMA_VERSION", "UPLOADED_BEFORE_4", "connect", "describe_url",
           "impact", "migrate", "read_meta", "require_psycopg", "schema_version",
           "set_dimension", "unavailable"]

#: The newest schema this program reads and writes.
SCHEMA_VERSION = 5
#: The BM25 length (terms less stopwords) a posting's impact assumes for its chunk or article:
#: about NewsQA's averages (69 and 296). Only the order in which a term's postings are read
#: depends on it; scores use the corpus's real average.
NOMINAL_WORDS = {"chunk_terms": 70, "article_terms": 300}
#: Which articles of a store from before version 4 were uploaded in a chat: the files in a
#: folder named as the chat's (`<index>/uploads/NAME`, or a record `NAME#n` of one).
UPLOADED_BEFORE_4 = "path ~ '/uploads/[^/]+$'"
#: pg_advisory_xact_lock key of migrations ("article-qa" in ASCII, truncated to 63 bits).
_MIGRATION_LOCK = 0x61727469636C65

_INSTALL = "pip install 'article-qa[postgres]'"
#: what a password in a URL must not hold as it is: libpq would read the URL otherwise.
_UNENCODED = re.compile(r"[@/?#]|%(?![0-9A-Fa-f]{2})")


def require_psycopg() -> Any:
    """The psycopg module, or `QAError` with the command that installs it."""
    try:
        import psycopg
    except ImportError:
        raise QAError(f"A postgresql:// store needs psycopg: {_INSTALL}") from None
    return psycopg


def describe_url(url: str) -> str:
    """`postgresql://user@host:port/db`: where the store is, never its password."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(mask_password(url)[0])
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "[local socket]")  # libpq's default: a Unix socket
    host = f"[{host}]" if host.startswith("/") else host  # a Unix socket directory
    return f"postgresql://{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname', '')}"


def unavailable(url: str, exc: BaseException) -> QAError:
    """The typed error for a database that cannot be reached: where, and why in one line,
    without the password."""
    from qa.core.errors import StoreUnavailableError

    reason = redact(" ".join(str(exc).split()), url)
    return StoreUnavailableError(f"Cannot reach the PostgreSQL store at {describe_url(url)}: "
                                 f"{reason[:200]}")


#: libpq's words for an option of the URL it cannot use ("invalid port number: "99999"").
_BAD_OPTION = re.compile(r"invalid (?:integer value .* for connection option|port number)")


#: how long a connection waits on a database it cannot hear from (the URL's own settings
#: win): 10 s to connect; over TCP, a peer gone without a word (a network lost, a host
#: powered off) is noticed within about 25 s when idle and 60 s when data is unanswered,
#: where a question or a writer waited for as long as the system's TCP allowed (hours).
#: (A database that hangs while its host still answers is not caught by these.)
_LOST_PEER = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10,
              "keepalives_interval": 5, "keepalives_count": 3, "tcp_user_timeout": 60_000}


def _given_options(psycopg: ModuleType, url: str) -> dict[str, str]:
    """The connection options `url` sets itself (`?keepalives_idle=30`)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {key: value for key, value in conninfo_to_dict(url).items()
                if key in _LOST_PEER}
    except psycopg.ProgrammingError:  # a malformed URL: psycopg.connect says what is wrong
        return {}


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection to the store, or `StoreUnavailableError`/`InputError` in one line."""
    psycopg = require_psycopg()
    from pgvector.psycopg import register_vector

    password = mask_password(url)[1]
    if password and _UNENCODED.search(password):
        raise InputError(f"--store: the password in {describe_url(url)} holds a character a "
                         "URL must percent-encode: write @ as %40, / as %2F, ? as %3F, "
                         "# as %23 and % as %25")
    try:
        connection = psycopg.connect(url, autocommit=autocommit,
                                     **{**_LOST_PEER, **_given_options(psycopg, url)})
    except psycopg.ProgrammingError as exc:  # a malformed URL
        raise InputError(f"--store: not a PostgreSQL URL ({describe_url(url)}): "
                         f"{redact(str(exc).splitlines()[0], url)[:160]}") from None
    except psycopg.OperationalError as exc:
        if _BAD_OPTION.search(str(exc)):  # a URL mistake, not a database away
            raise InputError(f"--store: not a usable PostgreSQL URL ({describe_url(url)}): "
                             f"{redact(str(exc).splitlines()[0], url)[:160]}") from None
        raise unavailable(url, exc) from None
    with contextlib.suppress(psycopg.ProgrammingError):  # no vector extension yet
        register_vector(connection)
    return connection


def refused(url: str, exc: BaseException) -> QAError:
    """The typed error (`StoreUnavailableError`: the store cannot be used as it is) for a
    database that refuses this user something (to create the vector extension, to read or
    write the store's tables, to create them): what, and what to do."""
    from psycopg.conninfo import conninfo_to_dict

    from qa.core.errors import StoreUnavailableError

    user = conninfo_to_dict(mask_password(url)[0]).get("user") or "this user"
    reason = redact(" ".join(str(exc).split()), url)[:200]
    where = describe_url(url)
    if "extension" in reason:
        return StoreUnavailableError(
            f"The PostgreSQL store at {where} needs the vector extension, which {user} may not "
            f"create ({reason}): have an administrator run CREATE EXTENSION vector; in that "
            "database once.")
    return StoreUnavailableError(
        f"The PostgreSQL store at {where} refused {user}: {reason}. Grant it the rights on the "
        "store's tables (or on the schema, to create them), or use the user that created the "
        "store.")


@contextlib.contextmanager
def store_connection(url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the store, closed afterwards; the database refusing this
    user something (see `refused`), or going away meanwhile, is `StoreUnavailableError`.
    What was committed stays; the transaction under way is rolled back by the database."""
    import psycopg

    with connect(url, autocommit=True) as connection:
        try:
            yield connection
        except psycopg.errors.InsufficientPrivilege as exc:
            raise refused(url, exc) from None
        except psycopg.errors.ReadOnlySqlTransaction:
            from qa.core.errors import StoreUnavailableError

            raise StoreUnavailableError(
                f"The PostgreSQL store at {describe_url(url)} takes no writes (a read-only "
                "replica, or default_transaction_read_only): index into the primary; "
                "questions can be asked of either.") from None
        except psycopg.OperationalError as exc:  # shut down, restarted, the network lost
            raise unavailable(url, exc) from None


_SENTENCES_HNSW = ("CREATE INDEX sentences_hnsw ON sentences USING hnsw (embedding "
                   "halfvec_ip_ops) WITH (m = 16, ef_construction = 64)")


def _migration_1(dimension: int) -> list[str]:
    vector = f"halfvec({int(dimension)})"
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        "CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE corpus_stats (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            articles bigint NOT NULL DEFAULT 0, chunks bigint NOT NULL DEFAULT 0,
            sentences bigint NOT NULL DEFAULT 0,
            chunk_words bigint NOT NULL DEFAULT 0, article_words bigint NOT NULL DEFAULT 0,
            generation bigint NOT NULL DEFAULT 0)""",
        "INSERT INTO corpus_stats DEFAULT VALUES",
        """CREATE TABLE articles (
            content_hash text PRIMARY KEY,
            id text NOT NULL UNIQUE,
            path text NOT NULL,
            name text NOT NULL,
            title text NOT NULL, text text NOT NULL,
            source text NOT NULL DEFAULT '', author text NOT NULL DEFAULT '',
            published text NOT NULL DEFAULT '', published_on date,
            url text NOT NULL DEFAULT '', section text NOT NULL DEFAULT '',
            captions jsonb NOT NULL DEFAULT '[]',
            chunk_count integer NOT NULL, sentence_count integer NOT NULL,
            chunk_words integer NOT NULL, words integer NOT NULL,
            added_at timestamptz NOT NULL DEFAULT now())""",
        "CREATE INDEX articles_path ON articles (path)",
        "CREATE INDEX articles_source ON articles (source)",
        "CREATE INDEX articles_name ON articles (name)",
        "CREATE INDEX articles_published_on ON articles (published_on)",
        """CREATE TABLE chunks (
            id text PRIMARY KEY,
            article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            seq integer NOT NULL,
            start_offset integer NOT NULL, end_offset integer NOT NULL,
            text text NOT NULL, words integer NOT NULL,
            CHECK (end_offset >= start_offset))""",
        "CREATE INDEX chunks_article ON chunks (article_id, seq)",
        f"""CREATE TABLE sentences (
            chunk_id text NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
            i integer NOT NULL,
            start_offset integer NOT NULL, end_offset integer NOT NULL,
            embedding {vector},
            PRIMARY KEY (chunk_id, i))""",
        _SENTENCES_HNSW,
        """CREATE TABLE chunk_terms (
            term text NOT NULL,
            chunk_id text NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
            tf integer NOT NULL, words integer NOT NULL,
            PRIMARY KEY (term, chunk_id))""",
        "CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id)",
        """CREATE TABLE article_terms (
            term text NOT NULL,
            article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            tf integer NOT NULL, words integer NOT NULL,
            PRIMARY KEY (term, article_id))""",
        "CREATE INDEX article_terms_article ON article_terms (article_id)",
    ]


def impact(table: str, alias: str = "") -> str:
    """The SQL expression of a posting's share of its BM25 score, idf aside (k1 1.2, b 0.75,
    the length `NOMINAL_WORDS`): the order of the impact index of `table`, and of queries that
    read it (`alias`: the table's alias there; the planner matches the expression itself)."""
    column = f"{alias}." if alias else ""
    return (f"{column}tf / ({column}tf + 0.3 + 0.9 * {column}words / "
            f"{NOMINAL_WORDS[table]}.0)::float8")


def _migration_2(dimension: int) -> list[str]:
    """Postings by term in order of impact, so that a query can read a common term's best
    postings only (`qa.index.postgres_read`), with what it needs inside the index."""
    return [f"CREATE INDEX {table}_impact ON {table} (term, ({impact(table)}) DESC) "
            f"INCLUDE ({key}, tf, words)"
            for table, key in (("chunk_terms", "chunk_id"), ("article_terms", "article_id"))]


def _migration_3(dimension: int) -> list[str]:
    """Where else an article stored once was found (duplicates): should the place it is
    stored from lose it, the article stays, from a copy that still holds it."""
    return ["CREATE TABLE article_copies (content_hash text NOT NULL REFERENCES articles "
            "(content_hash) ON DELETE CASCADE, path text NOT NULL, "
            "PRIMARY KEY (content_hash, path))"]


def _migration_4(dimension: int) -> list[str]:
    """Which articles were uploaded in a chat: their files are on the server that took them,
    so a rebuild elsewhere carries them over from their stored text instead of dropping them.
    Stores from before are marked by where the chat keeps uploads (`<index>/uploads/NAME`)."""
    return ["ALTER TABLE articles ADD COLUMN uploaded boolean NOT NULL DEFAULT false",
            f"UPDATE articles SET uploaded = true WHERE {UPLOADED_BEFORE_4}"]


def _migration_5(dimension: int) -> list[str]:
    """Which server each upload was made to: servers whose index folders have the same path
    (replicas of one image) store their uploads at the same paths, and one must not drop
    another's upload because its own folder lacks the file."""
    return ["ALTER TABLE articles ADD COLUMN uploaded_to text"]


def set_dimension(connection: psycopg.Connection, dimension: int) -> None:
    """Make the sentence vector column `halfvec(dimension)`, with its HNSW index, if it is
    of another size. Only for an emptied store (`--rebuild` with another model), inside the
    transaction that emptied it."""
    row = connection.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = "
                             "'sentences'::regclass AND attname = 'embedding'").fetchone()
    if row and int(row[0]) != int(dimension):
        connection.execute("DROP INDEX sentences_hnsw")
        connection.execute(f"ALTER TABLE sentences ALTER COLUMN embedding "
                           f"TYPE halfvec({int(dimension)})")
        connection.execute(_SENTENCES_HNSW)


def schema_version(connection: psycopg.Connection) -> int:
    """The store's schema version; 0 when the database holds no article-qa store."""
    exists = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def check_version(version: int, where: str) -> None:
    """Refuse a store made by a newer article-qa (its schema could be read wrongly)."""
    if version > SCHEMA_VERSION:
        raise IndexMismatchError(
            f"The PostgreSQL store at {where} has schema version {version}, made by a newer "
            f"article-qa; this one reads up to version {SCHEMA_VERSION}. Upgrade: "
            "pip install -U 'article-qa[postgres]'")


def migrate(connection: psycopg.Connection, where: str, dimension: int) -> None:
    """Create the store or bring its schema up to `SCHEMA_VERSION`, in one transaction."""
    migrations = {1: _migration_1, 2: _migration_2, 3: _migration_3, 4: _migration_4,
                  5: _migration_5}
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                           "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                           "DEFAULT now())")
        version = schema_version(connection)
        check_version(version, where)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in migrations[number](dimension):
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
    from pgvector.psycopg import register_vector

    register_vector(connection)


def read_meta(connection: psycopg.Connection, where: str) -> dict[str, str]:
    """The store's recorded model, dimension and chunking; `IndexNotFoundError` when the
    database holds no store, `IndexMismatchError` when it is of a newer schema."""
    version = schema_version(connection)
    if version == 0:
        raise IndexNotFoundError(where, "--store")
    check_version(version, where)
    meta = dict(connection.execute("SELECT key, value FROM store_meta").fetchall())
    if not {"model", "dimension"} <= meta.keys():  # a first writer stopped before writing
        raise IndexNotFoundError(where, "--store")
    return meta
