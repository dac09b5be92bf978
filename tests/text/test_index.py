"""The tantivy index beside the warehouse: it follows the file's documents through the text
analysis, builds itself afresh when it is missing, damaged or behind, and on a lake each host's
own index follows the lake's documents, whoever wrote them."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse, warehouse_from_env
from pipeline.text.analysis import update_text_tables
from pipeline.text.index import (
    damaged_files,
    follow_warehouse,
    indexed_keys,
    refresh_lake_index,
)
from pipeline.text.search import search
from tests.support import sqlite_lake_env


def lake(tmp_path: Path, host: str) -> Warehouse:
    """The same lake as seen from `host`: its own local folder, so its own index."""
    env = sqlite_lake_env(tmp_path)
    return warehouse_from_env(env, tmp_path / host / "warehouse.duckdb", tmp_path)


def add_document(warehouse: Warehouse | Path, key: str, words: str) -> None:
    with connect(warehouse) as conn:
        conn.execute(
            "INSERT INTO search_documents VALUES (?, ?, 'author', ?)", [key, f"title {key}", words]
        )
        conn.execute(
            "INSERT INTO transcripts (video_key, execute_id, content, char_count, is_trimmed, "
            "fetched_at) VALUES (?, 'job', ?, 1, false, now())",
            [key, words],
        )


def found(warehouse: Warehouse | Path, words: str) -> list[str]:
    target = Warehouse.of(warehouse)
    with connect(target, read_only=True) as conn:
        return [hit.video_key for hit in search(target.search_index, conn, words)]


def test_each_host_rebuilds_its_index_when_another_host_changed_the_documents(
    tmp_path: Path,
) -> None:
    here, there = lake(tmp_path, "here"), lake(tmp_path, "there")
    add_document(here, "v1", "航海王 名场面")
    assert refresh_lake_index(here, changed=False), "no index yet: built"
    assert not refresh_lake_index(here, changed=False), "up to date: left alone"
    assert found(here, "航海王") == ["v1"]

    add_document(there, "v2", "航海王 合集")  # another host's run
    assert refresh_lake_index(here, changed=False), "the documents moved on: rebuilt"
    assert sorted(found(here, "航海王")) == ["v1", "v2"]
    assert refresh_lake_index(here, changed=True), "this host's own change: rebuilt at once"
    assert not refresh_lake_index(Warehouse(tmp_path / "file.duckdb"), changed=True)


def file_with_documents(tmp_path: Path, count: int) -> Path:
    """Transcripts analysed and indexed by the real text analysis."""
    db = tmp_path / "w.duckdb"
    with connect(db) as conn:
        for n in range(count):
            conn.execute(
                "INSERT INTO transcripts (video_key, execute_id, content, char_count, "
                "is_trimmed, fetched_at) VALUES (?, 'job', ?, 1, false, now())",
                [f"v{n}", f"航海王第{n}集"],
            )
    assert update_text_tables(lambda: connect(db)).indexed == count
    return db


def test_a_changed_document_replaces_the_old_one_and_a_vanished_one_leaves(
    tmp_path: Path,
) -> None:
    db = file_with_documents(tmp_path, 4)
    with connect(db) as conn:
        # What a store of changed documents leaves for the index.
        conn.execute("UPDATE search_documents SET body = '草帽 合集' WHERE video_key = 'v1'")
        conn.execute("DELETE FROM search_documents WHERE video_key = 'v2'")
        conn.execute("INSERT INTO index_unfinished VALUES ('v1'), ('v2')")
        assert follow_warehouse(conn) == 1, "v1 upserted, v2 only deleted"
        assert conn.execute("SELECT count(*) FROM index_unfinished").fetchone() == (0,)
    assert sorted(indexed_keys(Warehouse(db).search_index)) == ["v0", "v1", "v3"]
    assert found(db, "草帽") == ["v1"]
    assert sorted(found(db, "航海王")) == ["v0", "v3"]


def test_a_lost_index_is_built_again_by_the_next_text_analysis(tmp_path: Path) -> None:
    db = file_with_documents(tmp_path, 3)
    shutil.rmtree(Warehouse(db).search_index)
    stats = update_text_tables(lambda: connect(db))
    assert (stats.processed, stats.indexed) == (0, 3), "nothing to segment, the index made again"
    assert sorted(found(db, "航海王")) == ["v0", "v1", "v2"]


def test_a_damaged_index_is_built_again_by_the_next_text_analysis(tmp_path: Path) -> None:
    db = file_with_documents(tmp_path, 3)
    index = Warehouse(db).search_index
    (index / "meta.json").write_text("{ not json")
    assert update_text_tables(lambda: connect(db)).indexed == 3
    assert sorted(found(db, "航海王")) == ["v0", "v1", "v2"]


def test_damage_no_search_meets_is_caught_before_the_next_commit(tmp_path: Path) -> None:
    """A flipped byte in the term dictionary, the file's footer intact: tantivy opens the index
    and a commit on top of it fails for good; its checksum tells first, and the index is built
    afresh with the new transcript."""
    db = file_with_documents(tmp_path, 3)
    index = Warehouse(db).search_index
    (term,) = index.glob("*.term")
    data = bytearray(term.read_bytes())
    data[len(data) // 3] ^= 0xFF
    term.write_bytes(bytes(data))
    assert damaged_files(index) == [term.name]
    with connect(db) as conn:
        conn.execute(
            "INSERT INTO transcripts (video_key, execute_id, content, char_count, is_trimmed, "
            "fetched_at) VALUES ('v3', 'job', '航海王第3集', 1, false, now())"
        )
    stats = update_text_tables(lambda: connect(db))
    assert (stats.processed, stats.indexed) == (1, 4), "built afresh, not upserted into damage"
    assert damaged_files(index) == []
    assert sorted(found(db, "航海王")) == ["v0", "v1", "v2", "v3"]


def test_an_index_behind_the_warehouse_is_built_again(tmp_path: Path) -> None:
    """A warehouse restored from a backup newer than its index: the counts differ."""
    db = file_with_documents(tmp_path, 2)
    with connect(db) as conn:  # a document the index was never handed
        conn.execute("INSERT INTO search_documents VALUES ('v9', 'title', 'author', '航海王 番外')")
    assert update_text_tables(lambda: connect(db)).indexed == 3
    assert sorted(found(db, "航海王")) == ["v0", "v1", "v9"]
