"""Benchmark 2: what a run costs over a large warehouse.

A warehouse holding N resolved and transcribed videos (cloned from real emulator answers, so
every stored body decodes); then a batch of 1,000 links, half of them already known; then the
same batch again. Reports wall time and API calls of both runs, for N large and N small, so the
cost can be seen to follow the new links rather than the warehouse; on the DuckDB file and on a
DuckLake (SQLite catalog, local data folder), side by side.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.harness import bench_env, timed_run
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse, warehouse_from_env
from pipeline.text.index import build_index, refresh_lake_index


def url(n: int) -> str:
    return f"https://www.douyin.com/video/76{n:017d}"


SEED_ID = "7000000000000000001"
# Tables that hold one video's history; `authors` is per author and stays as it is.
HISTORY_TABLES = (
    "links",
    "raw_responses",
    "item_state",
    "transcript_jobs",
    "videos",
    "video_hashtags",
    "video_mentions",
    "transcripts",
    "text_state",
    "transcript_sentences",
    "transcript_tokens",
    "video_keywords",
    "search_documents",
)
UNIQUE_PER_COPY = {
    "response_id": "response_id || '-' || i",
    "execute_id": "execute_id || lpad(i::VARCHAR, 7, '0')",
    "batch": "'history.txt'",
    "line_no": "i + 1",
}


def clone_history(warehouse: Warehouse, videos: int) -> None:
    """Turn the one video a real run stored into `videos` resolved, transcribed, analysed ones.

    Every text column has the seed's id replaced by the copy's, so keys, URLs, inputs and stored
    bodies stay consistent; ids that must be unique get the copy's number appended.
    """
    new_id = "'76' || lpad(i::VARCHAR, 17, '0')"
    with connect(warehouse) as conn:
        conn.execute("BEGIN TRANSACTION")
        for table in HISTORY_TABLES:
            columns = conn.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = current_database() AND table_name = ? "
                "ORDER BY column_index",
                [table],
            ).fetchall()
            select = ", ".join(
                UNIQUE_PER_COPY.get(name)
                or (f"replace({name}, '{SEED_ID}', {new_id})" if kind == "VARCHAR" else name)
                for name, kind in columns
            )
            conn.execute(f"INSERT INTO {table} SELECT {select} FROM {table}, range({videos}) r(i)")
            conn.execute(f"DELETE FROM {table} WHERE video_key = 'douyin:{SEED_ID}'")
        # Every copy uses the seed's tokens, as if a full keyword refresh had just run.
        conn.execute(f"UPDATE token_documents SET docs = {videos}")
        conn.execute(f"UPDATE keyword_refresh SET documents = {videos}, changed_since = 0")
        conn.execute("COMMIT")
        if warehouse.lake is None:
            build_index(conn, warehouse.search_index)
            conn.execute("CHECKPOINT")
    refresh_lake_index(warehouse, changed=True)


def api_calls(emulator: EmulatorProcess) -> Counter[str]:
    stats = emulator.stats()
    return Counter({kind: stats[kind] for kind in ("metadata_calls", "submits", "polls")})


def lake_settings(kind: str, workdir: Path) -> dict[str, str]:
    """`PIPELINE_WAREHOUSE` for `kind`: the file, or a DuckLake with a SQLite catalog."""
    if kind == "file":
        return {"PIPELINE_WAREHOUSE": "file"}
    return {
        "PIPELINE_WAREHOUSE": f"ducklake:sqlite:{workdir / 'lake' / 'catalog.sqlite'}",
        "PIPELINE_LAKE_DATA": str(workdir / "lake" / "files"),
    }


def measure(warehouse_videos: int, new_links: int, workdir: Path, kind: str = "file") -> dict:
    db = workdir / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.2)) as emulator:
        env = bench_env(workdir, emulator.url, COZE_RPS="50", **lake_settings(kind, workdir))
        seed = workdir / "seed.txt"
        seed.write_text(f"https://www.douyin.com/video/{SEED_ID}\n")
        timed_run(seed, db, env)
        clone_history(warehouse_from_env(env, db, workdir), warehouse_videos)

        half = new_links // 2
        batch = workdir / "new.txt"
        batch.write_text(
            "\n".join(
                [url(n) for n in range(half)] + [url(10**9 + n) for n in range(new_links - half)]
            )
            + "\n"
        )
        before = api_calls(emulator)
        first = timed_run(batch, db, env)
        first_calls = api_calls(emulator) - before
        before = api_calls(emulator)
        again = timed_run(batch, db, env)
        again_calls = api_calls(emulator) - before
    return {
        "warehouse": kind,
        "warehouse_videos": warehouse_videos,
        "batch_links": new_links,
        "known_links": half,
        "first_run_seconds": round(first, 1),
        "first_run_api_calls": first_calls.total(),
        "first_run_calls_by_kind": dict(first_calls),
        "rerun_seconds": round(again, 1),
        "rerun_api_calls": again_calls.total(),
    }


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--videos", "3", "--links", "4", "--warehouse", "file")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--videos",
        type=int,
        nargs="+",
        default=[1_000, 100_000],
        help="warehouse sizes, in videos, one measure each",
    )
    parser.add_argument("--links", type=int, default=1_000)
    parser.add_argument(
        "--warehouse",
        choices=("file", "ducklake", "both"),
        default="both",
        help="the DuckDB file, a DuckLake with a SQLite catalog, or one after the other",
    )
    args = parser.parse_args(argv)
    kinds = ("file", "ducklake") if args.warehouse == "both" else (args.warehouse,)
    runs = []
    for kind in kinds:
        for videos in args.videos:
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(measure(videos, args.links, Path(tmp), kind))
    result = {"benchmark": "incremental", "runs": runs}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
