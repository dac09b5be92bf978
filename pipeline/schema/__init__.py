"""The warehouse's tables and views, declared once with their column docs.

`docs/schema.md` is generated from them (`python -m pipeline schema-doc`) and a test checks
that it matches both the declarations and the live database, so the doc cannot drift.
`migrations` brings a warehouse of any earlier release to them, once.
"""

from __future__ import annotations

import duckdb

from pipeline.schema.declarations import Table, View
from pipeline.schema.derived import DERIVED, VIEWS
from pipeline.schema.sources import SOURCE_AND_STATE

TABLES: tuple[Table, ...] = (*SOURCE_AND_STATE, *DERIVED)
# The warehouse's own bookkeeping: no asset writes it, so it is no asset in the catalog.
BOOKKEEPING = ("schema_version",)
# Not derived from raw_responses: `rebuild` keeps them (media_files records files on disk).
SOURCE_TABLES = ("links", "raw_responses", "service_halts", "media_files", *BOOKKEEPING)
SCHEMA_BY_NAME: dict[str, Table | View] = {item.name: item for item in (*TABLES, *VIEWS)}


def column_names(name: str) -> set[str]:
    """The columns of a table or view, as declared here (tests hold the live file to them)."""
    return {column.name for column in SCHEMA_BY_NAME[name].columns}


INDEXES = (
    "CREATE INDEX IF NOT EXISTS raw_responses_video ON raw_responses (video_key, kind)",
    "CREATE INDEX IF NOT EXISTS transcript_jobs_video ON transcript_jobs (video_key)",
)


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default database is a DuckLake (no keys or indexes)."""
    row = conn.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0] == "ducklake")


def create_objects(conn: duckdb.DuckDBPyConnection) -> None:
    """Every missing table and index, and every view as this release defines it; runs inside
    the caller's transaction, if any. A lake has no keys and no indexes."""
    lake = is_lake(conn)
    for table in TABLES:
        conn.execute(table.ddl(keyed=not lake))
    if not lake:
        for statement in INDEXES:
            conn.execute(statement)
    for view in VIEWS:
        conn.execute(view.sql)


def schema_markdown() -> str:
    lines = [
        "# Warehouse schema",
        "",
        "Generated from `pipeline/schema/` by `python -m pipeline schema-doc`; "
        "a test checks it against the live database.",
        "",
    ]
    for table in TABLES:
        lines += [
            f"## `{table.name}`",
            "",
            table.doc,
            "",
        ]
        if table.primary_key:
            lines += [f"Primary key: `{', '.join(table.primary_key)}`", ""]
        lines += ["| column | type | null | meaning |", "|---|---|---|---|"]
        for col in table.columns:
            null = "" if col.nullable and col.name not in table.primary_key else "not null"
            lines.append(f"| `{col.name}` | {col.type} | {null} | {col.doc} |")
        lines.append("")
    for view in VIEWS:
        lines += [f"## `{view.name}` (view)", "", view.doc, ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in view.columns]
        lines.append("")
    return "\n".join(lines)
