"""The DuckLake warehouse: attaching it, one writer at a time, and compaction.

DuckLake settles concurrent commits itself only when they do not touch the same rows; the
pipeline's writes are read-then-write (`max(seq) + 1`, the ledger, MERGE upserts), so writers
take a lake-wide lock for the short burst of each write, as they take the DuckDB file's lock:
an advisory lock in the PostgreSQL catalog (held across hosts) or a lock file beside the SQLite
catalog. Readers take no lock at all: every query reads one committed snapshot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.object_store import ObjectStoreCredentials
from pipeline.storage.extensions import load_extension, sql_literal
from pipeline.storage.location import Lake

LAKE_ALIAS = "lake"
# This process's databases with a lake attached, by (pid, lake, read-only).
_attached: dict[tuple[int, Lake, bool], duckdb.DuckDBPyConnection] = {}
_attaching = threading.Lock()
# The lakes whose schema this process has made sure of, by (pid, lake).
_schema_ensured: set[tuple[int, Lake]] = set()
# One number for the whole lake: pg advisory locks are keyed by a 64-bit integer.
_PG_LOCK_KEY = zlib.crc32(b"shortvideo-pipeline warehouse writer")


class LakeLockTimeout(RuntimeError):
    """Another writer held the lake's write lock for longer than we were willing to wait."""


class LakeUnreachableError(RuntimeError):
    """The PostgreSQL catalog did not answer: one line, for the run's failure."""


def open_connection(
    lake: Lake, *, read_only: bool, config: dict[str, object]
) -> duckdb.DuckDBPyConnection:
    """A new connection to this process's database with the lake attached. Loading the
    extensions and attaching cost ~0.2 s, paid once per process instead of per connection; a
    new connection still reads the lake's latest commit, whoever made it."""
    key = (os.getpid(), lake, read_only)  # never a database inherited through fork
    with _attaching:
        base = _attached.get(key)
        if base is None:
            base = duckdb.connect(config=config)
            try:
                attach(base, lake, read_only=read_only)
            except BaseException:
                base.close()
                raise
            _attached[key] = base
        conn = base.cursor()  # the base connection is shared between threads: one at a time
    conn.execute(f"USE {LAKE_ALIAS}")
    return conn


def schema_ensured(lake: Lake) -> bool:
    """Whether this process has already made sure of `lake`'s schema: on a lake each change is
    a snapshot, so once per process is enough."""
    return (os.getpid(), lake) in _schema_ensured


def mark_schema_ensured(lake: Lake) -> None:
    _schema_ensured.add((os.getpid(), lake))


def attach(conn: duckdb.DuckDBPyConnection, lake: Lake, *, read_only: bool) -> None:
    """Attach the lake as `lake` and make it the default database, so every statement the
    pipeline writes for the file runs unchanged on the lake."""
    load_extension(conn, "ducklake")
    load_extension(conn, "sqlite_scanner" if lake.backend == "sqlite" else "postgres_scanner")
    if lake.remote_data:
        load_extension(conn, "httpfs")
        _object_store_secret(conn, lake.credentials)
    if lake.backend == "sqlite" and not read_only:
        Path(lake.catalog).parent.mkdir(parents=True, exist_ok=True)
    if not lake.remote_data and not read_only:
        Path(lake.data_path).mkdir(parents=True, exist_ok=True)
    options = f"DATA_PATH {sql_literal(lake.data_path)}" + (", READ_ONLY" if read_only else "")
    conn.execute(f"ATTACH {sql_literal(lake.attach_target)} AS {LAKE_ALIAS} ({options})")
    conn.execute(f"USE {LAKE_ALIAS}")


