"""A lake's search index is a file on each host: it follows the lake's documents, whoever wrote
them."""

from __future__ import annotations

from pathlib import Path

from pipeline.storage.db import connect
from pipeline.storage.extensions import load_fts
from pipeline.storage.location import Warehouse, warehouse_from_env
from pipeline.text.index import refresh_index_file
from pipeline.text.search import search
from tests.support import sqlite_lake_env


def lake(tmp_path: Path, host: str) -> Warehouse:
    """The same lake as seen from `host`: its own local folder, so its own index file."""
    env = sqlite_lake_env(tmp_path)
    return warehouse_from_env(env, tmp_path / host / "warehouse.duckdb", tmp_path)


def add_document(warehouse: Warehouse, key: str, words: str) -> None:
    with connect(warehouse) as conn:
        conn.execute(
            "INSERT INTO search_documents VALUES (?, ?, 'author', ?)", [key, f"title {key}", words]
        )
        conn.execute(
            "INSERT INTO transcripts (video_key, execute_id, content, char_count, is_trimmed, "
            "fetched_at) VALUES (?, 'job', ?, 1, false, now())",
            [key, words],
        )


def found(warehouse: Warehouse, words: str) -> list[str]:
    with connect(warehouse.search_index, read_only=True) as conn:
        load_fts(conn)
        return [hit.video_key for hit in search(conn, words)]


def test_each_host_rebuilds_its_index_when_another_host_changed_the_documents(
    tmp_path: Path,
) -> None:
    here, there = lake(tmp_path, "here"), lake(tmp_path, "there")
    add_document(here, "v1", "航海王 名场面")
    assert refresh_index_file(here, changed=False), "no index yet: built"
    assert not refresh_index_file(here, changed=False), "up to date: left alone"
    assert found(here, "航海王") == ["v1"]

    add_document(there, "v2", "航海王 合集")  # another host's run
    assert refresh_index_file(here, changed=False), "the documents moved on: rebuilt"
    assert sorted(found(here, "航海王")) == ["v1", "v2"]
    assert refresh_index_file(here, changed=True), "this host's own change: rebuilt at once"
    assert not refresh_index_file(Warehouse(tmp_path / "file.duckdb"), changed=True)
