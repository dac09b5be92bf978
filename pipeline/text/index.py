"""The BM25 search index (DuckDB's `fts`) over `search_documents`, and its `search_videos` macro.

On the DuckDB file the index lives in the warehouse. A DuckLake cannot hold it (the fts index's
tables have columns of no type a lake stores), so on a lake the index lives in a local DuckDB
file derived from the lake: written beside, then swapped in whole, so `search` never sees half
an index and never waits for a writer.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from pipeline.schema import FTS_SCHEMA
from pipeline.storage.db import CONFIG, connect
from pipeline.storage.extensions import load_fts, sql_literal
from pipeline.storage.location import Warehouse

# Tokens are already cut and space-joined, so the index only splits on spaces.
INDEX_SQL = (
    "PRAGMA create_fts_index('search_documents', 'video_key', 'title', 'body', stemmer='none', "
    "stopwords='none', ignore='\\s+', strip_accents=0, lower=1, overwrite=1)"
)
SEARCH_MACRO = f"""
CREATE OR REPLACE MACRO search_videos(q) AS TABLE
  SELECT d.video_key, d.title, d.author, {FTS_SCHEMA}.match_bm25(d.video_key, q) AS score
  FROM search_documents d
  WHERE score IS NOT NULL
  ORDER BY score DESC
"""


def index_in_place(conn: duckdb.DuckDBPyConnection) -> None:
    load_fts(conn)
    conn.execute(INDEX_SQL)
    conn.execute(SEARCH_MACRO)


# What the index was built from: another host may have changed the lake's documents since.
_FINGERPRINT = (
    "SELECT count(*) || ':' || coalesce(bit_xor(hash(video_key, title, author, body)), 0) "
    "FROM {table}"
)


def publish_index_file(lake_conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Copy what `search` reads (the documents and the transcripts its snippets come from) out
    of the lake into a new file, index it there, then rename it over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    alias = f"index_{uuid.uuid4().hex}"  # the lake's database is shared by this process's threads
    try:
        lake_conn.execute(f"ATTACH {sql_literal(str(partial))} AS {alias}")
        try:
            lake_conn.execute(f"CREATE TABLE {alias}.search_documents AS FROM search_documents")
            lake_conn.execute(
                f"CREATE TABLE {alias}.transcripts AS SELECT video_key, content FROM transcripts"
            )
            fingerprint = _FINGERPRINT.format(table=f"{alias}.search_documents")
            lake_conn.execute(
                f"CREATE TABLE {alias}.index_source AS SELECT ({fingerprint}) AS fingerprint"
            )
        finally:
            lake_conn.execute(f"DETACH {alias}")
        with duckdb.connect(str(partial)) as conn:
            index_in_place(conn)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def refresh_index_file(warehouse: Warehouse, changed: bool) -> bool:
    """On a lake, bring this host's index file up to date: when this host changed the
    documents, has no index yet, or finds that another host changed them (the documents'
    fingerprint moved). Reads the lake without its write lock. On the file the index is
    already in it."""
    if warehouse.lake is None:
        return False
    with connect(warehouse, read_only=True) as conn:
        if not changed and _built_from(warehouse.search_index) == _fingerprint(conn):
            return False
        publish_index_file(conn, warehouse.search_index)
    return True


def _fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    row = conn.execute(_FINGERPRINT.format(table="search_documents")).fetchone()
    return str(row[0]) if row else ""


def _built_from(index: Path) -> str | None:
    """None when there is no index file, or one too old or too damaged to say."""
    if not index.exists():
        return None
    try:
        with duckdb.connect(str(index), read_only=True, config=CONFIG) as conn:
            row = conn.execute("SELECT fingerprint FROM index_source").fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None
