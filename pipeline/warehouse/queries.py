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
    WHERE error IS NULL AND listed AND batch IN (SELECT batch FROM _batches)
    GROUP BY video_key
"""


@dataclass(frozen=True, slots=True)
class VideoWork:
    """One video's calls this run: its metadata call if unresolved, then its submit if its
    transcript may be submitted (after a successful metadata call, for an unresolved one)."""

    item: WorkItem
    needs_metadata: bool
    may_submit: bool


def coze_todo(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str], *, resubmit_uncertain: bool = False
) -> list[VideoWork]:
    """Videos never resolved or whose last failure may be retried; resolved videos with no live
    or successful transcript job (and attempts left); videos whose last submit may have
    started an unseen paid job only when the user asks. Only listed lines: a line removed from
    its file is never paid for again, only its running job polled (`running_jobs`)."""
    uncertain = " OR t.status = 'uncertain'" if resubmit_uncertain else ""
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            f"WITH k AS ({_BATCH_KEYS}), w AS ("
            "SELECT k.*, m.status IS NULL OR m.status = 'retry' AS needs_metadata, "
            f"t.status IS NULL OR t.status = 'retry'{uncertain} AS may_submit FROM k "
            "LEFT JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata' "
            "LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript' "
            "WHERE m.status IS NULL OR m.status IN ('retry', 'ok')) "
            "SELECT video_key, raw_text, url, canonical_url, needs_metadata, may_submit FROM w "
            "WHERE needs_metadata OR may_submit ORDER BY first_seen"
        ).fetchall()
    return [VideoWork(WorkItem(*r[:4]), r[4], r[5]) for r in rows]


def recent_run_seconds(conn: duckdb.DuckDBPyConnection, limit: int) -> list[float]:
    """How long Coze ran the latest finished jobs: the poll schedule's prior."""
    rows = conn.execute(
        "SELECT run_seconds FROM transcript_jobs WHERE run_seconds IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [r[0] for r in rows]


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
