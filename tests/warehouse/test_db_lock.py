"""DuckDB admits one writing process: a second one must wait, say so, and then succeed."""

import logging
import subprocess
import sys

import pytest

from pipeline.warehouse.db import WarehouseLockedError, connect

HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def _hold(path, seconds):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_waits_for_another_process_and_says_so(tmp_path, caplog):
    db = tmp_path / "w.duckdb"
    holder = _hold(db, 1.5)
    with (
        caplog.at_level(logging.WARNING, logger="pipeline.warehouse"),
        connect(db, wait_seconds=30) as conn,
    ):
        assert conn.execute("SELECT count(*) FROM links").fetchone() == (0,)
    holder.wait()
    assert any("locked by process" in r.getMessage() for r in caplog.records)


def test_gives_up_with_a_clear_error_when_not_waiting(tmp_path):
    db = tmp_path / "w.duckdb"
    holder = _hold(db, 5)
    try:
        with (
            pytest.raises(WarehouseLockedError, match="locked by process"),
            connect(db, wait_seconds=0),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
