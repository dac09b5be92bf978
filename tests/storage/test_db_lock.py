"""DuckDB admits one writing process: a second one must wait, say so, and then succeed."""

import logging

import pytest

from pipeline.storage.db import WarehouseLockedError, connect
from tests.support import hold_database


def test_waits_for_another_process_and_says_so(tmp_path, caplog):
    db = tmp_path / "w.duckdb"
    holder = hold_database(db, 1.5)
    with (
        caplog.at_level(logging.WARNING, logger="pipeline.storage"),
        connect(db, wait_seconds=30) as conn,
    ):
        assert conn.execute("SELECT count(*) FROM links").fetchone() == (0,)
    holder.wait()
    assert any("locked by process" in r.getMessage() for r in caplog.records)


def test_gives_up_with_a_clear_error_when_not_waiting(tmp_path):
    db = tmp_path / "w.duckdb"
    holder = hold_database(db, 5)
    try:
        with (
            pytest.raises(WarehouseLockedError, match="locked by process"),
            connect(db, wait_seconds=0),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
