"""Re-keying a real DuckDB warehouse whose links were read by the old parser."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.derive.rekey import RekeyCounts, rekey
from pipeline.derive.tables import rebuild_all
from pipeline.reads.work import coze_todo
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect

MBLOG_URL = "https://weibo.com/2265830070/O8DM0BLLm"
MID_URL = "https://m.weibo.cn/status/5020595169001740"
OLD_MBLOG_KEY, OLD_MID_KEY = "weibo:O8DM0BLLm", "weibo:5020595169001740"
NEW_KEY = "weibo:5020595169001740"
PLAYLISTS = [f"https://www.youtube.com/embed/videoseries?list=PL{c}" for c in "ab"]
METADATA_BODY = json.dumps(
    {
        "code": 0,
        "msg": "",
        "data": json.dumps(
            {"title": "一条微博", "cover_url": "https://v.example/p.mp4", "output": "https://i/c"}
        ),
    }
)


def _old_warehouse(path: Path) -> None:
    """Two lines of one Weibo post under the two keys the old parser gave them: the mblogid key
    resolved and submitted, the mid key with one failed metadata call; and two playlist embeds
    the old parser keyed alike, with one answer."""
    links = [
        (1, MBLOG_URL, "weibo", "O8DM0BLLm", MBLOG_URL, OLD_MBLOG_KEY),
        (2, MID_URL, "weibo", "5020595169001740", MID_URL, OLD_MID_KEY),
        *[
            (3 + i, u, "youtube", "videoseries", u, "youtube:videoseries")
            for i, u in enumerate(PLAYLISTS)
        ],
    ]
    answers = [
        ("r1", "metadata", OLD_MID_KEY, MID_URL, None, 502, "retryable", None, 1),
        ("r2", "metadata", OLD_MBLOG_KEY, MBLOG_URL, None, 200, "ok", METADATA_BODY, 2),
        ("r3", "submit", OLD_MBLOG_KEY, MBLOG_URL, "7000001", 200, "ok", '{"code":0}', 3),
        ("r4", "metadata", "youtube:videoseries", PLAYLISTS[0], None, 200, "ok", METADATA_BODY, 4),
    ]
    at = datetime(2025, 1, 1)
    with connect(path) as conn:
        for line_no, url, platform, video_id, canonical, key in links:
            conn.execute(
                "INSERT INTO links VALUES ('old.txt', ?, ?, ?, ?, ?, ?, ?, NULL, ?, true)",
                [line_no, url, url, platform, video_id, canonical, key, at],
            )
        for rid, kind, key, request, execute_id, http, outcome, body, seq in answers:
            conn.execute(
                "INSERT INTO raw_responses VALUES (?, ?, ?, 'wf', ?, ?, ?, ?, NULL, NULL, NULL, "
                "?, ?, ?)",
                [rid, kind, key, request, execute_id, http, outcome, at, body, seq],
            )
        rebuild_all(conn, max_attempts=3)  # state and jobs as the old run left them
        assert _keys(conn, "item_state") == {OLD_MBLOG_KEY, OLD_MID_KEY, "youtube:videoseries"}


def _keys(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT video_key FROM {table}").fetchall()}


def test_one_post_in_two_forms_ends_with_one_key_and_no_new_api_work(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    _old_warehouse(db)
    with connect(db) as conn:
        assert rekey(conn) == RekeyCounts(lines=3, moved=1, split=1)
        assert _keys(conn, "transcript_jobs") == {NEW_KEY}
        assert OLD_MBLOG_KEY not in _keys(conn, "item_state")
        rebuild_all(conn, max_attempts=3)

        assert conn.execute(
            "SELECT line_no, video_id, canonical_url, video_key FROM links ORDER BY line_no"
        ).fetchall() == [
            (1, "5020595169001740", "https://m.weibo.cn/status/5020595169001740", NEW_KEY),
            (2, "5020595169001740", "https://m.weibo.cn/status/5020595169001740", NEW_KEY),
            *[(3 + i, None, u, u) for i, u in enumerate(PLAYLISTS)],
        ]
        # both keys' answers kept under the new key; the split key's answer left in place
        assert conn.execute(
            "SELECT response_id, video_key FROM raw_responses ORDER BY seq"
        ).fetchall() == [
            ("r1", NEW_KEY),
            ("r2", NEW_KEY),
            ("r3", NEW_KEY),
            ("r4", "youtube:videoseries"),
        ]
        assert conn.execute(
            "SELECT step, status FROM item_state WHERE video_key = ? ORDER BY step", [NEW_KEY]
        ).fetchall() == [("metadata", "ok"), ("transcript", "running")]
        assert conn.execute("SELECT video_key, status FROM transcript_jobs").fetchall() == [
            (NEW_KEY, "Running")
        ]
        assert conn.execute("SELECT video_key, title FROM videos ORDER BY 1").fetchall() == [
            (NEW_KEY, "一条微博"),
            ("youtube:videoseries", "一条微博"),
        ]
        # only the playlists, now told apart, are left to fetch; the post costs nothing more
        todo = coze_todo(conn, ["old.txt"])
        assert [w.item.video_key for w in todo] == PLAYLISTS
        assert all(w.needs_metadata for w in todo)
        assert rekey(conn) == RekeyCounts(0, 0, 0)


def test_rebuild_command_rekeys_first(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    _old_warehouse(db)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "rebuild", "--db", str(db)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "re-keyed 3 link lines" in done.stdout
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute(
            "SELECT video_key, metadata_status, transcript_status FROM link_status "
            "WHERE platform = 'weibo'"
        ).fetchall() == [(NEW_KEY, "ok", "pending")]
