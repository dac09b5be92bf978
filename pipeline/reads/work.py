"""What is left to do for a set of batches: the only reads that decide API calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from pipeline.status import JobStatus, LinkStatus, next_calls
from pipeline.storage.frames import lookup


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
    """The batch's videos with a call to make (`pipeline.status.next_calls`, the rule `plan`
    counts with). Only listed lines: a line removed from its file is never paid for again, only
    its running job polled (`running_jobs`)."""
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            f"WITH k AS ({_BATCH_KEYS}) "
            "SELECT k.video_key, k.raw_text, k.url, k.canonical_url, m.status, t.status FROM k "
            "LEFT JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata' "
            "LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript' "
            "ORDER BY k.first_seen"
        ).fetchall()
    work = []
    for *item, metadata, transcript in rows:
        calls = next_calls(metadata, transcript, resubmit_uncertain=resubmit_uncertain)
        if calls.any:
            work.append(VideoWork(WorkItem(*item), calls.needs_metadata, calls.may_submit))
    return work


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
            f"WHERE j.status = '{JobStatus.RUNNING}' AND j.video_key IN "
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
            f"WHERE s.metadata_status = '{LinkStatus.PENDING}' "
            f"OR s.transcript_status = '{LinkStatus.PENDING}' ORDER BY 1"
        ).fetchall()
    ]
