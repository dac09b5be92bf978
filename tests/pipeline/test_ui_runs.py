"""What the UI shows of runs it launches: Materialize and backfills run Dagster's implicit asset
job out of process, not `pipeline_job` through `python -m pipeline run`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.assets import coze_calls
from pipeline.defs.partitions import batches
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT
from pipeline.steps import runner
from tests.pipeline.helpers import Project
from tests.pipeline.test_end_to_end import BAD_LINES, GOOD_LINES
from tests.support import new_dagster_home, pipeline_env

# Two batches of different sizes: a backfill of both runs as one run.
FIRST = [*GOOD_LINES[:2], BAD_LINES[0]]
SECOND = [*GOOD_LINES[2:], *BAD_LINES[1:]]
# What the UI's Materialize and backfills launch: Dagster's implicit job over every asset.
IMPLICIT_ASSET_JOB = "__ASSET_JOB"


@dataclass(frozen=True)
class Backfill:
    project: Project
    instance: dg.DagsterInstance
    run_id: str
    batches: tuple[str, str]


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfill]:
    """Both batches materialized in one run the way a UI backfill runs them: Dagster's implicit
    asset job, loaded from the code location by name in a process of its own (as the run
    launcher's worker does), with its executor and the partition-range tags, and no tags of
    ours."""
    root = tmp_path_factory.mktemp("backfill")
    home = new_dagster_home(root)
    with (
        EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.3)) as emulator,
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        project = Project(root, emulator)
        first = project.write_batch("first.txt", FIRST)
        second = project.write_batch("second.txt", SECOND)
        instance.add_dynamic_partitions(batches.name, [first, second])
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": second,
        }
        dagster = str(Path(sys.executable).parent / "dagster")
        location = ["-m", "pipeline.definitions", "-a", "defs", "-j", IMPLICIT_ASSET_JOB]
        done = subprocess.run(
            [dagster, "job", "execute", *location, "--tags", json.dumps(tags)],
            cwd=PROJECT_ROOT,
            env=pipeline_env(home, emulator.url, **project.env()),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        run = instance.get_runs(limit=1)[0]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        yield Backfill(project, instance, run.run_id, (first, second))


def test_a_run_launched_from_the_ui_carries_the_endpoint_tags(backfill: Backfill) -> None:
    run = backfill.instance.get_run_by_id(backfill.run_id)
    assert run is not None and run.job_name == IMPLICIT_ASSET_JOB
    assert run.tags["coze/endpoint"] == backfill.project.emulator.url.removeprefix("http://")
    assert run.tags["coze/service"] == "emulator or stand-in"


def test_a_runs_steps_share_its_process_and_never_warn_of_each_others_lock(
    backfill: Backfill,
) -> None:
    """Every step writes the warehouse, one writer at a time: steps in processes of their own
    waited for each other and warned that the warehouse 'is locked by process N', N being the
    same run's other step."""
    logs = backfill.instance.all_logs(backfill.run_id)
    workers = [r for r in logs if r.dagster_event_type == dg.DagsterEventType.STEP_WORKER_STARTING]
    assert workers == []
    assert not [r.user_message for r in logs if "is locked by" in r.user_message]


def latest_metadata(instance: dg.DagsterInstance, asset: str, batch: str) -> dict[str, object]:
    """What the UI shows on the batch's partition of the asset: its last materialization."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[batch]), limit=1
    ).records
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {name: value.value for name, value in materialization.metadata.items()}


def test_each_batch_of_a_backfill_shows_its_own_counts(backfill: Backfill) -> None:
    instance, project = backfill.instance, backfill.project
    for batch, lines in zip(backfill.batches, (FIRST, SECOND), strict=True):
        good = [line for line in lines if line in GOOD_LINES]
        links = latest_metadata(instance, "links", batch)
        assert (links["lines"], links["bad_lines"]) == (len(lines), len(lines) - len(good))
        assert links["distinct_videos"] == len(good)
        assert sum(links["errors_by_reason"].values()) == len(lines) - len(good)
        for table in ("videos", "transcripts", "link_status", "transcript_jobs", "item_state"):
            rows = latest_metadata(instance, table, batch)["dagster/row_count"]
            expected = project.scalar(
                f"SELECT count(*) FROM {table} WHERE video_key IN "
                "(SELECT video_key FROM links WHERE batch = ?)",
                [batch],
            )
            assert rows == expected, (table, batch)
        assert latest_metadata(instance, "link_status", batch)["transcripts_ok"] == len(good)
    videos = [latest_metadata(instance, "videos", b)["dagster/row_count"] for b in backfill.batches]
    assert videos == [2, 3]


ELAPSED = re.compile(r", \d+s elapsed$")


def test_a_batch_waiting_on_its_jobs_does_not_repeat_its_progress(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs held running at Coze for the whole poll budget: nothing moves, so the progress
    lines are said when they change and at the end, not at every tick (there were four lines
    every 6 s). The ticks are made fast here; the quiet minute's heartbeat never comes."""
    monkeypatch.setattr(runner, "FLUSH_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(runner, "PROGRESS_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(runner, "QUIET_PROGRESS_SECONDS", 3600.0)
    with EmulatorProcess(EmulatorConfig(profile="fast", hold_jobs=True)) as emulator:
        project = Project(tmp_path, emulator)
        batch = project.write_batch("held.txt", GOOD_LINES)
        result = project.run(instance, batch, PIPELINE_POLL_BUDGET="3")
    assert result.success
    step = coze_calls.node_def.name
    lines = [
        ELAPSED.sub("", r.user_message)
        for r in instance.all_logs(result.run_id)
        if r.step_key == step and r.user_message.startswith("transcript polls:")
    ]
    held = f"transcript polls: 0/{len(GOOD_LINES)} done, 0 failed"
    assert held in lines, lines
    assert max(Counter(lines).values()) <= 2, lines  # when it became so, and the final report
