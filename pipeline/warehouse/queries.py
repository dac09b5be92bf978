"""What is left to do for a set of batches: the only reads that decide API calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from pipeline.warehouse.frames import lookup


@dataclass(frozen=True, slots=True)
class WorkItem:
    video_key: str
    raw_text: str
    url: str
    canonical_url: str | None


@dataclass(frozen=True, slots=True)
class RunningJob:
    execute_id: str
    video_key: str
    workflow_id: str
    age_seconds: float


_BATCH_KEYS = """
    SELECT video_key,
           arg_min(raw_text, (batch, line_no)) AS raw_text,
           arg_min(url, (batch, line_no)) AS url,
           arg_min(canonical_url, (batch, line_no)) AS canonical_url,
           min((batch, line_no)) AS first_seen
    FROM links
    WHERE error IS NULL AND batch IN (SELECT batch FROM _batches)
    GROUP BY video_key
"""


def metadata_todo(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> list[WorkItem]:
    """Videos never resolved, or whose last failure may be retried."""
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            f"WITH k AS ({_BATCH_KEYS}) SELECT k.video_key, k.raw_text, k.url, k.canonical_url FROM k "
            "LEFT JOIN item_state s ON s.video_key = k.video_key AND s.step = 'metadata' "
            "WHERE s.status IS NULL OR s.status = 'retry' ORDER BY k.first_seen"
        ).fetchall()
    return [WorkItem(*r) for r in rows]


def submit_todo(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str], *, resubmit_uncertain: bool = False
) -> list[WorkItem]:
    """Resolved videos with no live or successful transcript job (and attempts left); videos
    whose last submit may have started an unseen paid job only when the user asks."""
    uncertain = " OR t.status = 'uncertain'" if resubmit_uncertain else ""
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            f"WITH k AS ({_BATCH_KEYS}) SELECT k.video_key, k.raw_text, k.url, k.canonical_url FROM k "
            "JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata' "
            "AND m.status = 'ok' "
            "LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript' "
            f"WHERE t.status IS NULL OR t.status = 'retry'{uncertain} ORDER BY k.first_seen"
        ).fetchall()
    return [WorkItem(*r) for r in rows]


def running_jobs(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> list[RunningJob]:
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            "SELECT j.execute_id, j.video_key, j.workflow_id, "
            "epoch(now()::TIMESTAMP) - epoch(j.submitted_at) FROM transcript_jobs j "
            "WHERE j.status = 'Running' AND j.video_key IN "
            "(SELECT video_key FROM links WHERE batch IN (SELECT batch FROM _batches)) "
            "ORDER BY j.submitted_at"
        ).fetchall()
    return [RunningJob(*r) for r in rows]


def batch_video_keys(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> list[str]:
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            "SELECT DISTINCT video_key FROM links WHERE error IS NULL "
            "AND batch IN (SELECT batch FROM _batches)"
        ).fetchall()
    return [r[0] for r in rows]


def unfinished_batches(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Batches with a video still pending (running job or retryable failure): the schedule's work."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT l.batch FROM links l JOIN link_status s USING (video_key) "
            "WHERE s.metadata_status = 'pending' OR s.transcript_status = 'pending' ORDER BY 1"
        ).fetchall()
    ]
