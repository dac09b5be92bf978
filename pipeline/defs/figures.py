"""Each batch's own figures on its partition.

A run of several batches (a backfill runs as one) records one materialization per partition,
and Dagster gives each of them the step's metadata: without these, every batch of the run would
show the run's totals as its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
import duckdb

from pipeline.derive.staging import LineFigures
from pipeline.reads import reports

# Metadata by asset name, as `add_asset_metadata` takes it.
Figures = Mapping[str, Mapping[str, Any]]


def record_batch_figures(
    context: dg.AssetExecutionContext, figures: Callable[[str], Figures]
) -> None:
    """`figures(batch)` gives that batch's metadata by asset name; it replaces, on the batch's
    partition, what the step reports for the run. A run of one batch already reports its own."""
    if len(context.partition_keys) < 2:
        return
    for batch in context.partition_keys:
        for asset, metadata in figures(batch).items():
            context.add_asset_metadata(dict(metadata), asset_key=asset, partition_key=batch)


def line_figures(figures: LineFigures) -> dict[str, Any]:
    """What `links` reports of staged lines, as Dagster metadata: the run's or one batch's."""
    return {
        "lines": figures.lines,
        "bad_lines": figures.bad_lines,
        "distinct_videos": figures.distinct_videos,
        "errors_by_reason": dg.MetadataValue.json(figures.errors_by_reason),
    }


def batch_rows(
    conn: duckdb.DuckDBPyConnection, tables: tuple[str, ...]
) -> Callable[[str], Figures]:
    """Each batch's `dagster/row_count` of `tables`, for `record_batch_figures`."""
    return lambda batch: {
        table: {"dagster/row_count": rows}
        for table, rows in reports.row_counts(conn, tables, [batch]).items()
    }
