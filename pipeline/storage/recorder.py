"""Records API answers: fsynced to the spool at once, committed to DuckDB in short batches.

The order is what makes crashes harmless: an answer (an `execute_id` above all) is on disk before
the caller sees it; DuckDB commits dedupe on `response_id`, so replaying a spool that was already
committed changes nothing; a spool file is deleted only after its rows are committed.

When the spool cannot be written (a full disk), the answer is committed straight to DuckDB; when
that fails too, `record` raises `AnswersNotStoredError` and keeps the answer in memory for the
next commit, and the step stops paying for more (`pipeline.steps.runner`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import duckdb

from pipeline.answers.ledger import ItemState, Job, Ledger
from pipeline.answers.raw import RawRow
from pipeline.schema.transaction import transaction
from pipeline.storage.db import (
    WarehouseLockedError,
    WarehouseUnreadableError,
    connect,
    first_line,
)
from pipeline.storage.frames import TABLE_BY_NAME, frame, lookup, registered, upsert
from pipeline.storage.location import Warehouse
from pipeline.storage.spool import SpoolFile, orphaned_spools, read_spool

# Seconds `record` waits for a locked warehouse when the spool failed: the event loop waits too.
DIRECT_COMMIT_WAIT = 5.0
# One commit at a time per process, in recording order, so `seq` follows cause and effect.
COMMITS = threading.Lock()
_RAW_COLUMNS = ", ".join(c.name for c in TABLE_BY_NAME["raw_responses"].columns)
# What a commit may meet that is not a bug: the answers wait in memory or the spool for the next.
COMMIT_FAILURES = (WarehouseLockedError, WarehouseUnreadableError, duckdb.Error, OSError)


class StorageError(RuntimeError):
    """Answers could not be stored as they arrived: the step stopped starting paid calls."""


class AnswersNotStoredError(StorageError):
    """Answers held in memory only: this message is all that is left of them, so it names each
    (a submit's execute_id is a paid job whose result Coze still holds)."""

    def __init__(self, rows: Sequence[RawRow], cause: BaseException) -> None:
        self.rows = tuple(rows)
        names = "; ".join(_describe(row) for row in self.rows)
        super().__init__(
            f"{len(self.rows)} answers could not be stored, in the spool or the warehouse "
            f"({first_line(cause)}): {names}. A submit named here is a paid job the warehouse "
            "does not know: note its execute_id (Coze keeps its result), free disk space, "
            "then run again"
        )


def _describe(row: RawRow) -> str:
    job = f" execute_id {row.execute_id}" if row.execute_id else ""
    return f"{row.kind}{job} video_key {row.video_key}"


# How often a long Coze step refreshes the readers' snapshot: each refresh copies the file.
PUBLISH_EVERY_SECONDS = 120.0


def spool_dir_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".spool")


