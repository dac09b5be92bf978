"""Unlucky and hostile conditions around the warehouse, through `python -m pipeline` on real
files: a host west of UTC, a clock that steps back, a full disk under the spool, and a damaged
or foreign warehouse file. Nothing crashes a batch, nothing is lost or paid twice."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from pipeline.answers.raw import RawRow
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.durations import JobDurations
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.reads.work import VideoWork, WorkItem
from pipeline.runs import EXIT_OK
from pipeline.settings import PROJECT_ROOT
from pipeline.steps.calls import call_coze
from pipeline.storage.location import Warehouse
from pipeline.storage.recorder import AnswersNotStoredError, Recorder, spool_dir_for
from tests.support import PipelineProcess, hold_database, new_dagster_home, pipeline_env

VIDEOS = [f"https://www.douyin.com/video/78{n:017d}" for n in range(8)]


def fast() -> EmulatorConfig:
    return EmulatorConfig(profile="fast", job_seconds=1.0)


def write_batch(root: Path) -> Path:
    links = root / "batch.txt"
    links.write_text("\n".join(VIDEOS) + "\n", encoding="utf-8")
    return links


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def pipeline(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`python -m pipeline ARGS` to its end: (exit status, stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


@dataclass(frozen=True)
class Run:
    status: int
    output: str
    db: Path


@pytest.fixture(scope="module")
def west_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run on a host five hours west of UTC; the other tests copy its warehouse."""
    root = tmp_path_factory.mktemp("west")
    links, db = write_batch(root), root / "warehouse.duckdb"
    with EmulatorProcess(fast()) as emulator:
        env = pipeline_env(
            new_dagster_home(root), emulator.url, PIPELINE_POLL_BUDGET="60", TZ="America/New_York"
        )
        process = PipelineProcess(links, db, env)
        status = process.finish()
    return Run(status, process.output, db)


