"""The Coze step's work list: decided from the warehouse once, then read back a block at a time."""

from __future__ import annotations

from pathlib import Path

from pipeline.reads.work import VideoWork, WorkItem, coze_todo
from pipeline.storage.db import connect

# (line, video number, metadata status, transcript status): the lines' order is not the keys'.
VIDEOS = [
    (1, 9, None, None),
    (2, 3, "ok", "ok"),  # done: no call
    (3, 7, "failed", None),  # failed for good: no call
    (4, 1, "ok", None),  # resolved: its submit only
    (5, 8, "retry", None),
    (6, 2, "ok", "running"),  # its job is polled, not submitted again: no call
    (7, 5, "ok", "retry"),
    (8, 4, None, None),
    (9, 6, "ok", "uncertain"),  # resubmitted only on request: no call
]


def _warehouse(db: Path) -> None:
    with connect(db) as conn:
        for line, n, metadata, transcript in VIDEOS:
            key, url = f"douyin:{n}", f"https://www.douyin.com/video/{n}"
            conn.execute(
                "INSERT INTO links VALUES ('b.txt', ?, ?, ?, 'douyin', ?, ?, ?, NULL, now(), true)",
                [line, f"text {n}", url, str(n), url, key],
            )
            for step, status in (("metadata", metadata), ("transcript", transcript)):
                if status is not None:
                    conn.execute(
                        "INSERT INTO item_state VALUES (?, ?, ?, 1, NULL, NULL, now())",
                        [key, step, status],
                    )


def test_the_work_list_is_written_in_blocks_and_read_back_in_the_lines_order(
    tmp_path: Path,
) -> None:
    """Blocks of two rows (five blocks read from DuckDB for nine videos): the list holds the
    videos with a call to make, in their lines' order, with their calls and counts, reads the
    same however often it is read, and its file goes when it is closed."""
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    with connect(db) as conn:
        work = coze_todo(conn, ["b.txt"], block=2)

    def video(n: int, needs_metadata: bool) -> VideoWork:
        url = f"https://www.douyin.com/video/{n}"
        return VideoWork(WorkItem(f"douyin:{n}", f"text {n}", url, url), needs_metadata, True)

    expected = [video(9, True), video(1, False), video(8, True), video(5, False), video(4, True)]
    with work:
        assert list(work) == expected
        assert list(work) == expected
        assert (work.metadata_calls, work.may_submit) == (3, 5)
        assert work.path.is_file()
    assert not work.path.exists()
