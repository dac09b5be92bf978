"""Staging a parsed link file into `links`: one bulk Arrow insert, replacing the batch's rows.

A line removed from the file whose video has a paid transcript job stays, unlisted: its job is
still polled and its transcript collected, and the person sees it in `link_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import polars as pl

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


def batch_frame(batch: str, parsed: pl.DataFrame) -> pl.DataFrame:
    """The parser's records plus the batch name and load time, in `links` column names."""
    return parsed.rename({"raw": "raw_text"}).with_columns(
        pl.lit(batch).alias("batch"),
        pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("loaded_at"),
        pl.lit(True).alias("listed"),
    )


# The batch's lines that leave the file now while their video has a paid job: one per video.
_LEAVING = """
    SELECT * FROM links l
    WHERE l.batch IN (SELECT DISTINCT batch FROM _batch_links) AND l.error IS NULL
      AND l.video_key IN (SELECT video_key FROM transcript_jobs)
      AND NOT EXISTS (
          SELECT 1 FROM _batch_links b WHERE b.batch = l.batch AND b.video_key = l.video_key
      )
    QUALIFY row_number() OVER (PARTITION BY l.batch, l.video_key ORDER BY l.line_no) = 1
"""


def stage_links(conn: duckdb.DuckDBPyConnection, data: pl.DataFrame) -> int:
    """Re-reading a batch replaces it whole, in one transaction: no half-updated batch is seen.
    Its removed lines with paid jobs come back unlisted, numbered after the file's last line;
    returns how many there are."""
    with transaction(conn), registered(conn, "_batch_links", data):
        leaving = conn.execute(_LEAVING).pl()
        conn.execute("DELETE FROM links WHERE batch IN (SELECT DISTINCT batch FROM _batch_links)")
        conn.execute(
            f"INSERT INTO links ({LINK_TABLE_COLUMNS}) SELECT {LINK_TABLE_COLUMNS} FROM _batch_links"
        )
        if leaving.is_empty():
            return 0
        with registered(conn, "_leaving", leaving):
            conn.execute(
                f"INSERT INTO links ({LINK_TABLE_COLUMNS}) SELECT {_UNLISTED_COLUMNS} "
                "FROM _leaving l JOIN (SELECT batch, max(line_no) AS last FROM _batch_links "
                "GROUP BY batch) n USING (batch)"
            )
    return leaving.height


def stored_lines(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> dict[str, int]:
    """How many `links` rows each of these batches has, for those that have any."""
    if not batches:
        return {}
    rows = conn.execute(
        "SELECT batch, count(*) FROM links WHERE list_contains(?, batch) GROUP BY 1 ORDER BY 1",
        [list(batches)],
    ).fetchall()
    return dict(rows)