def copy_of(run: Run, tmp_path: Path) -> Path:
    """The run's warehouse and its search index."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(run.db, db)
    shutil.copytree(Warehouse(run.db).search_index, Warehouse(db).search_index)
    return db


def test_a_host_west_of_utc_polls_at_once_and_collects_every_transcript(west_run: Run) -> None:
    assert west_run.status == EXIT_OK, west_run.output
    assert query(west_run.db, "SELECT count(*) FROM transcripts") == [(len(VIDEOS),)]
    assert query(west_run.db, "SELECT DISTINCT transcript_status FROM link_status") == [("ok",)]


def test_answers_replay_in_recording_order_when_the_clock_steps_back(
    west_run: Run, tmp_path: Path
) -> None:
    """Every poll made to look older than its submit (a clock stepped back between them)."""
    db = copy_of(west_run, tmp_path)
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "UPDATE raw_responses SET received_at = received_at - INTERVAL 1 DAY WHERE kind = 'poll'"
        )
        rows = [
            replace(RawRow(*r), seq=None)
            for r in conn.execute(
                f"SELECT {', '.join(RawRow.__slots__)} FROM raw_responses ORDER BY seq"
            ).fetchall()
        ]
    status, output = pipeline("rebuild", "--db", db)
    assert status == 0, output
    assert query(db, "SELECT count(*) FROM transcripts") == [(len(VIDEOS),)]
    assert query(db, "SELECT DISTINCT status FROM transcript_jobs") == [("Success",)]

    fresh = tmp_path / "fresh.duckdb"
    recorder = Recorder(
        fresh, max_attempts=3, lock_wait_seconds=5, logger=logging.getLogger("test")
    )
    for row in rows:
        recorder.record(row)
    assert recorder.flush(wait=True)
    assert query(fresh, "SELECT DISTINCT status FROM transcript_jobs") == [("Success",)]


@contextmanager
def full_disk(path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs mounted at `path`, filled to the last byte: every write there fails with
    ENOSPC. Yields the filler file; deleting it frees the space."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)]
    mounted = subprocess.run(mount, capture_output=True, text=True)
    # No skip: the project's machines and CI run as root, so a refusal here is a real gap.
    assert mounted.returncode == 0, f"cannot mount a tmpfs for the full-disk test: {mounted.stderr}"
    try:
        filler = path / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_full_disk_under_the_spool_loses_no_answer_and_pays_nothing_twice(
    tmp_path: Path,
) -> None:
    links, db = write_batch(tmp_path), tmp_path / "warehouse.duckdb"
    home = new_dagster_home(tmp_path)
    with EmulatorProcess(fast()) as emulator, full_disk(spool_dir_for(db)) as filler:
        env = pipeline_env(home, emulator.url, PIPELINE_POLL_BUDGET="60")
        first = PipelineProcess(links, db, env)
        assert first.finish() == EXIT_OK, first.output
        assert "No space left on device" in first.output
        accepted = len(emulator.stats()["jobs"])
        assert query(db, "SELECT count(*) FROM transcript_jobs") == [(accepted,)]

        filler.unlink()
        second = PipelineProcess(links, db, env)
        assert second.finish() == EXIT_OK, second.output
        stats = emulator.stats()
    assert stats["metadata_calls"] == len(VIDEOS), "a metadata run was paid twice"
    assert set(stats["submits_per_input"].values()) == {1}, "a job was paid twice"
    assert query(db, "SELECT count(*) FROM transcripts") == [(len(VIDEOS),)]


def test_when_the_warehouse_refuses_too_the_step_stops_and_names_every_paid_job(
    tmp_path: Path,
) -> None:
    """The spool's disk is full and another process holds the warehouse: the submits in flight
    land, no other starts, and the error names each accepted job, the only record left."""
    db = tmp_path / "warehouse.duckdb"
    items = [WorkItem(f"douyin:78{n:017d}", url, url, url) for n, url in enumerate(VIDEOS)]
    recorder = Recorder(db, max_attempts=3, lock_wait_seconds=1, logger=logging.getLogger("test"))

    async def submit(url: str) -> None:
        settings = CozeSettings.from_env({}, base_url=url, api_token="pat_test")
        async with CozeClient(settings) as client:
            work = [VideoWork(item, needs_metadata=False, may_submit=True) for item in items]
            await call_coze(
                client,
                recorder,
                work,
                [],
                JobDurations(),
                poll_budget_seconds=60,
                log=recorder.log,
            )

    holder = hold_database(db, 60)
    try:
        with EmulatorProcess(fast()) as emulator, full_disk(spool_dir_for(db)):
            with pytest.raises(AnswersNotStoredError) as refused:
                asyncio.run(submit(emulator.url))
            jobs = emulator.stats()["jobs"]
    finally:
        holder.kill()
        holder.wait()
    assert 1 <= len(jobs) <= 2, "a submit started after the first answer was refused"
    message = str(refused.value)
    assert "\n" not in message
    for execute_id, job in jobs.items():
        assert f"execute_id {execute_id} video_key " in message
        assert any(item.video_key in message for item in items if item.url == job["input"])


def garbage_in(db: Path, table: str) -> None:
    """64 KB of random bytes in the middle of a block the table's data lives in."""
    with duckdb.connect(str(db), read_only=True) as conn:
        block = conn.execute(
            f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0"
        ).fetchone()[0]
        block_size = conn.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    header = 3 * 4096  # DuckDB's file header and two database headers
    with db.open("r+b") as handle:
        handle.seek(header + block * block_size + block_size // 2 - 32 * 1024)
        handle.write(os.urandom(64 * 1024))


def garbage_in_index(db: Path) -> str:
    """Random bytes over the middle of the index's document store (its stored video keys),
    the file's length kept; the file's name."""
    store = max(Warehouse(db).search_index.glob("*.store"), key=lambda path: path.stat().st_size)
    size = store.stat().st_size
    with store.open("r+b") as handle:
        handle.seek(size // 4)
        handle.write(os.urandom(size // 4))
    return store.name


def one_line(output: str) -> str:
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_a_damaged_search_index_is_found_by_check_and_mended_by_rebuild(
    west_run: Run, tmp_path: Path
) -> None:
    db = copy_of(west_run, tmp_path)
    damaged_file = garbage_in_index(db)

    status, output = pipeline("search", "穿搭", "--db", db)
    assert status != 0 and "is damaged" in one_line(output) and "check" in output

    status, output = pipeline("check", "--db", db)
    assert status != 0, output
    damaged = [line for line in output.splitlines() if "is damaged" in line]
    assert len(damaged) == 1 and f"{damaged_file} fail their checksums" in damaged[0], output
    assert "pipeline rebuild" in damaged[0]

    status, output = pipeline("rebuild", "--db", db)
    assert status == 0, output
    assert f"{len(VIDEOS)} segmented and indexed" in output
    status, output = pipeline("check", "--db", db)
    assert status == 0, output
    status, output = pipeline("search", "穿搭", "--db", db)
    assert status == 0 and output.startswith("1. "), output


def test_damage_in_the_raw_layer_says_restore_from_a_backup(west_run: Run, tmp_path: Path) -> None:
    db = copy_of(west_run, tmp_path)
    garbage_in(db, "raw_responses")
    status, output = pipeline("check", "--db", db)
    assert status != 0
    damaged = [line for line in output.splitlines() if line.startswith("damaged:")]
    assert len(damaged) == 1 and "raw_responses" in damaged[0], output
    assert "restore the warehouse from a backup" in damaged[0]
    status, output = pipeline("rebuild", "--db", db)
    assert status != 0 and "is damaged" in one_line(output)


def test_a_dropped_search_index_comes_back_with_rebuild(west_run: Run, tmp_path: Path) -> None:
    db = copy_of(west_run, tmp_path)
    shutil.rmtree(Warehouse(db).search_index)
    status, output = pipeline("check", "--db", db)
    assert status != 0 and f"search index {Warehouse(db).search_index} is missing" in output
    status, output = pipeline("rebuild", "--db", db)
    assert status == 0, output
    status, output = pipeline("search", "穿搭", "--db", db)
    assert status == 0 and output.startswith("1. "), output


def _truncated(db: Path) -> None:
    """A copy that stopped after DuckDB's 12 KB file header: the catalog it points to is gone.
    (Cut at a third, whether the catalog survives depends on where the last checkpoint put it;
    a file that opens with damaged data blocks is `check` and `rebuild`'s case, tested above.)"""
    db.write_bytes(db.read_bytes()[: 3 * 4096])


def _overwritten(db: Path) -> None:
    db.write_text("warehouse notes\n" * 1000, encoding="utf-8")


def _sqlite(db: Path) -> None:
    db.unlink()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE videos (video_key TEXT)")


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (_truncated, "is damaged and cannot be opened"),
        (_overwritten, "is not a DuckDB database"),
        (_sqlite, "is a SQLite database"),
    ],
)
def test_a_file_that_is_no_warehouse_gets_one_line_from_every_command(
    west_run: Run, tmp_path: Path, spoil, says: str
) -> None:
    db = copy_of(west_run, tmp_path)
    spoil(db)
    links = write_batch(tmp_path)
    env = pipeline_env(new_dagster_home(tmp_path), "http://127.0.0.1:9")  # never reached
    for command in (
        ["run", "--links", links],
        ["plan", "--links", links],
        ["rebuild"],
        ["search", "穿搭"],
    ):
        status, output = pipeline(*command, "--db", db, env=env)
        assert status != 0 and says in one_line(output), (command, output)
    status, output = pipeline("check", "--db", db, env=env)
    assert status != 0 and says in output and "Traceback" not in output, output
