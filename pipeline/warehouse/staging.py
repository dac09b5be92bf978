"""Staging a parsed link file into `links`: one bulk Arrow insert, replacing the batch's rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import polars as pl

from pipeline.warehouse.frames import TABLE_BY_NAME, registered
from pipeline.warehouse.transaction import transaction

LINK_TABLE_COLUMNS = ", ".join(c.name for c in TABLE_BY_NAME["links"].columns)


def batch_frame(batch: str, parsed: pl.DataFrame) -> pl.DataFrame:
    """The parser's records plus the batch name and load time, in `links` column names."""
    return parsed.rename({"raw": "raw_text"}).with_columns(
        pl.lit(batch).alias("batch"),
        pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("loaded_at"),
    )


def stage_links(conn: duckdb.DuckDBPyConnection, data: pl.DataFrame) -> None:
    """Re-reading a batch replaces it whole, in one transaction: no half-updated batch is seen."""
    with transaction(conn), registered(conn, "_batch_links", data):
        conn.execute("DELETE FROM links WHERE batch IN (SELECT DISTINCT batch FROM _batch_links)")
        conn.execute(
            f"INSERT INTO links ({LINK_TABLE_COLUMNS}) SELECT {LINK_TABLE_COLUMNS} FROM _batch_links"
        )


def stored_lines(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> dict[str, int]:
    """How many `links` rows each of these batches has, for those that have any."""
    if not batches:
        return {}
    rows = conn.execute(
        "SELECT batch, count(*) FROM links WHERE list_contains(?, batch) GROUP BY 1 ORDER BY 1",
        [list(batches)],
    ).fetchall()
    return dict(rows)
