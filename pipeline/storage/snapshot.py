"""The read-only snapshot people, notebooks and BI tools open instead of the live warehouse.

DuckDB lets one process write while no other even reads, so a reader on the live file either
fails with a lock error or stalls the next run. The pipeline therefore publishes a copy,
`<stem>.read.duckdb` beside the warehouse, as the run's last step (the `read_snapshot` asset),
or where a run stops early (a Coze halt, a failing step): checkpointed
while the writer's connection (and so the file lock) is held, copied to a temp file in the same
folder, fsynced, then renamed over the snapshot. A reader sees the previous snapshot or the new
one, never half a file, and one holding the old one open keeps reading the old inode.

A DuckLake needs no snapshot: readers attach it read-only and see its last commit, without any
lock. After a run's last writing step its small files are compacted instead (`after_write`).

The copy is made by a child process: POSIX drops every lock a process holds on a file when any
descriptor of it is closed, so reading the warehouse in the writer's own process would release
the writer's lock behind DuckDB's back.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.schema.migrations import create_schema
from pipeline.storage.db import (
    CONFIG,
    WarehouseLockedError,
    WarehouseUnreadableError,
    connect,
    first_line,
    is_damage,
    warehouse_exists,
)
from pipeline.storage.lake import compact
from pipeline.storage.location import Warehouse

log = logging.getLogger("pipeline.storage")

Logger = logging.Logger | logging.LoggerAdapter
_COPY = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"  # with the mode bits


def snapshot_path(warehouse: Path) -> Path:
    """`data/warehouse.duckdb` -> `data/warehouse.read.duckdb`."""
    return warehouse.with_name(f"{warehouse.stem}.read.duckdb")


@dataclass(frozen=True)
class Published:
    path: Path
    size: int
    seconds: float

    def describe(self) -> str:
        return f"{self.path} ({self.size / 1e6:.1f} MB) in {self.seconds:.2f}s"


def after_write(warehouse: Warehouse, wait_seconds: float, logger: Logger) -> dict[str, object]:
    """What a step that wrote does last, for readers: a new snapshot of the file, or the lake's
    small files compacted. Never fails the step (its data is stored; the next step catches up):
    a problem is a warning. Returns what to show in the step's metadata."""
    try:
        with connect(warehouse, wait_seconds=wait_seconds, logger=logger) as conn:
            if warehouse.lake is not None:
                return {"lake_data_files": compact(conn, logger)}
            published = publish(conn, warehouse.path, logger)
    except (WarehouseLockedError, duckdb.Error) as error:
        logger.warning(f"could not prepare the warehouse for readers: {first_line(error)}")
        return {}
    if published is None:
        return {}
    return {"snapshot": published.path, "snapshot_seconds": round(published.seconds, 3)}


def publish(
    conn: duckdb.DuckDBPyConnection, warehouse: Path, logger: Logger | None = None
) -> Published | None:
    """Copy the warehouse to its snapshot; `conn` must be a write connection to it, so no other
    process writes meanwhile. A failure (disk full, folder not writable) is a warning and leaves
    the previous snapshot as it was: the warehouse holds the data, the next publish catches up."""
    logger = logger or log
    target = snapshot_path(warehouse)
    started = time.monotonic()
    temp: Path | None = None
    try:
        _remove_stale_temps(target)
        conn.execute("CHECKPOINT")
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        temp = Path(name)
        copied = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _COPY, str(warehouse), str(temp)],
            capture_output=True,
            text=True,
        )
        if copied.returncode:
            lines = copied.stderr.strip().splitlines()
            raise OSError(lines[-1] if lines else f"copy exited with {copied.returncode}")
        _fsync(temp)
        os.replace(temp, target)
        temp = None
        _fsync(target.parent)
    except (OSError, duckdb.Error) as error:
        logger.warning(
            "could not publish the read-only snapshot %s (%s); readers keep the previous one "
            "until the next step publishes",
            target,
            first_line(error),
        )
        return None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    published = Published(target, target.stat().st_size, time.monotonic() - started)
    logger.info("published the read-only snapshot %s", published.describe())
    return published


def _remove_stale_temps(target: Path) -> None:
    """Temp files of a publisher that was killed: the caller holds the write lock, so no other
    publish is under way."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@dataclass(frozen=True)
class Reader:
    conn: duckdb.DuckDBPyConnection
    published: bool
    """False: nothing has been published yet, `conn` has the schema with no rows."""


def _has_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])


@contextmanager
def read_snapshot(target: Warehouse | Path, logger: Logger | None = None) -> Iterator[Reader]:
    """A read-only connection to the snapshot, for the reader commands: it never waits for or
    fails on a run that is writing. With no snapshot yet, one is published if the warehouse is
    free; else the reader gets the empty schema (`Reader.published` False). A lake is read
    directly: its readers take no lock."""
    warehouse = Warehouse.of(target)
    if warehouse.lake is not None and warehouse_exists(warehouse):
        with connect(warehouse, read_only=True, logger=logger) as conn:
            if _has_tables(conn):  # the first writer creates the lake, then its tables
                yield Reader(conn, published=True)
                return
    target = snapshot_path(warehouse.path)
    if warehouse.lake is None and not target.exists() and warehouse.path.exists():
        try:
            with connect(warehouse, wait_seconds=0, logger=logger) as conn:
                publish(conn, warehouse.path, logger)
        except WarehouseLockedError:
            pass
    published = warehouse.lake is None and target.exists()
    try:
        conn = duckdb.connect(
            str(target) if published else ":memory:", config=CONFIG, read_only=published
        )
    except duckdb.Error as error:
        raise WarehouseUnreadableError(
            f"cannot open the snapshot {target}: {first_line(error)}; the next run or "
            "`python -m pipeline rebuild` publishes a new one"
        ) from None
    try:
        conn.execute("SET TimeZone = 'UTC'")
        if not published:
            create_schema(conn)
        yield Reader(conn, published)
    except duckdb.Error as error:
        if is_damage(error):
            raise WarehouseUnreadableError(
                f"the snapshot {target} is damaged ({first_line(error)}): `python -m pipeline "
                f"check --db {warehouse.path}` says whether the warehouse is too; the next run or "
                "`rebuild` publishes a new snapshot"
            ) from error
        raise
    finally:
        conn.close()
