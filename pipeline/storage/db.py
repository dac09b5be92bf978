"""Opening the warehouse: one writing process at a time, so wait for the lock and say so.

The warehouse is the DuckDB file, or a DuckLake attached as the default database
(`pipeline.storage.lake`), so the same SQL runs on both.

Every connection is set up the same way: time in UTC, whatever the host's zone (the warehouse
stores UTC as naive TIMESTAMP, so `now()::TIMESTAMP` must be UTC too), and no extension
installed or loaded behind our back (a stray file makes DuckDB reach for the network; the lake's
extensions are loaded explicitly from their packages). A file DuckDB cannot read is one clear error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb

from pipeline.schema.migrations import create_schema
from pipeline.storage import lake as lakes
from pipeline.storage.location import Warehouse

log = logging.getLogger("pipeline.storage")

_LOCK_HOLDER = re.compile(r"PID (\d+)")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Every connection to one file in a process must share these, or DuckDB refuses the second.
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# What DuckDB says when a file's bytes are wrong: data damaged, not a lock or a bad query.
_DAMAGE = ("Corrupt database file", "Could not read enough bytes")


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than we were willing to wait."""


class WarehouseOutOfMemoryError(duckdb.OutOfMemoryException):
    """A statement needed more than PIPELINE_DUCKDB_MEMORY and could not spill: the message says
    which variable to raise. Still a `duckdb.Error`, so every handler of DuckDB's errors holds."""


class WarehouseUnreadableError(RuntimeError):
    """The file is not a DuckDB database, or its bytes are damaged: one line saying what to do."""


def _is_lock_error(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def is_damage(error: duckdb.Error) -> bool:
    return any(sign in str(error) for sign in _DAMAGE)


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _unopenable(path: Path, error: duckdb.Error) -> WarehouseUnreadableError:
    """Why the file would not open, with what to do, on one line."""
    try:
        with path.open("rb") as handle:
            sqlite = handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        sqlite = False
    if sqlite:
        return WarehouseUnreadableError(
            f"{path} is a SQLite database, not the DuckDB warehouse: point --db or PIPELINE_DB "
            "at the warehouse file"
        )
    if "not a valid DuckDB database" in str(error):
        return WarehouseUnreadableError(
            f"{path} is not a DuckDB database (empty or overwritten): point --db or PIPELINE_DB "
            "at the warehouse, or restore the warehouse from a backup"
        )
    if is_damage(error):
        return WarehouseUnreadableError(
            f"warehouse {path} is damaged and cannot be opened ({first_line(error)}): restore it "
            "from a backup"
        )
    return WarehouseUnreadableError(f"cannot open warehouse {path}: {first_line(error)}")


def _damaged(path: Path, error: duckdb.Error) -> WarehouseUnreadableError:
    return WarehouseUnreadableError(
        f"warehouse {path} is damaged ({first_line(error)}): `python -m pipeline check --db "
        f"{path}` says which tables and what to do"
    )


@contextmanager
def connect(
    target: Warehouse | str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open, retrying while another process holds the file; close on exit.

    `wait_seconds=0` tries once, for callers that have something better to do meanwhile. Damage
    found while the connection is used is raised as `WarehouseUnreadableError` too.
    """
    warehouse = Warehouse.of(target)
    logger = logger or log
    if warehouse.lake is not None:
        with _connect_lake(warehouse, read_only, wait_seconds, logger) as conn:
            yield conn
        return
    path = warehouse.path
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    warned_at = 0.0
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=CONFIG)
            break
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise _unopenable(path, error) from None
            holder = _LOCK_HOLDER.search(str(error))
            who = f"process {holder.group(1)}" if holder else "another process"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseLockedError(
                    f"warehouse {path} is locked by {who}; gave up after {wait_seconds:.0f}s"
                ) from None
            now = time.monotonic()
            if now - warned_at > 10:
                _warn_locked(logger, str(path), who, remaining)
                warned_at = now
            time.sleep(min(delay, max(remaining, 0.01)))
            delay = min(delay * 1.5, 2.0)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        # Set, not passed in CONFIG: DuckDB refuses a second connection to an open file with
        # another config, and the limit is the file's, shared by its connections anyway.
        conn.execute(f"SET memory_limit = '{warehouse.duckdb_memory}'")
        if not read_only:
            create_schema(conn)
        yield conn
    except duckdb.OutOfMemoryException as error:
        raise WarehouseOutOfMemoryError(
            f"{first_line(error)}: DuckDB may use {warehouse.duckdb_memory} for warehouse "
            f"{path}; raise PIPELINE_DUCKDB_MEMORY"
        ) from error
    except duckdb.Error as error:
        if is_damage(error):
            raise _damaged(path, error) from error
        raise
    finally:
        conn.close()


def _warn_locked(
    logger: logging.Logger | logging.LoggerAdapter, what: str, who: str, remaining: float
) -> None:
    logger.warning(
        "warehouse %s is locked by %s; waiting (up to %.0fs more), "
        "fetched results are safe in the spool",
        what,
        who,
        remaining,
    )


@contextmanager
def _connect_lake(
    warehouse: Warehouse,
    read_only: bool,
    wait_seconds: float,
    logger: logging.Logger | logging.LoggerAdapter,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the lake attached (one per process): nothing local is locked,
    so any number of processes read and write; writers queue on the lake's own lock for their
    short bursts."""
    lake = warehouse.lake
    assert lake is not None
    warned_at = 0.0

    def waiting(remaining: float) -> None:
        nonlocal warned_at
        if time.monotonic() - warned_at > 10:
            _warn_locked(logger, lake.describe(), "another run", remaining)
            warned_at = time.monotonic()

    with ExitStack() as stack:
        if not read_only:
            try:
                stack.enter_context(lakes.write_lock(lake, wait_seconds, waiting))
            except lakes.LakeLockTimeout as error:
                raise WarehouseLockedError(str(error)) from None
            except lakes.LakeUnreachableError as error:
                raise WarehouseUnreadableError(f"{lake.describe()}: {error}") from None
        try:
            conn = lakes.open_connection(lake, read_only=read_only, config=CONFIG)
        except duckdb.Error as error:
            raise WarehouseUnreadableError(
                f"cannot open {lake.describe()}: {first_line(error)}"
            ) from None
        stack.callback(conn.close)
        conn.execute("SET TimeZone = 'UTC'")
        if not read_only and not lakes.schema_ensured(lake):
            create_schema(conn)
            lakes.mark_schema_ensured(lake)
        yield conn


def warehouse_exists(target: Warehouse | str | Path) -> bool:
    """Whether there is anything to read yet."""
    warehouse = Warehouse.of(target)
    if warehouse.lake is not None:
        return lakes.exists(warehouse.lake)
    return warehouse.path.is_file()


def ensure_openable(target: Warehouse | str | Path) -> None:
    """Raise `WarehouseUnreadableError` now if DuckDB cannot open the warehouse, for commands
    that would otherwise meet it deep inside their work; one yet to be made or held by a writer
    is fine."""
    if not warehouse_exists(target):
        return
    try:
        with connect(target, read_only=True, wait_seconds=0):
            pass
    except WarehouseLockedError:
        return
