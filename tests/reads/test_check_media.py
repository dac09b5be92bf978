"""`check` reads saved media back: a file missing from the store, or holding other bytes than
its sha256 names, is a problem with what to do; intact files are a fact."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.media.store import FolderStore, media_path
from pipeline.reads.check import check_warehouse
from pipeline.schema.migrations import create_schema


def saved(store: Path, db: Path, video_key: str, data: bytes) -> str:
    """One saved cover: the file in the store and its row."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = media_path(sha256, "webp")
    (store / path).parent.mkdir(parents=True, exist_ok=True)
    (store / path).write_bytes(data)
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "INSERT INTO media_files VALUES (?, 'cover', 'https://p3.douyinpic.com/c.webp', "
            "NULL, 'ok', ?, ?, 'image/webp', ?, NULL, ?, 1)",
            [video_key, sha256, len(data), path, datetime(2026, 12, 7)],
        )
    return path


def test_check_reads_saved_media_back_and_names_what_is_wrong(tmp_path: Path) -> None:
    db, root = tmp_path / "w.duckdb", tmp_path / "media"
    with duckdb.connect(str(db)) as conn:
        create_schema(conn)
    store = FolderStore(root)
    intact = saved(root, db, "douyin:1", b"RIFF....WEBPVP8 one")
    altered = saved(root, db, "douyin:2", b"RIFF....WEBPVP8 two")
    missing = saved(root, db, "douyin:3", b"RIFF....WEBPVP8 three")

    report = check_warehouse(db, 5, store)
    assert report.problems == []
    assert f"media: 3 saved files read back from {root}, all intact" in report.facts

    (root / altered).write_bytes(b"RIFF....WEBPVP8 tampered")
    (root / missing).unlink()
    report = check_warehouse(db, 5, store)
    assert len(report.problems) == 2, report.problems
    assert any(altered in p and "does not hold the bytes" in p for p in report.problems)
    assert any(missing in p and "missing" in p for p in report.problems)
    assert not any(intact in p for p in report.problems)
