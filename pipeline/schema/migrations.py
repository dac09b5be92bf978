"""Bringing a warehouse made by any earlier release to this release's schema, once.

A `schema_version` table holds the number of the last migration applied; a writable open runs
only the migrations after it, each with its number recorded, so a current warehouse costs one
query per open instead of a dozen DDL statements. Migration 1 is everything before versions
existed: it makes a new warehouse, and brings any older one (a keyed `transcript_tokens`, no
`links.listed`, no `raw_responses.seq`, …) to the layout of its day. A release that changes a
table or a view adds the next number; `create_objects` is idempotent, so a migration that adds
a table or redefines a view calls it again.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from pipeline.schema import SCHEMA_BY_NAME, VIEWS, create_objects, is_lake
from pipeline.schema.transaction import transaction

VERSION_TABLE = "schema_version"


def _drop_token_key(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made when `transcript_tokens` had a primary key lose the table (DuckDB cannot
    drop a key) and their text digests, so the next text analysis fills it again; it is
    derived, and the segmenter's change re-segments every transcript anyway."""
    keyed = conn.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'transcript_tokens' "
        "AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    if keyed and keyed[0]:
        with transaction(conn):
            conn.execute("DROP TABLE transcript_tokens")
            conn.execute("DELETE FROM text_state")


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The live table's columns; none when it does not exist yet."""
    rows = conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def _add_listed(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before `links.listed` get it once, before the views that read it: every
    line they hold was listed, in one transaction, so no line is ever seen unlisted by mistake.
    DuckDB alters no table with an index on it, so its index on `video_key` goes first (migration
    5 leaves it gone); a lake cannot make an existing column NOT NULL, so there only new lakes
    have the constraint."""
    columns = _columns(conn, "links")
    if not columns or "listed" in columns:
        return
    conn.execute("DROP INDEX IF EXISTS links_video")
    with transaction(conn):
        conn.execute("ALTER TABLE links ADD COLUMN listed BOOLEAN")
        conn.execute("UPDATE links SET listed = true")
    if not is_lake(conn):
        conn.execute("ALTER TABLE links ALTER COLUMN listed SET NOT NULL")


def _add_seq(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before `raw_responses.seq` get it once, numbered by received_at: the only
    order they kept."""
    if "seq" in _columns(conn, "raw_responses"):
        return
    with transaction(conn):
        conn.execute("ALTER TABLE raw_responses ADD COLUMN IF NOT EXISTS seq BIGINT")
        conn.execute(
            "UPDATE raw_responses SET seq = n.seq FROM (SELECT response_id, row_number() OVER "
            "(ORDER BY received_at, response_id) AS seq FROM raw_responses) n "
            "WHERE raw_responses.response_id = n.response_id"
        )


def _before_versions(conn: duckdb.DuckDBPyConnection) -> None:
    _drop_token_key(conn)
    _add_listed(conn)
    with transaction(conn):  # a reader of a new lake sees all the tables or none
        create_objects(conn)
    _add_seq(conn)
    conn.execute("ALTER TABLE transcript_jobs ADD COLUMN IF NOT EXISTS run_seconds DOUBLE")
    conn.execute("ALTER TABLE transcripts ADD COLUMN IF NOT EXISTS response_id VARCHAR")


def _add_media_files(conn: duckdb.DuckDBPyConnection) -> None:
    """The media archive's table (issue 36)."""
    with transaction(conn):
        create_objects(conn)


def _add_text_unfinished(conn: duckdb.DuckDBPyConnection) -> None:
    """The chunked text analysis's bookkeeping (issue 37)."""
    with transaction(conn):
        create_objects(conn)


# Written a chunk at a time by the text analysis: a key's index is written out whole at every
# checkpoint, so each chunk's commit cost more as the corpus grew.
_UNKEYED_TEXT_TABLES = ("transcript_sentences", "search_documents", "text_state", "text_unfinished")


def _search_with_tantivy(conn: duckdb.DuckDBPyConnection) -> None:
    """The search index moved out of the warehouse into tantivy (issue 37): the fts index's
    tables and macro go, and `index_unfinished` comes, empty: the next text analysis finds no
    index beside the warehouse and builds it from `search_documents`. The text tables a chunk
    writes lose their keys (DuckDB cannot drop one: each is made again with its rows), and no
    video keeps text rows without a digest."""
    with transaction(conn):
        if not is_lake(conn):
            conn.execute("DROP MACRO TABLE IF EXISTS search_videos")
            conn.execute("DROP SCHEMA IF EXISTS fts_main_search_documents CASCADE")
        _without_keys(conn, _UNKEYED_TEXT_TABLES)
        # Rows of a video with no digest (migration 1 emptied `text_state` of warehouses whose
        # token table it dropped) go: the text analysis takes a video without a digest to have
        # no rows, and segments it again anyway.
        for table in ("transcript_sentences", "transcript_tokens", "search_documents"):
            conn.execute(
                f"DELETE FROM {table} WHERE video_key NOT IN (SELECT video_key FROM text_state)"
            )


def _unkeyed_bulk_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """`video_keywords` and `links` lose their keys, and `links` its index on `video_key` (issue
    37). Each is written in bulk in one transaction (a full keyword refresh: ten rows per video;
    a link file: every line), and DuckDB holds the transaction's index entries in memory until
    the commit: 100,000 transcripts could not commit within 128 MB of DuckDB memory, nor a file
    of 20,000,000 lines within 256 MiB. Their writers replace a video's keywords, and a batch's
    lines, whole. The views that read `links` are made again with it."""
    with transaction(conn):
        if not is_lake(conn):
            conn.execute("DROP INDEX IF EXISTS links_video")
            for view in reversed(VIEWS):
                conn.execute(f"DROP VIEW IF EXISTS {view.name}")
        _without_keys(conn, ("video_keywords", "links"))


def _without_keys(conn: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> None:
    """Make `tables` again as now declared, with their rows: DuckDB cannot drop a key. A lake's
    tables never had keys."""
    if is_lake(conn):
        create_objects(conn)
        return
    for table in tables:
        conn.execute(f"ALTER TABLE {table} RENAME TO _keyed_{table}")
    create_objects(conn)
    for table in tables:
        conn.execute(f"INSERT INTO {table} FROM _keyed_{table}")
        conn.execute(f"DROP TABLE _keyed_{table}")


MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    _before_versions,
    _add_media_files,
    _add_text_unfinished,
    _search_with_tantivy,
    _unkeyed_bulk_tables,
)
LATEST = len(MIGRATIONS)


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The last migration applied; 0 for a new warehouse or one made before versions."""
    if not _columns(conn, VERSION_TABLE):
        return 0
    row = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def create_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Apply the migrations this warehouse has not had; every writer calls it on open."""
    current = schema_version(conn)
    if current >= LATEST:
        return
    for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        migration(conn)
        # After the migration, never before: a new lake's readers must see every table made in
        # migration 1's one transaction, or none, not a lake holding only this one.
        conn.execute(SCHEMA_BY_NAME[VERSION_TABLE].ddl(keyed=False))
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?, now()::TIMESTAMP)", [number])
