"""A warehouse made before `raw_responses.seq` still opens: the column is added once, numbered by
received_at, the only order such a warehouse kept."""

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.reads.check import check_warehouse
from pipeline.schema import TABLES, Table
from pipeline.storage import lake
from pipeline.storage.db import connect
from pipeline.storage.location import warehouse_from_env
from tests.support import sqlite_lake_env


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


def test_an_old_keyed_token_table_is_dropped_once_and_its_text_segmented_again(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.duckdb"
    with connect(db) as conn:
        conn.execute("DROP TABLE transcript_tokens")
        conn.execute(
            "CREATE TABLE transcript_tokens (video_key VARCHAR, sentence_no INTEGER, "
            "token_no INTEGER, token VARCHAR NOT NULL, pos VARCHAR, "
            "PRIMARY KEY (video_key, sentence_no, token_no))"
        )
        conn.execute("INSERT INTO transcript_tokens VALUES ('douyin:1', 1, 1, '你好', 'l')")
        conn.execute("INSERT INTO text_state (video_key, content_hash) VALUES ('douyin:1', 'x')")
        conn.execute("DROP TABLE schema_version")  # made before versions
    with connect(db) as conn:
        keys = conn.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'transcript_tokens' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()[0]
        tokens = conn.execute("SELECT count(*) FROM transcript_tokens").fetchone()[0]
        digests = conn.execute("SELECT count(*) FROM text_state").fetchone()[0]
        conn.execute("INSERT INTO transcript_tokens VALUES ('douyin:1', 1, 1, '你好', 'l')")
    assert (keys, tokens, digests) == (0, 0, 0)
    with connect(db) as conn:  # a later open keeps what is there
        assert conn.execute("SELECT count(*) FROM transcript_tokens").fetchone()[0] == 1


def test_an_old_warehouse_gets_listed_links_and_transcript_answers(tmp_path: Path) -> None:
    """Made before `links.listed` and `transcripts.response_id`, with its index and its
    link_status view: it opens, every line it held is listed, and its views read the column."""
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as conn:
        for table in TABLES:
            dropped = {"links": "listed", "transcripts": "response_id"}.get(table.name)
            columns = tuple(c for c in table.columns if c.name != dropped)
            conn.execute(Table.ddl(replace(table, columns=columns)))
        conn.execute("CREATE INDEX links_video ON links (video_key)")
        conn.execute(
            "INSERT INTO links VALUES ('b.txt', 1, 'x', 'u', 'douyin', '1', 'u', 'douyin:1', "
            "NULL, now())"
        )
    with connect(db) as conn:
        assert conn.execute("SELECT listed FROM links").fetchall() == [(True,)]
        assert conn.execute("SELECT listed FROM link_status").fetchall() == [(True,)]
        conn.execute("SELECT response_id FROM transcripts").fetchall()
    assert check_warehouse(db).problems == []


def test_an_old_lake_gets_listed_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lake cannot add a column with a default nor make one NOT NULL: its old lines are listed
    all the same, in the same open."""
    warehouse = warehouse_from_env(sqlite_lake_env(tmp_path / "lake"), tmp_path / "w.db", tmp_path)
    with connect(warehouse) as conn:
        conn.execute(
            "INSERT INTO links VALUES ('b.txt', 1, 'x', 'u', 'douyin', '1', 'u', 'douyin:1', "
            "NULL, now(), true)"
        )
        conn.execute("DROP VIEW link_status")
        conn.execute("ALTER TABLE links DROP COLUMN listed")
        conn.execute("DROP TABLE schema_version")  # made before versions
    monkeypatch.setattr(lake, "_schema_ensured", set())  # a new process, as after an upgrade
    with connect(warehouse) as conn:
        assert conn.execute("SELECT listed FROM links").fetchall() == [(True,)]
        assert conn.execute("SELECT listed FROM link_status").fetchall() == [(True,)]
