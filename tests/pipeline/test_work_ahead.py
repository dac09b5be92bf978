"""The Coze step normalizing and analysing ahead of its last jobs, in a real materialization."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.text.search import load_fts
from pipeline.warehouse import queries
from pipeline.warehouse.db import connect
from pipeline.warehouse.tables import stale_keys
from tests.pipeline.helpers import Project

LINKS = [f"https://www.douyin.com/video/73{n:017d}" for n in range(9)]


def step_logs(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    return [
        record.user_message
        for record in instance.all_logs(run_id)
        if record.step_key == step and record.dagster_event is None
    ]


def test_work_ahead_leaves_the_same_tables_as_the_steps_alone(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """Jobs of 8 s: a first batch teaches the run time, so the second batch's wait for its jobs
    is known and the Coze step works ahead in it. The tables end complete: every video and
    transcript normalized and current, every transcript segmented and searchable."""
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=8.0)) as emulator:
        project = Project(tmp_path, emulator)
        assert project.run(instance, project.write_batch("learn.txt", LINKS[:3])).success
        batch = project.write_batch("batch.txt", LINKS[3:])
        result = project.run(instance, batch)
    assert result.success
    calls = step_logs(instance, result.run_id, "coze_calls")
    assert any(line.startswith("ahead of the last jobs") for line in calls), calls
    with connect(project.warehouse) as conn:
        assert stale_keys(conn, queries.batch_video_keys(conn, [batch])) == []
        load_fts(conn)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM transcripts), "
            "(SELECT count(*) FROM text_state)"
        ).fetchone()
        (token,) = conn.execute("SELECT token FROM transcript_tokens LIMIT 1").fetchone() or ("",)
        (hits,) = conn.execute("SELECT count(*) FROM search_videos(?)", [token]).fetchone() or (0,)
    assert counts == (9, 9, 9)
    assert hits >= 1, f"{token!r} is in a transcript but not found"
