"""A warehouse made before `raw_responses.seq` still opens: the column is added once, numbered by
received_at, the only order such a warehouse kept."""

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.warehouse.check import check_warehouse
from pipeline.warehouse.db import connect
from pipeline.warehouse.schema import TABLES, Table


def _old_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        for table in TABLES:
            if table.name == "raw_responses":
                table = replace(table, columns=tuple(c for c in table.columns if c.name != "seq"))
            conn.execute(Table.ddl(table))
        conn.executemany(
            "INSERT INTO raw_responses (response_id, kind, video_key, workflow_id, request_input, "
            "outcome, received_at) VALUES (?, 'metadata', 'douyin:1', 'w', 'u', 'ok', ?)",
            [
                ("late", datetime(2026, 1, 1, 12)),
                ("early", datetime(2026, 1, 1, 10)),
                ("middle", datetime(2026, 1, 1, 11)),
            ],
        )


def test_an_old_warehouse_gets_seq_once_in_received_at_order(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _old_warehouse(db)
    assert any("raw_responses.seq is missing" in p for p in check_warehouse(db).problems)

    with connect(db) as conn:
        conn.execute(
            "UPDATE raw_responses SET received_at = '2020-01-01' WHERE response_id = 'late'"
        )
    with connect(db) as conn:
        numbered = conn.execute(
            "SELECT response_id, seq FROM raw_responses ORDER BY seq"
        ).fetchall()
    assert numbered == [("early", 1), ("middle", 2), ("late", 3)], "renumbered on a later open"
    assert check_warehouse(db).problems == []
