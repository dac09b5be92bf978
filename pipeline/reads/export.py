"""The warehouse as files for pandas, R or a spreadsheet: one file per table, by DuckDB's COPY.

A batch's export holds the rows of that batch's videos (and its `links` lines); tables that
belong to no video (bookkeeping, corpus-wide counts) are left out of it. The caller opens the
warehouse read-only: an export changes nothing a run relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from pipeline.schema import TABLES, VIEWS, column_names
from pipeline.storage.extensions import sql_literal

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")


@dataclass(frozen=True)
class Exported:
    table: str
    path: Path
    rows: int


def _scope(name: str, batch: str) -> str | None:
    """The WHERE clause that keeps one batch's rows of `name`; None if it has no such rows."""
    columns = column_names(name)
    if "batch" in columns:
        return f"batch = {sql_literal(batch)}"
    if "video_key" in columns:
        return f"video_key IN (SELECT video_key FROM links WHERE batch = {sql_literal(batch)})"
    return None


def export_warehouse(
    conn: duckdb.DuckDBPyConnection, directory: Path, *, fmt: Format, batch: str | None = None
) -> list[Exported]:
    """Every table and view (or one batch's rows of them) as `directory/<name>.<fmt>`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    if (
        batch is not None
        and not conn.execute("SELECT 1 FROM links WHERE batch = ? LIMIT 1", [batch]).fetchone()
    ):
        raise LookupError(f"no batch {batch!r} in the warehouse")
    directory.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    exported = []
    for name in [t.name for t in TABLES] + [v.name for v in VIEWS]:
        query = f"SELECT * FROM {name}"
        if batch is not None:
            where = _scope(name, batch)
            if where is None:
                continue
            query += f" WHERE {where}"
        path = directory / f"{name}.{fmt}"
        conn.execute(f"COPY ({query}) TO {sql_literal(str(path))} ({options})")
        rows = conn.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
        exported.append(Exported(name, path, rows))
    return exported
