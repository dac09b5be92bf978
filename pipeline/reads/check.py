"""`python -m pipeline check`: is the warehouse whole, and if not, what to do.

DuckDB verifies a block's checksum only when a query reads the block, so damage in a table that
runs never read goes unnoticed until the one query that needs it fails for good. The check reads
every column of every table in full, compares the tables with `pipeline/schema/`, holds the
search index beside the warehouse to its checksums, reads every document of it and runs a search
on it. Each problem is one line saying what to do: `rebuild` when only derived tables suffer and
the raw layer is intact, else restore from a backup. It opens the file read-only and changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.media.store import MediaStore, sha256_of
from pipeline.schema import SOURCE_TABLES, TABLES, VIEWS
from pipeline.status import MediaStatus
from pipeline.storage.db import (
    WarehouseLockedError,
    WarehouseUnreadableError,
    connect,
    first_line,
    warehouse_exists,
)
from pipeline.storage.location import Warehouse
from pipeline.text.index import (
    SearchIndexError,
    damaged_files,
    index_exists,
    indexed_keys,
    ranked,
)

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
            if not report.problems:
                rebuild = _rebuild(warehouse.path, "the index")
                _check_index(warehouse.search_index, conn, report, rebuild)
            if media_store is not None and "media_files" in rows:
                _check_media(conn, media_store, media_sample, report)
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
    return name in {t.name for t in TABLES}


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
    directory: Path, conn: duckdb.DuckDBPyConnection, report: CheckReport, rebuild: str
) -> None:
    """Every file of the index holds to its checksum, every document of it reads back, it holds
    exactly the warehouse's videos, and a search for a word of theirs finds it."""
    documents = {
        key for (key,) in conn.execute("SELECT video_key FROM search_documents").fetchall()
    }
    if not index_exists(directory):
        if documents:
            report.problems.append(f"search index {directory} is missing: {rebuild}")
        else:
            report.facts.append("search index: none yet (no transcript analysed)")
        return
    word = conn.execute(
        "SELECT split_part(body, ' ', 1) FROM search_documents WHERE body <> '' LIMIT 1"
    ).fetchone()
    try:
        damaged = damaged_files(directory)
        if damaged:
            report.problems.append(
                f"search index {directory} is damaged: {', '.join(damaged)} fail their "
                f"checksums: {rebuild}"
            )
            return
        held = indexed_keys(directory)
        hits = ranked(directory, [word[0]], 1) if word else []
    except SearchIndexError as error:
        report.problems.append(f"{error}: {rebuild}")
        return
    missing, extra = len(documents - set(held)), len(set(held) - documents)
    if missing or extra or len(held) != len(set(held)) or (word and not hits):
        report.problems.append(
            f"search index {directory} is stale ({len(held)} documents for {len(documents)} "
            f"videos: {missing} missing, {extra} not in the warehouse; a search for one of their "
            f"words finds {len(hits)}): the next run brings it up to date, or {rebuild}"
        )
        return
    report.facts.append(
        f"search index: {len(held)} documents, read back whole, finds what it holds"
    )
