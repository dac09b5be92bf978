"""Opening the DuckDB file: one writing process at a time, so wait for the lock and say so."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.warehouse.schema import create_schema

log = logging.getLogger("pipeline.warehouse")

_LOCK_HOLDER = re.compile(r"PID (\d+)")


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than we were willing to wait."""


def _is_lock_error(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


@contextmanager
def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open, retrying while another process holds the file; close on exit.

    `wait_seconds=0` tries once, for callers that have something better to do meanwhile.
    """
    logger = logger or log
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    warned_at = 0.0
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise
            holder = _LOCK_HOLDER.search(str(error))
            who = f"process {holder.group(1)}" if holder else "another process"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseLockedError(
                    f"warehouse {path} is locked by {who}; gave up after {wait_seconds:.0f}s"
                ) from None
            now = time.monotonic()
            if now - warned_at > 10:
                logger.warning(
                    "warehouse %s is locked by %s; waiting (up to %.0fs more), "
                    "fetched results are safe in the spool",
                    path,
                    who,
                    remaining,
                )
                warned_at = now
            time.sleep(min(delay, max(remaining, 0.01)))
            delay = min(delay * 1.5, 2.0)
    try:
        if not read_only:
            create_schema(conn)
        yield conn
    finally:
        conn.close()
