"""Migrations run once per warehouse, gated by `schema_version`, not on every writable open."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.schema.migrations import LATEST, schema_version
from pipeline.storage.db import connect


def views(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {r[0] for r in conn.execute("SELECT view_name FROM duckdb_views()").fetchall()}


def test_a_new_warehouse_records_every_migration(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
        rows = conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert rows == [(n,) for n in range(1, LATEST + 1)]


def test_a_current_warehouse_runs_no_migration_and_an_older_one_runs_what_it_lacks(
    tmp_path: Path,
) -> None:
    """Dropping a view that migration 1 makes: a writable open of a current warehouse leaves it
    gone (nothing ran); once the warehouse says it predates migration 1, the next open makes it
    again."""
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        conn.execute("DROP VIEW link_status")
    with connect(db):
        pass
    assert "link_status" not in views(db)
    with duckdb.connect(str(db)) as conn:
        conn.execute("DELETE FROM schema_version")
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
    assert "link_status" in views(db)


def test_a_warehouse_with_the_fts_index_loses_it_and_keeps_what_text_analysis_owes(
    tmp_path: Path,
) -> None:
    """A warehouse of migration 3: DuckDB's fts index and its macro in it, `text_unfinished`
    keyed and holding a video a killed run stored, `search_documents` keyed, with the document
    of a video that has no digest (left by migration 1). Migration 4 drops the index (without
    the fts extension, which is no longer installed), remakes those tables without their keys,
    with their rows, and drops the rows of the video with no digest."""
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        conn.execute("DELETE FROM schema_version WHERE version >= 4")
        conn.execute("DROP TABLE index_unfinished")
        conn.execute("DROP TABLE text_unfinished")
        conn.execute("CREATE TABLE text_unfinished (video_key VARCHAR PRIMARY KEY)")
        conn.execute("INSERT INTO text_unfinished VALUES ('douyin:1')")
        conn.execute("DROP TABLE search_documents")
        conn.execute(
            "CREATE TABLE search_documents (video_key VARCHAR PRIMARY KEY, title VARCHAR, "
            "author VARCHAR, body VARCHAR NOT NULL)"
        )
        conn.execute(
            "INSERT INTO search_documents VALUES ('douyin:1', 't', 'a', '航海王'), "
            "('douyin:2', 't', 'a', '草帽')"
        )
        conn.execute("INSERT INTO text_state VALUES ('douyin:1', 'digest')")
        conn.execute("CREATE SCHEMA fts_main_search_documents")
        conn.execute("CREATE TABLE fts_main_search_documents.docs (docid BIGINT, name VARCHAR)")
        conn.execute("CREATE MACRO search_videos(q) AS TABLE SELECT 1 AS score")
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
        schemas = {
            r[0] for r in conn.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
        }
        macros = conn.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'search_videos'"
        ).fetchone()
        keys = keyed(
            conn,
            "text_unfinished",
            "index_unfinished",
            "search_documents",
            "transcript_sentences",
            "text_state",
        )
        owed = conn.execute("SELECT * FROM text_unfinished").fetchall()
        documents = conn.execute("SELECT video_key, body FROM search_documents").fetchall()
        waiting = conn.execute("SELECT count(*) FROM index_unfinished").fetchone()
    assert "fts_main_search_documents" not in schemas and macros == (0,)
    assert keys == [] and owed == [("douyin:1",)] and waiting == (0,)
    assert documents == [("douyin:1", "航海王")]


def test_the_tables_written_in_bulk_are_made_again_without_keys_and_with_their_rows(
    tmp_path: Path,
) -> None:
    """A warehouse of migration 4: `video_keywords` keyed on (video_key, keyword), `links` on
    (batch, line_no) with its index on video_key and `link_status` reading it."""
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        conn.execute("DELETE FROM schema_version WHERE version = 5")
        conn.execute("DROP TABLE video_keywords")
        conn.execute(
            "CREATE TABLE video_keywords (video_key VARCHAR NOT NULL, keyword VARCHAR NOT NULL, "
            "score DOUBLE NOT NULL, PRIMARY KEY (video_key, keyword))"
        )
        conn.execute("INSERT INTO video_keywords VALUES ('douyin:1', '航海', 0.5)")
        conn.execute("DROP VIEW link_status")
        conn.execute("ALTER TABLE links RENAME TO _links")
        conn.execute("CREATE TABLE links AS FROM _links")
        conn.execute("DROP TABLE _links")
        conn.execute("ALTER TABLE links ADD PRIMARY KEY (batch, line_no)")
        conn.execute("CREATE INDEX links_video ON links (video_key)")
        conn.execute(
            "INSERT INTO links (batch, line_no, raw_text, video_key, loaded_at, listed) "
            "VALUES ('b', 1, 'x', 'douyin:1', now()::TIMESTAMP, true)"
        )
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
        keys = keyed(conn, "video_keywords", "links")
        indexes = conn.execute("SELECT index_name FROM duckdb_indexes()").fetchall()
        keywords = conn.execute("SELECT * FROM video_keywords").fetchall()
        lines = conn.execute("SELECT video_key, listed FROM link_status").fetchall()
        kept = conn.execute("SELECT batch, line_no, video_key FROM links").fetchall()
    assert keys == [] and ("links_video",) not in indexes
    assert keywords == [("douyin:1", "航海", 0.5)]
    assert kept == [("b", 1, "douyin:1")] and lines == [("douyin:1", True)]


def keyed(conn: duckdb.DuckDBPyConnection, *tables: str) -> list[str]:
    """Those of `tables` that have a primary key."""
    rows = conn.execute(
        "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE list_contains(?, table_name) "
        "AND constraint_type = 'PRIMARY KEY' ORDER BY 1",
        [list(tables)],
    ).fetchall()
    return [row[0] for row in rows]
