"""Account- and workflow-wide halts: remembered so automated runs do not hammer a dead account.

A person's `python -m pipeline run` always tries (they may just have recharged); the sensor and
the schedule wait until `resume_after`. Each halt in a row doubles the wait, up to a day; a
daily quota waits for the next day in China Standard Time, when Coze's quotas reset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from pipeline.coze import codes
from pipeline.coze.errors import ServiceHaltError

FIRST_WAIT = timedelta(hours=1)
LONGEST_WAIT = timedelta(days=1)
COZE_DAY_OFFSET = timedelta(hours=8)  # Coze (coze.cn) counts days in China Standard Time


def resume_after(code: int | None, halts_in_a_row: int, now: datetime) -> datetime:
    """When an automated run may try again after the `halts_in_a_row`-th halt (1 = first)."""
    if code == codes.DAILY_QUOTA:
        local = now + COZE_DAY_OFFSET
        next_day = datetime(local.year, local.month, local.day) + timedelta(days=1)
        return next_day - COZE_DAY_OFFSET
    wait = FIRST_WAIT * 2 ** max(0, halts_in_a_row - 1)
    return now + min(wait, LONGEST_WAIT)


def record_halt(conn: duckdb.DuckDBPyConnection, error: ServiceHaltError) -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None)
    in_a_row = conn.execute("SELECT count(*) FROM service_halts").fetchone()[0] + 1
    until = resume_after(error.code, in_a_row, now)
    conn.execute(
        "INSERT INTO service_halts VALUES (?, ?, ?, ?, ?, ?)",
        [now, error.scope, error.code, error.http_status, str(error), until],
    )
    return until


def clear_halts(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("DELETE FROM service_halts")


def active_halt(conn: duckdb.DuckDBPyConnection) -> tuple[datetime, str] | None:
    """The latest halt whose wait has not run out: (resume_after UTC, its line)."""
    row = conn.execute(
        "SELECT resume_after, message FROM service_halts "
        "WHERE resume_after > ? ORDER BY halted_at DESC LIMIT 1",
        [datetime.now(UTC).replace(tzinfo=None)],
    ).fetchone()
    return (row[0], row[1]) if row else None
