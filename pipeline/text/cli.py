"""`python -m pipeline search "以太币 盈利" [--limit N] [--db PATH]`."""

from __future__ import annotations

import argparse
import sys

from pipeline.settings import Settings
from pipeline.storage.db import warehouse_exists
from pipeline.storage.snapshot import read_snapshot
from pipeline.terminal import printable
from pipeline.text.index import SearchIndexError, index_exists, refresh_lake_index
from pipeline.text.search import search


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


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
    # The index is made by the first text analysis that segments a transcript; on a lake, by
    # this host from the lake's documents, when it has none or they changed.
    refresh_lake_index(warehouse, changed=False)
    index = warehouse.search_index
    if not index_exists(index):
        print(
            f"no search index for {warehouse.describe()} yet (in {index}): no transcript has "
            "been analysed; run the pipeline until some transcripts are collected",
            file=sys.stderr,
        )
        return 1
    try:
        with read_snapshot(warehouse) as reader:
            hits = search(
                index, reader.conn, args.query, args.limit, dictionary_dir=settings.dictionary_dir
            )
    except SearchIndexError as error:
        print(
            f"{error}: `python -m pipeline check` says more, `python -m pipeline rebuild` "
            "makes it again",
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
