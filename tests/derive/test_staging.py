"""Link files staged a block at a time: the rows and figures of one whole parse, the same rules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from pipeline.derive.staging import LineFigures, stage_link_files
from pipeline.links import parse_file
from pipeline.storage.db import connect

NO_LINES = LineFigures(0, 0, 0, {})
COLUMNS = "line_no, raw_text, url, platform, video_id, canonical_url, video_key, error"


def _video(n: int) -> str:
    return f"https://www.douyin.com/video/74{n:017d}"


def _lines(count: int) -> list[str]:
    lines = [f"第{n}个 {_video(n % 40)} 复制此链接" for n in range(count)]
    lines[3], lines[10], lines[11] = "没有链接", "ftp://example.com/x", "# comment"
    return lines


def test_a_file_of_many_blocks_stages_the_rows_and_figures_of_one_parse(tmp_path: Path) -> None:
    big, empty = tmp_path / "big.txt", tmp_path / "empty.txt"
    big.write_bytes(("\r\n".join(_lines(500)) + "\r\n").encode("gbk"))
    empty.write_bytes(b"\n# nothing yet\n")
    whole = parse_file(big)
    with connect(tmp_path / "w.duckdb") as conn:
        staged = stage_link_files(conn, {"big.txt": big, "empty.txt": empty}, block_size=300)
        stored = conn.execute(f"SELECT {COLUMNS} FROM links ORDER BY line_no").pl()
        loaded_at = conn.execute("SELECT count(DISTINCT loaded_at) FROM links").fetchone()
    assert loaded_at == (1,), "a batch's lines share one load time"
    figures = staged.figures["big.txt"]
    assert staged.figures["empty.txt"] == NO_LINES
    assert staged.total == figures
    assert (staged.kept, staged.unlisted) == ({}, 0)
    assert stored.rename({"raw_text": "raw"}).equals(whole)
    errors = whole.filter(pl.col("error").is_not_null())
    assert figures == LineFigures(
        lines=whole.height,
        bad_lines=errors.height,
        distinct_videos=whole["video_key"].drop_nulls().n_unique(),
        errors_by_reason=dict(errors.group_by("error").len().iter_rows()),
    )
    assert figures == LineFigures(499, 2, 40, {"bad_scheme": 1, "no_url": 1})


def test_restaging_replaces_the_batch_keeps_paid_lines_and_empty_files(tmp_path: Path) -> None:
    file, gone = tmp_path / "b.txt", tmp_path / "gone.txt"
    file.write_text("\n".join(_lines(60)), encoding="utf-8")
    gone.write_text(_video(7), encoding="utf-8")
    with connect(tmp_path / "w.duckdb") as conn:
        stage_link_files(conn, {"b.txt": file, "gone.txt": gone}, block_size=64)
        conn.execute(
            "INSERT INTO transcript_jobs (execute_id, video_key, workflow_id, status, attempt, "
            "submitted_at, poll_count) VALUES ('j', 'douyin:7400000000000000005', 'wf', "
            "'Running', 1, ?, 0)",
            [datetime(2025, 1, 1)],
        )
        # Video 5 leaves the file; video 6 leaves too, with no job; gone.txt is emptied.
        file.write_text(
            "\n".join(
                line
                for line in _lines(60)
                if not line.startswith(("第5个", "第45个", "第6个", "第46个"))
            ),
            encoding="utf-8",
        )
        gone.write_text("", encoding="utf-8")
        staged = stage_link_files(conn, {"b.txt": file, "gone.txt": gone}, block_size=64)
        unlisted = conn.execute(
            "SELECT line_no, video_key FROM links WHERE NOT listed AND batch = 'b.txt'"
        ).fetchall()
        (last,) = conn.execute(
            "SELECT max(line_no) FROM links WHERE listed AND batch = 'b.txt'"
        ).fetchone()
        keys = {
            k
            for (k,) in conn.execute("SELECT video_key FROM links WHERE batch = 'b.txt'").fetchall()
        }
        kept = conn.execute("SELECT count(*) FROM links WHERE batch = 'gone.txt'").fetchone()
        assert unlisted == [(last + 1, "douyin:7400000000000000005")]
    assert "douyin:7400000000000000006" not in keys
    assert kept == (1,), "an emptied file keeps its batch's rows"
    assert (staged.unlisted, staged.kept) == (1, {"gone.txt": 1})
    assert staged.figures["gone.txt"] == NO_LINES
    assert (staged.figures["b.txt"].lines, staged.figures["b.txt"].distinct_videos) == (55, 38)
