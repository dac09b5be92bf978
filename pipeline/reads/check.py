"""`python -m pipeline check`: is the warehouse whole, and if not, what to do.

DuckDB verifies a block's checksum only when a query reads the block, so damage in a table that
runs never read (the search index, say) goes unnoticed until the one query that needs it fails
for good. The check reads every column of every table in full, compares the tables with
`pipeline/schema/` and runs a search on the index. Each problem is one line saying
what to do: `rebuild` when only derived tables suffer and the raw layer is intact, else restore
from a backup. It opens the file read-only and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.media.store import MediaStore, sha256_of
from pipeline.schema import FTS_SCHEMA, SOURCE_TABLES, TABLES, VIEWS, is_lake
from pipeline.status import MediaStatus
from pipeline.storage.db import (
    WarehouseLockedError,
    WarehouseUnreadableError,
    connect,
    first_line,
    warehouse_exists,
)
from pipeline.storage.extensions import load_fts
from pipeline.storage.location import Warehouse

BACKUP = "restore the warehouse from a backup"
# Saved media files `check` reads back: enough to catch a store copied wrong or half restored.
MEDIA_SAMPLE = 100


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def check_warehouse(
    target: Warehouse | Path,
    lock_wait_seconds: float = 600.0,
    media_store: MediaStore | None = None,
    media_sample: int = MEDIA_SAMPLE,
) -> CheckReport:
    """`media_store`: where `media_files` says the saved files are; a sample of them is read
    back and held to its sha256."""
    warehouse = Warehouse.of(target)
    if not warehouse_exists(warehouse):
        return CheckReport([f"no warehouse at {warehouse.describe()}: check --db or PIPELINE_DB"])
    try:
        with connect(warehouse, read_only=True, wait_seconds=lock_wait_seconds) as conn:
            report, rows = _check(conn, warehouse.path)
            if media_store is not None and "media_files" in rows:
                _check_media(conn, media_store, media_sample, report)
        if warehouse.lake is not None and not report.problems:
            _check_index_file(warehouse, rows.get("search_documents", 0), report)
        return report
    except (WarehouseUnreadableError, WarehouseLockedError) as error:
        return CheckReport([str(error)])


def _check_media(
    conn: duckdb.DuckDBPyConnection, store: MediaStore, sample: int, report: CheckReport
) -> None:
    """Saved files, a random sample of them (the archive may hold terabytes): each must be in
    the store with the bytes its sha256 names."""
    rows = conn.execute(
        "SELECT sha256, path FROM (SELECT DISTINCT sha256, path FROM media_files "
        f"WHERE status = '{MediaStatus.OK}') ORDER BY random() LIMIT $n",
        {"n": sample},
    ).fetchall()
    bad = 0
    for sha256, path in rows:
        try:
            actual = sha256_of(store, path)
        except FileNotFoundError:
            report.problems.append(
                f"media file {path} is missing from {store}: its rows say it was saved; "
                "restore the media store from a backup"
            )
            bad += 1
            continue
        if actual != sha256:
            report.problems.append(
                f"media file {path} does not hold the bytes its sha256 names (read {actual}): "
                "restore it from a backup"
            )
            bad += 1
    report.facts.append(
        f"media: {len(rows)} saved files read back from {store}"
        + (f", {bad} wrong" if bad else ", all intact")
    )


def _check_index_file(warehouse: Warehouse, documents: int, report: CheckReport) -> None:
    """On a lake the index is this host's own file, derived from the lake's documents."""
    rebuild = _rebuild(warehouse.path, "the index")
    if not warehouse.search_index.exists():
        if documents:
            report.problems.append(
                f"search index file {warehouse.search_index} is missing: {rebuild}"
            )
        else:
            report.facts.append("search index: none yet (no transcript analysed)")
        return
    with connect(warehouse.search_index, read_only=True, wait_seconds=0) as conn:
        rows, damage = _read_everything(conn, _columns(conn))
        if damage:
            report.problems += [
                f"damaged: index table {n} ({r}): {rebuild}" for n, r in damage.items()
            ]
            return
        # Held to the lake's documents, so an index left behind by the lake shows as stale.
        _check_index(conn, {**rows, "search_documents": documents}, report, rebuild)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check(conn: duckdb.DuckDBPyConnection, path: Path) -> tuple[CheckReport, dict[str, int]]:
    report = CheckReport()
    columns = _columns(conn)
    rows, damage = _read_everything(conn, columns)
    raw_intact = not any(name in damage for name in SOURCE_TABLES)
    report.facts.append(
        f"{len(columns)} tables read in full, DuckDB checking every block's checksum: "
        + (f"{len(damage)} damaged" if damage else "all intact")
    )
    for name, reason in damage.items():
        derived = name not in SOURCE_TABLES and _is_ours(name)
        remedy = _rebuild(path, "it") if derived and raw_intact else BACKUP
        report.problems.append(f"damaged: table {name} ({reason}): {remedy}")
    report.problems += _schema_problems(conn, columns, path)
    report.facts.append(
        "rows: " + ", ".join(f"{t.name} {rows[t.name]}" for t in TABLES if t.name in rows)
    )
    if not damage and not is_lake(conn):
        _check_index(conn, rows, report, _rebuild(path, "the index"))
    return report, rows


def _columns(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, str]]:
    columns: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, kind in conn.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE table_oid IN (SELECT table_oid FROM duckdb_tables() WHERE NOT temporary "
        "AND database_name = current_database()) ORDER BY schema_name, table_name, column_index"
    ).fetchall():
        columns.setdefault((schema, table), {})[column] = kind
    return columns


def _rebuild(path: Path, what: str) -> str:
    return f"`python -m pipeline rebuild --db {path}` recomputes {what} from raw_responses"


def _is_ours(name: str) -> bool:
    return name in {t.name for t in TABLES} or name.startswith(f"{FTS_SCHEMA}.")


def _read_everything(
    conn: duckdb.DuckDBPyConnection, columns: dict[tuple[str, str], dict[str, str]]
) -> tuple[dict[str, int], dict[str, str]]:
    """Row counts, and the tables DuckDB could not read. Hashing every value makes it load and
    verify every block of every column (a bare count(*) is answered from metadata)."""
    rows: dict[str, int] = {}
    damage: dict[str, str] = {}
    for (schema, table), names in columns.items():
        name = table if schema == "main" else f"{schema}.{table}"
        digest = "".join(f", bit_xor(hash({_quote(c)}))" for c in names)
        try:
            result = conn.execute(
                f"SELECT count(*){digest} FROM {_quote(schema)}.{_quote(table)}"
            ).fetchone()
        except duckdb.Error as error:
            damage[name] = first_line(error)
            continue
        rows[name] = result[0] if result else 0
    return rows, damage


def _schema_problems(
    conn: duckdb.DuckDBPyConnection, columns: dict[tuple[str, str], dict[str, str]], path: Path
) -> list[str]:
    problems: list[str] = []
    rebuild = _rebuild(path, "it")
    for table in TABLES:
        have = columns.get(("main", table.name))
        fix = BACKUP if table.name in SOURCE_TABLES else rebuild
        if have is None:
            problems.append(f"schema: table {table.name} is missing: {fix}")
            continue
        for column in table.columns:
            if column.name not in have:
                missing_fix = (
                    "made by an older version: any run, or `rebuild`, adds it"
                    if (table.name, column.name) == ("raw_responses", "seq")
                    else fix
                )
                problems.append(
                    f"schema: column {table.name}.{column.name} is missing: {missing_fix}"
                )
            elif have[column.name] != column.type:
                problems.append(
                    f"schema: column {table.name}.{column.name} is {have[column.name]}, "
                    f"not {column.type}: {fix}"
                )
    views = {
        name
        for (name,) in conn.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
            "AND database_name = current_database()"
        ).fetchall()
    }
    problems += [
        f"schema: view {view.name} is missing: any run, or `rebuild`, recreates it"
        for view in VIEWS
        if view.name not in views
    ]
    return problems


def _check_index(
    conn: duckdb.DuckDBPyConnection, rows: dict[str, int], report: CheckReport, rebuild: str
) -> None:
    """The index loads and finds a word it holds, and covers every analysed document."""
    documents = rows.get("search_documents", 0)
    indexed = rows.get(f"{FTS_SCHEMA}.docs")
    if not documents:
        report.facts.append("search index: none yet (no transcript analysed)")
        return
    if indexed is None:
        report.problems.append(f"search index is missing: {rebuild}")
        return
    try:
        load_fts(conn)
        term = conn.execute(
            f"SELECT term FROM {FTS_SCHEMA}.dict ORDER BY termid LIMIT 1"
        ).fetchone()
        found = conn.execute(
            "SELECT count(*) FROM search_videos(?)", [term[0] if term else ""]
        ).fetchone()
    except duckdb.Error as error:
        report.problems.append(f"search index does not load ({first_line(error)}): {rebuild}")
        return
    hits = found[0] if found else 0
    if indexed != documents or not hits:
        report.problems.append(
            f"search index is stale ({indexed} of {documents} documents, a search for one of its "
            f"words finds {hits}): {rebuild}"
        )
        return
    report.facts.append(f"search index: {indexed} documents, loads and finds what it holds")