class Recorder:
    def __init__(
        self,
        warehouse: Warehouse | Path,
        *,
        max_attempts: int,
        lock_wait_seconds: float,
        logger: logging.Logger | logging.LoggerAdapter,
        publish: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
        publish_every: float = PUBLISH_EVERY_SECONDS,
    ) -> None:
        """`publish`, called with the write connection after a commit at most every
        `publish_every` seconds, shows a long step's progress to readers (the file's snapshot)."""
        self.warehouse = Warehouse.of(warehouse)
        self._publish = publish
        self._publish_every = publish_every
        self._next_publish = time.monotonic() + publish_every
        self.spool_dir = spool_dir_for(self.warehouse.path)
        self.max_attempts = max_attempts
        self.lock_wait_seconds = lock_wait_seconds
        self.log = logger
        self._lock = threading.Lock()
        # Rows by spool file, in recording order; `None` holds rows no spool file took.
        self._segments: list[tuple[SpoolFile | None, list[RawRow]]] = []
        self._spool_failed = False
        # Set once an answer reached neither the spool nor DuckDB: the step must stop.
        self.refused = False

    def record(self, row: RawRow) -> None:
        """Durable when this returns: in the spool, else committed to DuckDB. Else it raises
        `AnswersNotStoredError` and the next commit tries again."""
        with self._lock:
            try:
                self._spool(row)
                return
            except OSError as error:
                spool_error = error
                self._segments.append((None, [row]))
        if not self._spool_failed:
            self._spool_failed = True
            self.log.warning(
                "cannot write the spool in %s (%s): committing answers straight to the warehouse",
                self.spool_dir,
                spool_error,
            )
        try:
            self._commit(min(self.lock_wait_seconds, DIRECT_COMMIT_WAIT))
        except AnswersNotStoredError:
            self.refused = True
            raise

    def _spool(self, row: RawRow) -> None:
        """A spool file that failed a write is left as it is (its last line may be torn)."""
        if not self._segments or self._segments[-1][0] is None:
            self._segments.append((SpoolFile(self.spool_dir), []))
        spool, rows = self._segments[-1]
        assert spool is not None
        spool.append(row)
        rows.append(row)

    def flush(self, *, wait: bool) -> bool:
        """Commit what is recorded. Without `wait`, a locked warehouse just means later."""
        try:
            self._commit(self.lock_wait_seconds if wait else 0.0)
        except (StorageError, *COMMIT_FAILURES):
            if wait:
                raise
            return False
        return True

    def _commit(self, wait_seconds: float) -> None:
        with COMMITS:
            with self._lock:
                segments, self._segments = self._segments, []
            rows = [row for _, segment_rows in segments for row in segment_rows]
            if not rows:
                return
            try:
                with connect(self.warehouse, wait_seconds=wait_seconds, logger=self.log) as conn:
                    commit_rows(conn, rows, self.max_attempts)
                    if self._publish is not None and time.monotonic() >= self._next_publish:
                        self._publish(conn)
                        self._next_publish = time.monotonic() + self._publish_every
            except COMMIT_FAILURES as error:
                with self._lock:
                    self._segments = segments + self._segments
                    unstored = [r for spool, rs in self._segments if spool is None for r in rs]
                if unstored:
                    raise AnswersNotStoredError(unstored, error) from error
                raise
        for spool, _ in segments:
            if spool is not None:
                spool.discard()

    def recover(self) -> int:
        """Commit answers left in the spool by a process that died before committing them."""
        recovered = 0
        for path in orphaned_spools(self.spool_dir):
            rows = read_spool(path)
            with (
                COMMITS,
                connect(
                    self.warehouse, wait_seconds=self.lock_wait_seconds, logger=self.log
                ) as conn,
            ):
                recovered += commit_rows(conn, rows, self.max_attempts)
            path.unlink(missing_ok=True)
        if recovered:
            self.log.info("recovered %d answers from an interrupted run's spool", recovered)
        return recovered


def commit_rows(conn: duckdb.DuckDBPyConnection, rows: list[RawRow], max_attempts: int) -> int:
    """One transaction: the new raw rows, numbered in the order given, and the state they imply.
    Returns rows newly stored."""
    with transaction(conn):
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
            first = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM raw_responses").fetchone()[
                0
            ]
            fresh = [replace(r, seq=first + n) for n, r in enumerate(fresh)]
            ledger = load_ledger(conn, fresh, max_attempts)
            ledger.apply(fresh)
            new_rows = frame("raw_responses", (naive(asdict(r)) for r in fresh))
            with registered(conn, "_fresh", new_rows):
                conn.execute(
                    f"INSERT INTO raw_responses ({_RAW_COLUMNS}) SELECT {_RAW_COLUMNS} FROM _fresh"
                )
            save_ledger(conn, ledger)
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
        conn, "item_state", frame("item_state", (naive(asdict(i)) for i in ledger.items.values()))
    )
    upsert(
        conn,
        "transcript_jobs",
        frame("transcript_jobs", (naive(asdict(j)) for j in ledger.jobs.values())),
    )


def naive(data: dict) -> dict:
    """The warehouse stores UTC as naive TIMESTAMP; strip tzinfo so DuckDB never shifts it."""
    return {
        k: v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo is not None else v
        for k, v in data.items()
    }
