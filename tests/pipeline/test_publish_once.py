"""The readers' snapshot is copied once per run, by its `read_snapshot` step, or where it fails."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from pipeline.definitions import build_definitions
from pipeline.defs import text
from pipeline.defs.assets import coze_calls
from pipeline.defs.automation import JOB_NAME
from pipeline.defs.partitions import batches
from pipeline.defs.snapshot import read_snapshot
from pipeline.settings import Settings
from pipeline.storage.snapshot import snapshot_path
from tests.pipeline.helpers import Project

LINKS = [f"https://www.douyin.com/video/72{n:017d}" for n in range(3)]
PUBLISHED = "published the read-only snapshot"


def publishes(instance: dg.DagsterInstance, run_id: str) -> list[str | None]:
    """The steps that published, in order."""
    return [
        record.step_key
        for record in instance.all_logs(run_id)
        if record.dagster_event is None and record.user_message.startswith(PUBLISHED)
    ]


def snapshot_count(project: Project, table: str) -> int:
    with duckdb.connect(str(snapshot_path(project.db)), read_only=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return row[0] if row else 0


def test_a_whole_run_publishes_once_at_its_end(
    project: Project, instance: dg.DagsterInstance
) -> None:
    result = project.run(instance, project.write_batch("batch.txt", LINKS))
    assert result.success
    assert publishes(instance, result.run_id) == ["read_snapshot"]
    assert snapshot_count(project, "transcripts") == 3
    assert snapshot_count(project, "transcript_sentences") > 0


def test_a_selection_publishes_only_when_it_holds_read_snapshot(
    project: Project, instance: dg.DagsterInstance
) -> None:
    """Materializing the Coze step alone (as from the UI) leaves the readers' copy as it was;
    with `read_snapshot` selected too, that step publishes, after the Coze step."""
    batch = project.write_batch("batch.txt", LINKS)
    instance.add_dynamic_partitions(batches.name, [batch])
    job = build_definitions(Settings.from_env(project.env())).resolve_job_def(JOB_NAME)
    calls = [dg.AssetKey("links"), *coze_calls.keys]
    result = job.execute_in_process(instance=instance, partition_key=batch, asset_selection=calls)
    assert result.success
    assert publishes(instance, result.run_id) == []
    result = job.execute_in_process(
        instance=instance,
        partition_key=batch,
        asset_selection=[*calls, *read_snapshot.keys],
    )
    assert result.success
    assert publishes(instance, result.run_id) == ["read_snapshot"]
    assert snapshot_count(project, "raw_responses") == 9


def test_a_failing_last_step_publishes_what_the_steps_before_it_stored(
    project: Project, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text analysis fails (a fault put in on purpose): the answers and normalized tables the
    steps before it left unpublished reach the readers all the same."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("segmenter broke")

    monkeypatch.setattr(text, "update_text_tables", broken)
    batch = project.write_batch("batch.txt", LINKS)
    instance.add_dynamic_partitions(batches.name, [batch])
    job = build_definitions(Settings.from_env(project.env())).resolve_job_def(JOB_NAME)
    result = job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)
    assert not result.success
    assert publishes(instance, result.run_id) == ["text_analysis"]
    assert snapshot_count(project, "transcripts") == 3
