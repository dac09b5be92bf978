"""A real PostgreSQL server for the tests, and a fresh database in it per test.

pgserver ships PostgreSQL 16's binaries in its wheel and starts a server on a unix socket in
under a second, so tests of what lives in Postgres (the Dagster instance, a DuckLake catalog)
run against the real thing on any machine, with nothing to install or start beforehand.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pgserver
import psycopg2
import pytest

USER = "postgres"  # pgserver's superuser; the server trusts local connections, no password


@dataclass(frozen=True)
class PostgresDatabase:
    """One database, in the spellings clients take: libpq's URI (psycopg2) and key/value
    conninfo (DuckDB's postgres extension, DuckLake's catalog), and SQLAlchemy's URL (Dagster)."""

    name: str
    socket_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:@/{self.name}?host={self.socket_dir}"

    @property
    def sqlalchemy_url(self) -> str:
        """SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, which is not installed:
        dagster-postgres brings psycopg2, so the URL names it."""
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)

    @property
    def conninfo(self) -> str:
        return f"dbname={self.name} host={self.socket_dir} user={USER}"


@dataclass(frozen=True)
class PostgresServer:
    """The test session's server; each test makes its own database in it."""

    socket_dir: Path

    def create_database(self, prefix: str = "test") -> PostgresDatabase:
        """A new, empty database, so tests never see each other's tables."""
        name = f"{prefix}_{uuid.uuid4().hex}"
        conn = psycopg2.connect(PostgresDatabase(USER, self.socket_dir).url)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return PostgresDatabase(name, self.socket_dir)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One server for the whole session (started on first use, stopped at the end)."""
    server = pgserver.get_server(tmp_path_factory.mktemp("postgres") / "data", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    assert socket_dir is not None, "pgserver listens on a unix socket on Linux and macOS"
    try:
        yield PostgresServer(socket_dir)
    finally:
        server.cleanup()
