"""Bulk writes through Arrow: rows become a typed polars frame matching a warehouse table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import duckdb
import polars as pl

from pipeline.schema import TABLES, Table

_POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.Utf8(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "BOOLEAN": pl.Boolean(),
    "DOUBLE": pl.Float64(),
    "TIMESTAMP": pl.Datetime("us"),
}

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def _polars_schema(table_name: str) -> dict[str, pl.DataType]:
    return {c.name: _POLARS_TYPES[c.type] for c in TABLE_BY_NAME[table_name].columns}


def frame(table_name: str, rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    schema = _polars_schema(table_name)
    return pl.DataFrame(
        [{c: row.get(c) for c in schema} for row in rows], schema=schema, orient="row"
    )


def tuple_frame(table_name: str, rows: Iterable[tuple[Any, ...]]) -> pl.DataFrame:
    """Rows already in the table's column order, as bulk producers build them: no dict a row."""
    return pl.DataFrame(list(rows), schema=_polars_schema(table_name), orient="row")


@contextmanager
def registered(conn: duckdb.DuckDBPyConnection, name: str, data: pl.DataFrame) -> Iterator[None]:
    """`data` as the view `name` for the statements inside; unregistered however they end."""
    conn.register(name, data.to_arrow())
    try:
        yield
    finally:
        conn.unregister(name)


@contextmanager
def lookup(
    conn: duckdb.DuckDBPyConnection, name: str, column: str, values: Iterable[str]
) -> Iterator[None]:
    """`values` as the one-column view `name` for the statements inside, so SQL can join a
    Python list without building an IN (...) string; unregistered however the block ends."""
    data = pl.DataFrame({column: list(values)}, schema={column: pl.Utf8})
    with registered(conn, name, data):
        yield


def upsert(conn: duckdb.DuckDBPyConnection, table_name: str, data: pl.DataFrame) -> int:
    """Insert or replace by primary key; one statement for the whole frame."""
    if data.is_empty():
        return 0
    table = TABLE_BY_NAME[table_name]
    data = data.unique(subset=list(table.primary_key), keep="last", maintain_order=True)
    columns = ", ".join(c.name for c in table.columns)
    with registered(conn, "_upsert_frame", data):
        merge_by_key(conn, table_name, f"SELECT {columns} FROM _upsert_frame")
    return data.height


def merge_by_key(conn: duckdb.DuckDBPyConnection, table_name: str, rows_sql: str) -> None:
    """Replace the rows whose key `rows_sql` names and add the others. MERGE, not INSERT OR
    REPLACE, because a DuckLake has no primary key to conflict on: the same statement keeps a
    key unique on the file and on the lake. `rows_sql` must give each key once."""
    keys = ", ".join(TABLE_BY_NAME[table_name].primary_key)
    conn.execute(
        f"MERGE INTO {table_name} USING ({rows_sql}) AS incoming USING ({keys}) "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
