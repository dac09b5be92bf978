"""Benchmark 2: what a run costs over a large warehouse.

A warehouse holding N resolved and transcribed videos (cloned from real emulator answers, so
every stored body decodes); then a batch of 1,000 links, half of them already known; then the
same batch again. Reports wall time and API calls of both runs, for N large and N small, so the
cost can be seen to follow the new links rather than the warehouse.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.coze.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT


def url(n: int) -> str:
    return f"https://www.douyin.com/video/76{n:017d}"


def pipeline_run(links: Path, db: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--links", str(links), "--db", str(db)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def clone_history(db: Path, videos: int) -> None:
    """Turn the one video the seed run stored into `videos` resolved, transcribed ones."""
    with duckdb.connect(str(db)) as conn:
        conn.execute("BEGIN TRANSACTION")
        key = conn.execute("SELECT video_key FROM videos").fetchone()[0]
        known = f"replace(video_key, '{key}', 'douyin:76' || lpad(i::VARCHAR, 17, '0'))"
        conn.execute(
            f"INSERT INTO links SELECT 'history.txt', i + 1, '{url(0)[:-17]}' || lpad(i::VARCHAR, 17, '0'), "
            f"'{url(0)[:-17]}' || lpad(i::VARCHAR, 17, '0'), platform, '76' || lpad(i::VARCHAR, 17, '0'), "
            f"'{url(0)[:-17]}' || lpad(i::VARCHAR, 17, '0'), {known}, NULL, loaded_at "
            f"FROM links, range({videos}) t(i) WHERE batch = 'seed.txt'"
        )
        conn.execute(
            f"INSERT INTO raw_responses SELECT response_id || '-' || i, kind, {known}, workflow_id, "
            "request_input, CASE WHEN execute_id IS NULL THEN NULL ELSE execute_id || i END, "
            "http_status, outcome, error_code, error_message, logid, received_at, body "
            f"FROM raw_responses, range({videos}) t(i)"
        )
        conn.execute(
            f"INSERT INTO item_state SELECT {known}, * EXCLUDE (video_key) FROM item_state, range({videos}) t(i)"
        )
        conn.execute(
            f"INSERT INTO transcript_jobs SELECT execute_id || i, {known}, * EXCLUDE (execute_id, video_key) "
            f"FROM transcript_jobs, range({videos}) t(i)"
        )
        conn.execute(
            f"INSERT INTO videos SELECT {known}, * EXCLUDE (video_key) FROM videos, range({videos}) t(i)"
        )
        conn.execute(
            f"INSERT INTO transcripts SELECT {known}, execute_id || i, * EXCLUDE (video_key, execute_id) "
            f"FROM transcripts, range({videos}) t(i)"
        )
        for table in (
            "links",
            "raw_responses",
            "item_state",
            "transcript_jobs",
            "videos",
            "transcripts",
        ):
            conn.execute(f"DELETE FROM {table} WHERE video_key = ?", [key])
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")


def measure(warehouse_videos: int, new_links: int, workdir: Path) -> dict:
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((PROJECT_ROOT / ".dagster" / "dagster.yaml").read_text())
    db = workdir / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(job_seconds=0.2)) as emulator:
        env = {**os.environ, "DAGSTER_HOME": str(home), "COZE_BASE_URL": emulator.url}
        env.pop("COZE_API_TOKEN", None)
        seed = workdir / "seed.txt"
        seed.write_text("https://www.douyin.com/video/7000000000000000001\n")
        pipeline_run(seed, db, env)
        clone_history(db, warehouse_videos)

        half = new_links // 2
        batch = workdir / "new.txt"
        batch.write_text(
            "\n".join(
                [url(n) for n in range(half)] + [url(10**9 + n) for n in range(new_links - half)]
            )
            + "\n"
        )
        before = emulator.stats()["requests"]
        first = pipeline_run(batch, db, env)
        first_calls = emulator.stats()["requests"] - before
        before = emulator.stats()["requests"]
        again = pipeline_run(batch, db, env)
        again_calls = emulator.stats()["requests"] - before
    return {
        "warehouse_videos": warehouse_videos,
        "batch_links": new_links,
        "known_links": half,
        "first_run_seconds": round(first, 1),
        "first_run_api_calls": first_calls,
        "rerun_seconds": round(again, 1),
        "rerun_api_calls": again_calls,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--small-videos", type=int, default=1_000)
    parser.add_argument("--links", type=int, default=1_000)
    args = parser.parse_args(argv)
    runs = []
    for videos in (args.small_videos, args.videos):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(measure(videos, args.links, Path(tmp)))
    result = {"benchmark": "incremental", "runs": runs}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
