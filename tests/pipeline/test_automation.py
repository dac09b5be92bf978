"""The sensor turns link files into batches; the schedule picks up unfinished work."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from pipeline.coze.errors import AccountError
from pipeline.defs.automation import link_files_sensor, unfinished_work_schedule
from pipeline.defs.partitions import batch_key, batches
from pipeline.defs.resources import LinkFilesResource, WarehouseResource
from pipeline.settings import Settings
from pipeline.steps.halts import record_halt, resume_after
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse
from tests.support import hold_database, sqlite_lake_env


def _evaluate(
    instance: dg.DagsterInstance,
    folder: Path,
    cursor: str | None,
    db: Path | None = None,
    warehouse: WarehouseResource | None = None,
) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "link_files": LinkFilesResource(directory=str(folder)),
            "warehouse": warehouse or WarehouseResource(path=str(db or folder / "none.duckdb")),
        },
    ) as context:
        return link_files_sensor(context)


def test_sensor_adds_new_files_as_partitions_and_runs_them_once(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "monday.txt").write_text("https://v.douyin.com/a1/\n")
    (folder / "tuesday.txt").write_text("https://v.douyin.com/b2/\n")
    (folder / "notes.md").write_text("not a link file\n")
    with dg.instance_for_test() as instance:
        first = _evaluate(instance, folder, None)
        added = first.dynamic_partitions_requests[0]
        assert added.partitions_def_name == batches.name
        assert sorted(added.partition_keys) == ["monday.txt", "tuesday.txt"]
        assert sorted(r.partition_key for r in first.run_requests) == ["monday.txt", "tuesday.txt"]
        instance.add_dynamic_partitions(batches.name, list(added.partition_keys))

        again = _evaluate(instance, folder, first.cursor)
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        changed = folder / "monday.txt"
        changed.write_text("https://v.douyin.com/a1/\nhttps://v.douyin.com/c3/\n")
        stat = changed.stat()
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        third = _evaluate(instance, folder, again.cursor)
        assert [r.partition_key for r in third.run_requests] == ["monday.txt"]
        assert third.dynamic_partitions_requests == []
        assert json.loads(third.cursor).keys() == {"monday.txt", "tuesday.txt"}


HOUR = datetime(2026, 11, 25, 4, tzinfo=UTC)


def _seed_warehouse(db: Path | Warehouse) -> None:
    with connect(db) as conn:
        conn.execute(
            "INSERT INTO links VALUES "
            "('done.txt', 1, 'x', 'u', 'douyin', '1', 'u', 'douyin:1', NULL, now(), true),"
            "('open.txt', 1, 'y', 'v', 'douyin', '2', 'v', 'douyin:2', NULL, now(), true)"
        )
        conn.execute(
            "INSERT INTO item_state VALUES "
            "('douyin:1', 'metadata', 'ok', 0, NULL, NULL, now()),"
            "('douyin:1', 'transcript', 'ok', 1, NULL, NULL, now()),"
            "('douyin:2', 'metadata', 'ok', 0, NULL, NULL, now()),"
            "('douyin:2', 'transcript', 'running', 1, NULL, NULL, now())"
        )


def test_schedule_requests_only_batches_with_unfinished_work(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _seed_warehouse(db)
    warehouse = WarehouseResource(path=str(db))
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, resources={"warehouse": warehouse}, scheduled_execution_time=HOUR
        ) as context,
    ):
        requests = unfinished_work_schedule(context)
    assert [r.partition_key for r in requests] == ["open.txt"]
    assert requests[0].run_key == f"open.txt:{HOUR.isoformat()}"


def test_schedule_skips_while_a_run_holds_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _seed_warehouse(db)
    warehouse = WarehouseResource(path=str(db))
    holder = hold_database(db, 30)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, resources={"warehouse": warehouse}, scheduled_execution_time=HOUR
        ) as context,
    ):
        skipped = unfinished_work_schedule(context)
    holder.kill()
    holder.wait()
    assert isinstance(skipped, dg.SkipReason)
    assert "being written" in (skipped.skip_message or "")


def test_a_coze_halt_stops_sensor_and_schedule_until_its_wait_is_over(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _seed_warehouse(db)
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "monday.txt").write_text("https://v.douyin.com/a1/\n")
    with connect(db) as conn:
        record_halt(conn, AccountError("Coze refused the account: code 4011", code=4011))
    warehouse = WarehouseResource(path=str(db))
    with dg.instance_for_test() as instance:
        sensed = _evaluate(instance, folder, None, db)
        with dg.build_schedule_context(
            instance=instance, resources={"warehouse": warehouse}, scheduled_execution_time=HOUR
        ) as context:
            scheduled = unfinished_work_schedule(context)
        assert isinstance(sensed, dg.SkipReason) and isinstance(scheduled, dg.SkipReason)
        assert "code 4011" in (sensed.skip_message or "")
        assert "Coze halted the last run" in (scheduled.skip_message or "")

        with connect(db) as conn:
            conn.execute("UPDATE service_halts SET resume_after = resume_after - INTERVAL 2 HOUR")
        resumed = _evaluate(instance, folder, None, db)
        assert [r.partition_key for r in resumed.run_requests] == ["monday.txt"]


def test_schedule_and_sensor_see_a_lake_and_its_halt(tmp_path: Path) -> None:
    """On a DuckLake the local path only anchors the spool and may not exist: the lake is there
    all the same, its unfinished batch is scheduled and its halt holds both back."""
    settings = Settings.from_env(
        {**sqlite_lake_env(tmp_path / "lake"), "PIPELINE_DB": str(tmp_path / "w.duckdb")}
    )
    lake = settings.warehouse
    _seed_warehouse(lake)
    assert not lake.path.exists()
    warehouse = WarehouseResource.of(settings)
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "monday.txt").write_text("https://v.douyin.com/a1/\n")

    def schedule(instance: dg.DagsterInstance) -> list[dg.RunRequest] | dg.SkipReason:
        with dg.build_schedule_context(
            instance=instance, resources={"warehouse": warehouse}, scheduled_execution_time=HOUR
        ) as context:
            return unfinished_work_schedule(context)

    with dg.instance_for_test() as instance:
        requests = schedule(instance)
        assert isinstance(requests, list)
        assert [r.partition_key for r in requests] == ["open.txt"]
        with connect(lake) as conn:
            record_halt(conn, AccountError("Coze refused the account: code 4011", code=4011))
        sensed = _evaluate(instance, folder, None, warehouse=warehouse)
        scheduled = schedule(instance)
    assert isinstance(sensed, dg.SkipReason) and "code 4011" in (sensed.skip_message or "")
    assert isinstance(scheduled, dg.SkipReason)
    assert "Coze halted the last run" in (scheduled.skip_message or "")


def test_halts_in_a_row_wait_longer_and_a_daily_quota_waits_for_the_coze_day() -> None:
    now = datetime(2026, 11, 25, 10, 30)
    assert resume_after(4011, 1, now) == now + timedelta(hours=1)
    assert resume_after(4011, 3, now) == now + timedelta(hours=4)
    assert resume_after(4100, 20, now) == now + timedelta(days=1)
    # 10:30 UTC is 18:30 in Beijing; the quota resets at Beijing midnight, 16:00 UTC.
    assert resume_after(4008, 1, now) == datetime(2026, 11, 25, 16, 0)
    assert resume_after(4008, 1, datetime(2026, 11, 25, 17, 0)) == datetime(2026, 11, 26, 16, 0)


def test_sensor_removes_the_batches_of_deleted_files(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "kept.txt").write_text("https://v.douyin.com/a1/\n")
    (folder / "deleted.txt").write_text("https://v.douyin.com/c3/\n")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("https://v.douyin.com/b2/\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(
            batches.name, ["kept.txt", "deleted.txt", batch_key(outside, folder)]
        )
        result = _evaluate(instance, folder, None)
        assert result.dynamic_partitions_requests == []  # every file is still there
        outside.unlink()
        (folder / "deleted.txt").unlink()
        result = _evaluate(instance, folder, result.cursor)
    removed = [
        r
        for r in result.dynamic_partitions_requests
        if isinstance(r, dg.DeleteDynamicPartitionsRequest)
    ]
    assert len(removed) == 1 and sorted(removed[0].partition_keys) == sorted(
        ["deleted.txt", batch_key(outside, folder)]
    )
    assert result.run_requests == []
