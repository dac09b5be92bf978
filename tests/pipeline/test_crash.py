"""SIGKILL between submit and poll: the next run collects every result and pays no second submit."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.support import PipelineProcess, pipeline_env

LINKS = [f"https://www.douyin.com/video/74{n:017d}" for n in range(12)]


def test_kill_between_submit_and_poll_then_resume(tmp_path: Path, dagster_home: Path) -> None:
    links = tmp_path / "batch.txt"
    links.write_text("\n".join(LINKS) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=8.0)) as emulator:
        env = pipeline_env(dagster_home, emulator.url, PIPELINE_POLL_BUDGET="120")
        first = PipelineProcess(links, db, env)
        first.wait_for(f"transcripts: {len(LINKS)} jobs pending")
        first.kill()
        stats = emulator.stats()
        assert stats["submits"] == len(LINKS)
        accepted = set(stats["jobs"])
        assert all(job["status"] == "Running" for job in stats["jobs"].values()), "killed too late"

        second = PipelineProcess(links, db, env)
        assert second.finish() == 0, second.output
        assert "released 1 run" in second.output

        stats = emulator.stats()
        assert stats["submits"] == len(LINKS), "a job was submitted twice"
        assert max(stats["submits_per_input"].values()) == 1

    with duckdb.connect(str(db), read_only=True) as conn:
        jobs = dict(conn.execute("SELECT execute_id, status FROM transcript_jobs").fetchall())
        assert set(jobs) == accepted
        assert set(jobs.values()) == {"Success"}
        collected = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
        assert collected == len(LINKS)
        pending = conn.execute(
            "SELECT count(*) FROM link_status WHERE transcript_status <> 'ok'"
        ).fetchone()[0]
        assert pending == 0
