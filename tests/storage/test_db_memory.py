"""DuckDB's memory for the warehouse file is capped (PIPELINE_DUCKDB_MEMORY), so a process does
not grow with the warehouse it caches: work past the cap spills to disk, and what cannot spill
fails instead of taking the machine's memory."""

from pathlib import Path

import duckdb
import pytest

from pipeline.storage.db import WarehouseOutOfMemoryError, connect
from pipeline.storage.location import DEFAULT_DUCKDB_MEMORY, Warehouse

# 1,500,000 strings of 64 characters: about 100 MB, more than the 64 MiB cap below.
_ROWS = "SELECT md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS s FROM range(1500000) t(i)"


def _limit(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_every_connection_to_the_file_has_the_cap(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert DEFAULT_DUCKDB_MEMORY == "256MiB"
    with connect(db) as conn:
        assert _limit(conn) == "256.0 MiB"
    with connect(Warehouse(db, duckdb_memory="1GiB"), read_only=True) as conn:
        assert _limit(conn) == "1.0 GiB"


def test_work_past_the_cap_spills_and_what_cannot_spill_is_refused(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb", duckdb_memory="64MiB")
    with connect(warehouse) as conn:
        conn.execute(f"CREATE TABLE t AS {_ROWS}")
        # A sort of more than the cap spills to the temp directory and completes.
        first = conn.execute("SELECT s FROM t ORDER BY s LIMIT 1 OFFSET 1000000").fetchone()
    assert first is not None and len(first[0]) == 64
    # One value larger than the cap cannot spill: DuckDB refuses it, and says what to raise.
    with pytest.raises(WarehouseOutOfMemoryError) as refused, connect(warehouse) as conn:
        conn.execute("SELECT list(s) FROM t").fetchone()
    assert refused.value.args[0].startswith("Out of Memory Error")
    assert "DuckDB may use 64MiB for warehouse" in str(refused.value)
    assert str(refused.value).endswith("raise PIPELINE_DUCKDB_MEMORY")
    assert isinstance(refused.value, duckdb.Error)