def _object_store_secret(
    conn: duckdb.DuckDBPyConnection, credentials: ObjectStoreCredentials | None
) -> None:
    """S3 (or an S3-compatible store) credentials as a temporary secret of this connection:
    never written to the lake or a log."""
    if credentials is None:
        return
    options = {
        "KEY_ID": credentials.access_key_id,
        "SECRET": credentials.secret_access_key,
        "REGION": credentials.region,
    }
    if credentials.session_token:
        options["SESSION_TOKEN"] = credentials.session_token
    endpoint = credentials.endpoint_url
    if endpoint:
        scheme, _, host = endpoint.rstrip("/").rpartition("://")
        options["ENDPOINT"] = host
        options["URL_STYLE"] = "path"
    settings = ", ".join(f"{name} {sql_literal(value)}" for name, value in options.items())
    if endpoint and scheme == "http":
        settings += ", USE_SSL false"
    try:
        conn.execute(f"CREATE OR REPLACE TEMPORARY SECRET lake_data (TYPE s3, {settings})")
    except duckdb.Error:
        # DuckDB may quote the statement back, and the statement holds the secret.
        raise RuntimeError(
            "the object store credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
            "AWS_ENDPOINT_URL) were refused by DuckDB's httpfs"
        ) from None


def exists(lake: Lake) -> bool:
    """Whether a reader has anything to attach (the first writer creates the lake): the SQLite
    catalog's file, or DuckLake's tables in the PostgreSQL database. A catalog that cannot be
    reached counts as present, so attaching it says what is wrong."""
    if lake.backend == "sqlite":
        return Path(lake.catalog).is_file()
    import psycopg2

    try:
        conn = psycopg2.connect(lake.catalog)
    except psycopg2.Error:
        return True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('ducklake_metadata') IS NOT NULL")
            row = cursor.fetchone()
        return bool(row and row[0])
    finally:
        conn.close()


@contextmanager
def write_lock(
    lake: Lake,
    wait_seconds: float,
    on_wait: Callable[[float], None],
) -> Iterator[None]:
    """Hold the lake's single-writer lock; `on_wait(remaining)` is called while another holds it."""
    lock = _PostgresLock(lake.catalog) if lake.backend == "postgres" else _FileLock(lake.catalog)
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    try:
        while not lock.try_acquire():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LakeLockTimeout(
                    f"{lake.describe()} is being written by another run; gave up after "
                    f"{wait_seconds:.0f}s"
                )
            on_wait(remaining)
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 1.0)
        yield
    finally:
        lock.close()


class _FileLock:
    def __init__(self, catalog: str) -> None:
        path = Path(catalog + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        os.close(self._fd)  # closing releases the lock


class _PostgresLock:
    """A session advisory lock: PostgreSQL releases it when the session ends, so a writer that
    dies never leaves the lake locked."""

    def __init__(self, conninfo: str) -> None:
        import psycopg2

        try:
            self._conn = psycopg2.connect(conninfo)
        except psycopg2.Error as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            raise LakeUnreachableError(f"cannot reach the lake's catalog: {reason}") from None
        self._conn.autocommit = True

    def try_acquire(self) -> bool:
        with self._conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (_PG_LOCK_KEY,))
            row = cursor.fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._conn.close()


def data_files(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM __ducklake_metadata_{LAKE_ALIAS}.ducklake_data_file "
        "WHERE end_snapshot IS NULL"
    ).fetchone()
    return int(row[0]) if row else 0


def compact(conn: duckdb.DuckDBPyConnection, log: logging.Logger | logging.LoggerAdapter) -> int:
    """Write small inlined inserts out, merge the small Parquet files each short write leaves,
    then delete the files no snapshot needs any more: a lake written in bursts would otherwise
    read thousands of tiny files. Snapshots older than a day are expired first, so time travel
    reaches back one day. Returns the data files left."""
    before = data_files(conn)
    lake = sql_literal(LAKE_ALIAS)
    conn.execute(f"CALL ducklake_flush_inlined_data({lake})")
    conn.execute(f"CALL ducklake_expire_snapshots({lake}, older_than => now() - INTERVAL 1 DAY)")
    conn.execute(f"CALL ducklake_merge_adjacent_files({lake})")
    conn.execute(f"CALL ducklake_cleanup_old_files({lake}, cleanup_all => true)")
    after = data_files(conn)
    log.info(f"lake compaction: {before} data files -> {after}")
    return after
