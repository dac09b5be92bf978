"""Staging link files into `links`: each batch's rows replaced by its file's, a block at a time,
all in one transaction, so no reader sees a half-updated batch.

Only a block of a file is in Python at a time; the rows go straight into `links`, and the
figures the step reports are counted there. A line removed from the file whose video has a paid
transcript job stays, unlisted: its job is still polled and its transcript collected, and the
person sees it in `link_status`. A file with no lines left keeps its batch's rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

from pipeline.links.reader import BLOCK_SIZE, parse_blocks
from pipeline.schema.transaction import transaction
from pipeline.storage.frames import TABLE_BY_NAME, registered

LINK_TABLE_COLUMNS = ", ".join(c.name for c in TABLE_BY_NAME["links"].columns)
_UNLISTED = {
    "line_no": "n.last + row_number() OVER (PARTITION BY l.batch ORDER BY l.line_no)",
    "listed": "false",
}
_UNLISTED_COLUMNS = ", ".join(
    _UNLISTED.get(c.name, f"l.{c.name}") for c in TABLE_BY_NAME["links"].columns
)
# The batches' usable lines whose video has a paid job, one per video, as they are before the
# files are read: the lines that may leave. Few, since each job was paid for.
_PAID = """
    SELECT * FROM links l
    WHERE list_contains(?, l.batch) AND l.error IS NULL
      AND l.video_key IN (SELECT video_key FROM transcript_jobs)
    QUALIFY row_number() OVER (PARTITION BY l.batch, l.video_key ORDER BY l.line_no) = 1
"""


@dataclass(frozen=True, slots=True)
class LineFigures:
    """What the step reports of staged lines: a batch's, or the run's."""

    lines: int
    bad_lines: int
    distinct_videos: int
    errors_by_reason: dict[str, int]


NO_LINES = LineFigures(0, 0, 0, {})


@dataclass(frozen=True, slots=True)
class StagedLinks:
    """What staging did: figures per batch and for the run, rows kept of emptied files, and
    removed lines kept unlisted for their paid jobs."""

    figures: dict[str, LineFigures]
    total: LineFigures
    kept: dict[str, int]
    unlisted: int


def batch_frame(batch: str, parsed: pl.DataFrame, loaded_at: datetime) -> pl.DataFrame:
    """The parser's records plus the batch name and load time, in `links` column names."""
    return parsed.rename({"raw": "raw_text"}).with_columns(
        pl.lit(batch).alias("batch"),
        pl.lit(loaded_at).alias("loaded_at"),
        pl.lit(True).alias("listed"),
    )


def stage_link_files(
    conn: duckdb.DuckDBPyConnection,
    files: Mapping[str, str | os.PathLike[str]],
    block_size: int = BLOCK_SIZE,
) -> StagedLinks:
    """Replace each batch's rows with its file's lines (`files`: batch -> path); the removed
    lines with paid jobs come back unlisted, numbered after the file's last line."""
    with transaction(conn):
        paid = conn.execute(_PAID, [list(files)]).pl()
        staged = [batch for batch, path in files.items() if _replace(conn, batch, path, block_size)]
        figures = {b: _figures(conn, [b]) if b in staged else NO_LINES for b in files}
        total = _figures(conn, staged)
        kept = stored_lines(conn, [b for b in files if b not in staged])
        unlisted = _keep_paid(conn, paid, staged)
    return StagedLinks(figures, total, kept, unlisted)


def _replace(
    conn: duckdb.DuckDBPyConnection, batch: str, path: str | os.PathLike[str], block_size: int
) -> bool:
    """The batch's rows deleted at its file's first record, then its blocks inserted; False,
    and nothing touched, when the file has no record."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    replaced = False
    for parsed in parse_blocks(path, block_size):
        if parsed.is_empty():
            continue
        if not replaced:
            conn.execute("DELETE FROM links WHERE batch = ?", [batch])
            replaced = True
        with registered(conn, "_block", batch_frame(batch, parsed, loaded_at)):
            conn.execute(
                f"INSERT INTO links ({LINK_TABLE_COLUMNS}) SELECT {LINK_TABLE_COLUMNS} FROM _block"
            )
    return replaced


def _figures(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> LineFigures:
    """The figures of these batches' rows just inserted (videos counted once)."""
    if not batches:
        return NO_LINES
    lines, bad, videos = conn.execute(
        "SELECT count(*), count(error), count(DISTINCT video_key) FROM links "
        "WHERE list_contains(?, batch)",
        [list(batches)],
    ).fetchone() or (0, 0, 0)
    reasons = conn.execute(
        "SELECT error, count(*) FROM links WHERE list_contains(?, batch) AND error IS NOT NULL "
        "GROUP BY 1 ORDER BY 1",
        [list(batches)],
    ).fetchall()
    return LineFigures(lines, bad, videos, dict(reasons))


def _keep_paid(conn: duckdb.DuckDBPyConnection, paid: pl.DataFrame, staged: list[str]) -> int:
    """Insert, unlisted, the paid lines whose video is no longer in their staged batch."""
    if paid.is_empty() or not staged:
        return 0
    with registered(conn, "_paid", paid):
        (inserted,) = conn.execute(
            f"INSERT INTO links ({LINK_TABLE_COLUMNS}) SELECT {_UNLISTED_COLUMNS} FROM _paid l "
            "JOIN (SELECT batch, max(line_no) AS last FROM links WHERE list_contains(?, batch) "
            "GROUP BY batch) n USING (batch) WHERE NOT EXISTS (SELECT 1 FROM links b "
            "WHERE b.batch = l.batch AND b.video_key = l.video_key)",
            [staged],
        ).fetchone() or (0,)
    return int(inserted)


def stored_lines(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> dict[str, int]:
    """How many `links` rows each of these batches has, for those that have any."""
    if not batches:
        return {}
    rows = conn.execute(
        "SELECT batch, count(*) FROM links WHERE list_contains(?, batch) GROUP BY 1 ORDER BY 1",
        [list(batches)],
    ).fetchall()
    return dict(rows)
