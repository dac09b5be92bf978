"""People read while a run writes: through the snapshot, readers never fail or see a lock, and
never hold the run up (issue #14)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import WarehouseLockedError, connect
from pipeline.storage.snapshot import publish, snapshot_path
from tests.support import PipelineProcess, hold_database, pipeline_env

# Enough videos, and jobs slow enough, for a run of several seconds at the default rate.
LINKS = [f"https://www.douyin.com/video/74{n:017d}" for n in range(20)]
EMULATOR = EmulatorConfig(profile="fast", job_seconds=2.0)


def _batch(tmp_path: Path) -> Path:
    links = tmp_path / "readers.txt"
    links.write_text("\n".join(LINKS) + "\n", encoding="utf-8")
    return links


def _videos(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM videos").fetchone()
    assert row is not None
    return row[0]


READ = ("sql", "SELECT count(*) AS n FROM videos", "--format", "json")


def _read(db: Path) -> subprocess.CompletedProcess[str]:
    """What a script polling the warehouse runs."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *READ, "--db", str(db)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_reader_in_a_loop_never_fails_and_sees_counts_grow(
    tmp_path: Path, dagster_home: Path
) -> None:
    """No snapshot at first: the reader publishes one when the warehouse is free, else reads
    the empty schema; after the run it reads what the run wrote."""
    db = tmp_path / "w.duckdb"
    reads: list[subprocess.CompletedProcess[str]] = []
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            reads.append(_read(db))

    with EmulatorProcess(EMULATOR) as emulator:
        run = PipelineProcess(_batch(tmp_path), db, pipeline_env(dagster_home, emulator.url))
        reader = threading.Thread(target=loop)
        reader.start()
        try:
            status = run.finish()
        finally:
            done.set()
            reader.join()
    assert status == 0, run.output
    reads.append(_read(db))

    assert len(reads) > 3, "the run was too short to read during it"
    failures = [r for r in reads if r.returncode != 0 or "lock" in r.stderr.lower()]
    assert not failures, failures[0]
    counts = [json.loads(r.stdout)[0]["n"] for r in reads]
    assert counts == sorted(counts), counts
    assert counts[-1] == _videos(db) == len(LINKS)


def test_a_notebook_holding_the_snapshot_does_not_hold_up_the_run(
    tmp_path: Path, dagster_home: Path
) -> None:
    db = tmp_path / "w.duckdb"
    with connect(db) as conn:  # an earlier run's warehouse and snapshot, with no videos yet
        assert publish(conn, db) is not None
    notebook = hold_database(snapshot_path(db), 600, read_only=True)
    try:
        with EmulatorProcess(EMULATOR) as emulator:
            run = PipelineProcess(_batch(tmp_path), db, pipeline_env(dagster_home, emulator.url))
            status = run.finish()
        assert notebook.poll() is None, "the notebook kept its connection through the run"
    finally:
        notebook.kill()
        notebook.wait()
    assert status == 0, run.output
    assert "is locked by" not in run.output
    assert "published the read-only snapshot" in run.output
    assert _videos(snapshot_path(db)) == _videos(db) == len(LINKS)


def test_a_notebook_on_the_live_file_would_hold_up_a_writer(tmp_path: Path) -> None:
    """The problem the snapshot solves, reproduced with the same notebook: so the test above
    would fail if the run wrote where the notebook reads."""
    db = tmp_path / "w.duckdb"
    with connect(db):
        pass
    notebook = hold_database(db, 600, read_only=True)
    try:
        with pytest.raises(WarehouseLockedError, match="is locked by"), connect(db, wait_seconds=1):
            pass
    finally:
        notebook.kill()
        notebook.wait()
