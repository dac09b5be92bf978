"""`python -m pipeline search "以太币 盈利" [--limit N] [--db PATH]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipeline.settings import Settings
from pipeline.storage.db import connect, warehouse_exists
from pipeline.storage.extensions import load_fts
from pipeline.storage.location import Warehouse
from pipeline.storage.snapshot import read_snapshot
from pipeline.terminal import printable
from pipeline.text.index import refresh_index_file
from pipeline.text.search import search


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


@contextmanager
def index_reader(warehouse: Warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    """Where the index is, read without waiting for a run: the file's snapshot, or this host's
    index file derived from the lake (made now if the host has none yet)."""
    if warehouse.lake is None:
        with read_snapshot(warehouse) as reader:
            yield reader.conn
        return
    refresh_index_file(warehouse, changed=False)
    with connect(warehouse.search_index, read_only=True, wait_seconds=0) as conn:
        load_fts(conn)
        yield conn


def search_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline search", description="Full-text search (BM25)."
    )
    parser.add_argument("query", help="words to find; Chinese is segmented like the indexed text")
    parser.add_argument("--limit", type=_positive, default=10, help="hits to show (default 10)")
    parser.add_argument("--db", help="DuckDB file (default: $PIPELINE_DB or data/warehouse.duckdb)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(db=args.db)
    warehouse = settings.warehouse
    if not warehouse_exists(warehouse):
        print(f"no warehouse at {warehouse.describe()}; run the pipeline first", file=sys.stderr)
        return 1
    with index_reader(warehouse) as conn:
        # The index and its macro are made by the first text analysis that segments a transcript.
        indexed = conn.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'search_videos'"
        ).fetchone()
        hits = (
            search(conn, args.query, args.limit, dictionary_dir=settings.dictionary_dir)
            if indexed and indexed[0]
            else None
        )
    if hits is None:
        print(
            f"no search index in {warehouse.describe()} yet: no transcript has been analysed; "
            "run the pipeline until some transcripts are collected",
            file=sys.stderr,
        )
        return 1
    if not hits:
        print(f"no video matches {printable(args.query)!r}")
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(
            f"{rank}. [{hit.score:.3f}] {printable(hit.title)} — {printable(hit.author)} "
            f"({printable(hit.video_key, 200)})"
        )
        print(f"   {printable(hit.snippet, 200)}")
    return 0
