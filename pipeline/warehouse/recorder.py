"""Records API answers: fsynced to the spool at once, committed to DuckDB in short batches.

The order is what makes crashes harmless: an answer (an `execute_id` above all) is on disk before
the caller sees it; DuckDB commits dedupe on `response_id`, so replaying a spool that was already
committed changes nothing; a spool file is deleted only after its rows are committed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from pathlib import Path

import duckdb
import polars as pl

from pipeline.warehouse.db import WarehouseLockedError, connect
from pipeline.warehouse.frames import frame, lookup, upsert
from pipeline.warehouse.ledger import ItemState, Job, Ledger
from pipeline.warehouse.raw import RawRow
from pipeline.warehouse.spool import SpoolFile, orphaned_spools, read_spool


def spool_dir_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".spool")


class Recorder:
    def __init__(
        self,
        db_path: Path,
        *,
        max_attempts: int,
        lock_wait_seconds: float,
        logger: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        self.db_path = db_path
        self.spool_dir = spool_dir_for(db_path)
        self.max_attempts = max_attempts
        self.lock_wait_seconds = lock_wait_seconds
        self.log = logger
        self._lock = threading.Lock()
        self._segments: list[tuple[SpoolFile, list[RawRow]]] = []

    def record(self, row: RawRow) -> None:
        """Durable when this returns."""
        with self._lock:
            if not self._segments:
                self._segments.append((SpoolFile(self.spool_dir), []))
            spool, rows = self._segments[-1]
            spool.append(row)
            rows.append(row)

    def flush(self, *, wait: bool) -> bool:
        """Commit what is spooled. Without `wait`, a locked warehouse just means later."""
        with self._lock:
            segments, self._segments = self._segments, []
        rows = [row for _, segment_rows in segments for row in segment_rows]
        if not rows:
            return True
        try:
            with connect(
                self.db_path,
                wait_seconds=self.lock_wait_seconds if wait else 0.0,
                logger=self.log,
            ) as conn:
                commit_rows(conn, rows, self.max_attempts)
        except (WarehouseLockedError, duckdb.Error):
            with self._lock:
                self._segments = segments + self._segments
            if wait:
                raise
            return False
        for spool, _ in segments:
            spool.discard()
        return True

    def recover(self) -> int:
        """Commit answers left in the spool by a process that died before committing them."""
        recovered = 0
        for path in orphaned_spools(self.spool_dir):
            rows = read_spool(path)
            with connect(
                self.db_path, wait_seconds=self.lock_wait_seconds, logger=self.log
            ) as conn:
                recovered += commit_rows(conn, rows, self.max_attempts)
            path.unlink(missing_ok=True)
        if recovered:
            self.log.info("recovered %d answers from an interrupted run's spool", recovered)
        return recovered


def commit_rows(conn: duckdb.DuckDBPyConnection, rows: list[RawRow], max_attempts: int) -> int:
    """One transaction: the new raw rows and the state they imply. Returns rows newly stored."""
    raw = frame("raw_responses", (_naive(asdict(r)) for r in rows))
    conn.execute("BEGIN TRANSACTION")
    try:
        with lookup(conn, "_incoming", "response_id", (r.response_id for r in rows)):
            known = {
                r[0]
                for r in conn.execute(
                    "SELECT response_id FROM raw_responses WHERE response_id IN "
                    "(SELECT response_id FROM _incoming)"
                ).fetchall()
            }
        fresh = [r for r in rows if r.response_id not in known]
        if fresh:
            ledger = load_ledger(conn, fresh, max_attempts)
            ledger.apply(fresh)
            new_raw = raw.filter(~pl.col("response_id").is_in(list(known)))
            conn.register("_fresh", new_raw.to_arrow())
            conn.execute("INSERT INTO raw_responses SELECT * FROM _fresh")
            conn.unregister("_fresh")
            save_ledger(conn, ledger)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(fresh)


def load_ledger(conn: duckdb.DuckDBPyConnection, rows: list[RawRow], max_attempts: int) -> Ledger:
    """Only the state rows these answers can touch: cost follows the batch, not the warehouse."""
    with lookup(conn, "_keys", "video_key", sorted({r.video_key for r in rows})):
        items = {
            (r[0], r[1]): ItemState(*r)
            for r in conn.execute(
                "SELECT video_key, step, status, attempts, error_code, error_message, updated_at "
                "FROM item_state WHERE video_key IN (SELECT video_key FROM _keys)"
            ).fetchall()
        }
        job_columns = [f.name for f in Job.__dataclass_fields__.values()]
        jobs = {
            r[0]: Job(*r)
            for r in conn.execute(
                f"SELECT {', '.join(job_columns)} FROM transcript_jobs "
                "WHERE video_key IN (SELECT video_key FROM _keys)"
            ).fetchall()
        }
    per_video: dict[str, int] = {}
    for job in jobs.values():
        per_video[job.video_key] = max(per_video.get(job.video_key, 0), job.attempt)
    return Ledger(items=items, jobs=jobs, jobs_per_video=per_video, max_attempts=max_attempts)


def save_ledger(conn: duckdb.DuckDBPyConnection, ledger: Ledger) -> None:
    upsert(
        conn, "item_state", frame("item_state", (_naive(asdict(i)) for i in ledger.items.values()))
    )
    upsert(
        conn,
        "transcript_jobs",
        frame("transcript_jobs", (_naive(asdict(j)) for j in ledger.jobs.values())),
    )


def _naive(data: dict) -> dict:
    """The warehouse stores UTC as naive TIMESTAMP; strip tzinfo so DuckDB never shifts it."""
    return {
        k: v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo is not None else v
        for k, v in data.items()
    }
