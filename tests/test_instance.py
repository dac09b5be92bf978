"""The kept-connected instance against Dagster's stock one, on the same real SQLite files."""

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import event
from sqlalchemy.pool import Pool

from pipeline.instance import KEPT_CONNECTIONS, ConnectedSqliteEventLogStorage, connected_instance
from tests.support import new_dagster_home

LINES = 30


@dg.op
def chatty(context: dg.OpExecutionContext) -> None:
    for n in range(LINES):
        context.log.info(f"line {n}")
    # The Coze step stores its progress lines from a worker thread.
    reporter = threading.Thread(target=context.log.info, args=("from a thread",))
    reporter.start()
    reporter.join()


@dg.job
def chatty_job() -> None:
    chatty()


@pytest.fixture
def connections() -> Iterator[list[str]]:
    """The file of every SQLite connection SQLAlchemy opens meanwhile, in any pool."""
    opened: list[str] = []

    def count(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        opened.append(dbapi_connection.execute("PRAGMA database_list").fetchone()[2])

    event.listen(Pool, "connect", count)
    yield opened
    event.remove(Pool, "connect", count)


def event_log_files(opened: list[str]) -> list[str]:
    return [Path(file).name for file in opened if Path(file).parent.name == "runs"]


def logged(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [r.user_message for r in instance.all_logs(run_id) if r.dagster_event is None]


def test_a_run_opens_each_database_once_and_dagster_reads_it_as_its_own(
    tmp_path: Path, connections: list[str]
) -> None:
    home = new_dagster_home(tmp_path)
    with connected_instance(home) as instance:
        assert type(instance.event_log_storage) is ConnectedSqliteEventLogStorage
        opened_before = len(connections)
        result = chatty_job.execute_in_process(instance=instance)
        kept_connected = event_log_files(connections[opened_before:])
    assert result.success
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.event_log_storage) is SqliteEventLogStorage
        lines = logged(stock, result.run_id)
        assert lines[:LINES] == [f"line {n}" for n in range(LINES)]
        assert "from a thread" in lines
        assert stock.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        opened_before = len(connections)
        assert chatty_job.execute_in_process(instance=stock).success
        stock_opened = event_log_files(connections[opened_before:])
    assert len(stock_opened) > LINES
    # The run's own file and the index, each opened once to create it and once to keep.
    # Creating the run's file takes Dagster four connections; then one is kept per file.
    assert Counter(kept_connected) == {f"{result.run_id}.db": 5, "index.db": 2}


def test_runs_beyond_the_kept_connections_are_all_stored(tmp_path: Path) -> None:
    home = new_dagster_home(tmp_path)
    with connected_instance(home) as instance:
        run_ids = [
            chatty_job.execute_in_process(instance=instance).run_id
            for _ in range(KEPT_CONNECTIONS + 2)
        ]
        assert len(instance.event_log_storage._engines) <= KEPT_CONNECTIONS
    with dg.DagsterInstance.from_config(str(home)) as stock:
        for run_id in run_ids:
            assert logged(stock, run_id)[:2] == ["line 0", "line 1"]


def test_a_wiped_instance_stores_new_runs(tmp_path: Path) -> None:
    home = new_dagster_home(tmp_path)
    with connected_instance(home) as instance:
        wiped = chatty_job.execute_in_process(instance=instance).run_id
        instance.wipe()
        kept = chatty_job.execute_in_process(instance=instance).run_id
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert logged(stock, wiped) == []
        assert logged(stock, kept)[:1] == ["line 0"]


def test_a_home_that_chooses_its_storage_is_opened_as_configured(tmp_path: Path) -> None:
    home = new_dagster_home(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    with (home / "dagster.yaml").open("a") as config:
        config.write(f"\nstorage:\n  sqlite:\n    base_dir: {elsewhere}\n")
    with connected_instance(home) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        run_id = chatty_job.execute_in_process(instance=instance).run_id
    assert (elsewhere / "history" / "runs" / f"{run_id}.db").is_file()
