"""Staging link files into `links`: parsed a block at a time into the temp table
`_batch_links`, then each batch's rows replaced from it in one transaction, so no reader sees a
half-updated batch.

Only a block of a file is in Python at a time; the staged lines, and the figures the step
reports of them, are DuckDB's. The blocks go to a temp table, not into `links` inside the
transaction, because DuckDB holds a transaction's uncommitted appends in memory it does not
spill (2,000,000 lines: 820 MB peak RSS against 950 MB).

A line removed from the file whose video has a paid transcript job stays, unlisted: its job is
still polled and its transcript collected, and the person sees it in `link_status`. A file with
no lines left keeps its batch's rows.
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
# new lines go in: the lines that may leave. Few, since each job was paid for.
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
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _batch_links AS SELECT {LINK_TABLE_COLUMNS} FROM links "
        "WHERE false"
    )
    try:
        for batch, path in files.items():
            _load(conn, batch, path, block_size)
        figures = {batch: _figures(conn, [batch]) for batch in files}
        staged = [batch for batch, f in figures.items() if f.lines]
        with transaction(conn):
            paid = conn.execute(_PAID, [staged]).pl()
            conn.execute("DELETE FROM links WHERE list_contains(?, batch)", [staged])
            conn.execute(
                f"INSERT INTO links ({LINK_TABLE_COLUMNS}) "
                f"SELECT {LINK_TABLE_COLUMNS} FROM _batch_links"
            )
            kept = stored_lines(conn, [batch for batch in files if batch not in staged])
            unlisted = _keep_paid(conn, paid, staged)
        return StagedLinks(figures, _figures(conn, list(files)), kept, unlisted)
    finally:
        conn.execute("DROP TABLE IF EXISTS _batch_links")


def _load(
    conn: duckdb.DuckDBPyConnection, batch: str, path: str | os.PathLike[str], block_size: int
) -> None:
    """The batch's file into `_batch_links`, a block at a time; its lines share one load time."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    for parsed in parse_blocks(path, block_size):
        with registered(conn, "_block", batch_frame(batch, parsed, loaded_at)):
            conn.execute(
                f"INSERT INTO _batch_links ({LINK_TABLE_COLUMNS}) "
                f"SELECT {LINK_TABLE_COLUMNS} FROM _block"
            )


def _figures(conn: duckdb.DuckDBPyConnection, batches: list[str]) -> LineFigures:
    """The figures of these batches' staged lines (videos counted once)."""
    lines, bad, videos = conn.execute(
        "SELECT count(*), count(error), count(DISTINCT video_key) FROM _batch_links "
        "WHERE list_contains(?, batch)",
        [batches],
    ).fetchone() or (0, 0, 0)
    reasons = conn.execute(
        "SELECT error, count(*) FROM _batch_links "
        "WHERE list_contains(?, batch) AND error IS NOT NULL GROUP BY 1 ORDER BY 1",
        [batches],
    ).fetchall()
    return LineFigures(lines, bad, videos, dict(reasons))


def _keep_paid(conn: duckdb.DuckDBPyConnection, paid: pl.DataFrame, staged: list[str]) -> int:
    """Insert, unlisted, the paid lines whose video is no longer in their staged batch."""
    if paid.is_empty():
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
