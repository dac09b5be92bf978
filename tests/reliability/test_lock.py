"""Someone opens the warehouse while a run is polling: the run waits, says so, loses nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.support import PipelineProcess, hold_database, pipeline_env

LINKS = [f"https://www.douyin.com/video/77{n:017d}" for n in range(10)]


def test_run_waits_for_a_held_file_and_completes(tmp_path: Path, dagster_home: Path) -> None:
    links = tmp_path / "lock.txt"
    links.write_text("\n".join(LINKS) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=3.0)) as emulator:
        env = pipeline_env(dagster_home, emulator.url, PIPELINE_POLL_BUDGET="120")
        run = PipelineProcess(links, db, env)
        run.wait_for("jobs pending")
        holder = hold_database(db, 10)
        run.wait_for(f"is locked by process {holder.pid}; waiting")
        assert run.process.poll() is None
        holder.wait()
        assert run.finish() == 0, run.output
        stats = emulator.stats()

    assert "fetched results are safe in the spool" in run.output
    with duckdb.connect(str(db), read_only=True) as conn:
        jobs = dict(conn.execute("SELECT execute_id, status FROM transcript_jobs").fetchall())
        collected = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
        final_polls = conn.execute(
            "SELECT count(*) FROM raw_responses WHERE kind = 'poll' "
            "AND json_extract_string(body, '$.data[0].execute_status') = 'Success'"
        ).fetchone()[0]
    assert set(jobs) == set(stats["jobs"]) and set(jobs.values()) == {"Success"}
    assert collected == final_polls == len(LINKS)
    assert stats["submits"] == len(LINKS)
