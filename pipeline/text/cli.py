"""`python -m pipeline search "以太币 盈利" [--limit N] [--db PATH]`."""

from __future__ import annotations

import argparse
import os
import sys

from pipeline.settings import PipelineSettings
from pipeline.text.warehouse import search
from pipeline.warehouse.db import connect


def search_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline search", description="Full-text search (BM25)."
    )
    parser.add_argument("query", help="words to find; Chinese is segmented like the indexed text")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--db", help="DuckDB file (default: $PIPELINE_DB or data/warehouse.duckdb)")
    args = parser.parse_args(argv)
    env = {**os.environ, **({"PIPELINE_DB": args.db} if args.db else {})}
    db = PipelineSettings.from_env(env).db_path
    if not db.exists():
        print(f"no warehouse at {db}; run the pipeline first", file=sys.stderr)
        return 1
    with connect(db, read_only=True) as conn:
        hits = search(conn, args.query, args.limit)
    if not hits:
        print(f"no video matches {args.query!r}")
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. [{hit.score:.3f}] {hit.title} — {hit.author} ({hit.video_key})")
        print(f"   {hit.snippet}")
    return 0
