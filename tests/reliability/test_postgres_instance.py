"""The shipped Postgres instance (deploy/postgres/dagster.yaml) shared as hosts share it, on a real
PostgreSQL server: two `python -m pipeline run` at once, each with its own DAGSTER_HOME, keep to the
one-slot `coze_api` pool between them and write one DuckLake whose catalog is in the same
server, while a reader queries throughout; and a run is judged dead only by the host
that started it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from pipeline.defs.assets import API_POOL, coze_calls, links
from pipeline.defs.automation import JOB_NAME
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import HOST_TAG, PID_TAG, pool_holders, release_dead_runs
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from pipeline.storage.location import warehouse_from_env
from tests.postgres import PostgresDatabase, PostgresServer
from tests.support import PipelineProcess, pipeline_env

DEPLOYED = PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml"
COZE_STEP = coze_calls.node_def.name
LINKS_STEP = links.node_def.name


def postgres_home(home: Path) -> Path:
    """A host's DAGSTER_HOME: nothing but the shipped file."""
    home.mkdir(parents=True)
    shutil.copy(DEPLOYED, home / "dagster.yaml")
    return home


def example_links() -> list[str]:
    """The usable, distinct links of the example batch, as people pasted them."""
    lines = (PROJECT_ROOT / "data" / "links" / "example.txt").read_text(encoding="utf-8")
    usable = [line for line in lines.splitlines() if "http" in line and not line.startswith("#")]
    return list(dict.fromkeys(usable))


