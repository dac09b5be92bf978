"""The BM25 search index (DuckDB's `fts`) over `search_documents`, and its `search_videos` macro.

On the DuckDB file the index lives in the warehouse. A DuckLake cannot hold it (the fts index's
tables have columns of no type a lake stores), so on a lake the index lives in a local DuckDB
file derived from the lake: written beside, then swapped in whole, so `search` never sees half
an index and never waits for a writer.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipeline.text.search import load_fts
from pipeline.warehouse.db import connect
from pipeline.warehouse.location import Warehouse
from pipeline.warehouse.schema import FTS_SCHEMA

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


def publish_index_file(lake_conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Copy what `search` reads (the documents and the transcripts its snippets come from) out
    of the lake into a new file, index it there, then rename it over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        lake_conn.execute(f"ATTACH '{partial}' AS search_index")
        try:
            lake_conn.execute(
                "CREATE TABLE search_index.search_documents AS SELECT * FROM search_documents"
            )
            lake_conn.execute(
                "CREATE TABLE search_index.transcripts AS SELECT video_key, content "
                "FROM transcripts"
            )
        finally:
            lake_conn.execute("DETACH search_index")
        with duckdb.connect(str(partial)) as conn:
            index_in_place(conn)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def refresh_index_file(warehouse: Warehouse, changed: bool) -> bool:
    """On a lake, bring this host's index file up to date when the documents changed or it has
    none yet; reads the lake without its write lock. On the file the index is already in it."""
    if warehouse.lake is None or not (changed or not warehouse.search_index.exists()):
        return False
    with connect(warehouse, read_only=True) as conn:
        publish_index_file(conn, warehouse.search_index)
    return True