def step_times(instance: dg.DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    """When the step started and when it succeeded, from the instance's event log."""
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    times = {
        record.dagster_event_type: record.timestamp
        for record in instance.all_logs(run_id, of_type=kinds)
        if record.step_key == step
    }
    return times[dg.DagsterEventType.STEP_START], times[dg.DagsterEventType.STEP_SUCCESS]


def query(database: PostgresDatabase, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
    conn = psycopg2.connect(database.url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


class ReaderLoop:
    """`python -m pipeline sql` again and again while runs write, as a person's script would."""

    QUERY = ("sql", "SELECT count(*) AS n FROM transcripts", "--format", "json")

    def __init__(self, db: Path, env: dict[str, str]) -> None:
        self.reads: list[subprocess.CompletedProcess[str]] = []
        self._command = [sys.executable, "-m", "pipeline", *self.QUERY, "--db", str(db)]
        self._env = env
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop)
        self._thread.start()

    def read(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command, cwd=PROJECT_ROOT, env=self._env, capture_output=True, text=True
        )

    def _loop(self) -> None:
        while not self._done.is_set():
            self.reads.append(self.read())

    def stop(self) -> list[int]:
        """Every count read, the last one after the runs; fails on any failed or locked read."""
        self._done.set()
        self._thread.join()
        self.reads.append(self.read())
        failed = [r for r in self.reads if r.returncode or "lock" in r.stderr.lower()]
        assert not failed, failed[0]
        return [json.loads(r.stdout)[0]["n"] for r in self.reads]


def test_runs_on_two_hosts_share_the_instance_the_api_pool_and_the_lake(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The team set-up: Dagster and the lake's catalog in PostgreSQL, the lake's files in a
    shared folder. (The file warehouse with a shared instance differs only in where the second
    writer waits: DuckDB's lock instead of the lake's.)"""
    database = postgres_server.create_database("dagster")
    monkeypatch.setenv("DAGSTER_PG_URL", database.sqlalchemy_url)
    links_dir = tmp_path / "links"
    links_dir.mkdir()
    lines = example_links()
    batches = {"a.txt": lines[:4], "b.txt": lines[4:8]}
    for batch, batch_lines in batches.items():
        (links_dir / batch).write_text("\n".join(batch_lines) + "\n", encoding="utf-8")
    homes = {batch: postgres_home(tmp_path / f"host-{Path(batch).stem}") for batch in batches}
    db = tmp_path / "w.duckdb"  # each host's spool and search index
    lake = postgres_server.create_database("lake")
    settings = {
        "PIPELINE_LINKS_DIR": str(links_dir),
        "PIPELINE_WAREHOUSE": f"ducklake:postgres:{lake.conninfo}",
        "PIPELINE_LAKE_DATA": str(tmp_path / "lake"),
    }
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=4.0)) as emulator:
        envs = {
            batch: pipeline_env(
                homes[batch], emulator.url, DAGSTER_PG_URL=database.sqlalchemy_url, **settings
            )
            for batch in batches
        }
        runs = {batch: PipelineProcess(links_dir / batch, db, envs[batch]) for batch in batches}
        reader = ReaderLoop(db, envs["a.txt"])
        try:
            for run in runs.values():
                assert run.finish(timeout=120) == 0, run.output
        finally:
            for run in runs.values():
                if run.process.poll() is None:
                    run.kill()
            counts = reader.stop()
    assert len(counts) > 3, "the runs were too short to read during them"
    assert counts == sorted(counts) and counts[-1] == 8, counts

    with dg.DagsterInstance.from_config(str(homes["a.txt"])) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name=JOB_NAME))
        assert {r.dagster_run.status for r in records} == {dg.DagsterRunStatus.SUCCESS}
        run_ids = {r.dagster_run.tags["dagster/partition"]: r.dagster_run.run_id for r in records}
        assert run_ids.keys() == batches.keys()
        api_steps = {batch: step_times(instance, run_ids[batch], COZE_STEP) for batch in batches}
        first, second = sorted(batches, key=api_steps.__getitem__)
        _, second_ready = step_times(instance, run_ids[second], LINKS_STEP)
    (_, first_done), (second_start, _) = api_steps[first], api_steps[second]
    assert second_ready < first_done <= second_start, "ready, it waited for the slot, then ran"
    assert f"waiting for the {API_POOL} pool: held by run {run_ids[first]}" in runs[second].output

    assert query(database, "SELECT count(*) FROM runs") == [(2,)], "the runs are in Postgres"
    assert query(
        database,
        'SELECT "limit", using_default_limit FROM concurrency_limits WHERE concurrency_key = %s',
        (API_POOL,),
    ) == [(1, True)], "and so is the pool"
    assert not [path.name for home in homes.values() for path in home.rglob("*.db")]
    warehouse = warehouse_from_env(settings, db, tmp_path)
    assert warehouse.lake is not None and not db.exists(), "nothing went to a local file"
    with connect(warehouse, read_only=True) as conn:
        transcripts = conn.execute(
            "SELECT l.batch, count(DISTINCT t.video_key) FROM links l "
            "JOIN transcripts t USING (video_key) GROUP BY 1"
        ).fetchall()
    assert dict(transcripts) == {"a.txt": 4, "b.txt": 4}


def test_only_the_host_that_started_a_run_judges_it_dead(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_server.create_database("dagster").sqlalchemy_url)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid is dead here; on another host the same number may be a live run
    here, there = socket.gethostname(), "another-host"
    with dg.DagsterInstance.from_config(str(postgres_home(tmp_path / "home"))) as instance:
        instance.event_log_storage.set_concurrency_slots(API_POOL, 2)
        run_ids = {}
        for host in (here, there):
            run = instance.add_run(
                dg.DagsterRun(
                    job_name=JOB_NAME,
                    run_id=str(uuid.uuid4()),
                    status=dg.DagsterRunStatus.STARTED,
                    tags={PID_TAG: str(ended.pid), HOST_TAG: host},
                )
            )
            claim = instance.event_log_storage.claim_concurrency_slot(
                API_POOL, run.run_id, COZE_STEP
            )
            assert claim.is_claimed
            run_ids[host] = run.run_id
        holders = pool_holders(instance, set(run_ids.values()))
        assert f"run {run_ids[here]} (pid {ended.pid})" in holders
        assert f"run {run_ids[there]} (pid {ended.pid} on {there})" in holders

        assert release_dead_runs(instance) == 1
        local, remote = (instance.get_run_by_id(run_ids[host]) for host in (here, there))
        assert local is not None and local.status == dg.DagsterRunStatus.FAILURE
        assert remote is not None and remote.status == dg.DagsterRunStatus.STARTED
        info = instance.event_log_storage.get_concurrency_info(API_POOL)
        assert info.active_run_ids == {run_ids[there]}, "the other host's slot is kept"
