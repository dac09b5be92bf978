"""`plan` counts a link file streamed into DuckDB as the whole parsed frame counts it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.links import parse_blocks, parse_file
from pipeline.plan_reads import stage_link_keys


def test_streamed_counts_equal_the_whole_frames(tmp_path: Path) -> None:
    lines = [
        f"第{n}行 https://www.douyin.com/video/74{n % 37:017d}" if n % 5 else "没有链接"
        for n in range(400)
    ]
    lines[7] = "# comment"
    file = tmp_path / "batch.txt"
    file.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    whole = parse_file(file)
    keys = whole["video_key"].drop_nulls()
    with duckdb.connect() as conn:
        counts = stage_link_keys(conn, parse_blocks(file, block_size=512))
        staged = conn.execute("SELECT video_key FROM _plan_keys").pl()["video_key"]
    assert (counts.lines, counts.usable, counts.distinct) == (399, 319, 37)
    assert (counts.lines, counts.usable, counts.distinct) == (
        whole.height,
        keys.len(),
        keys.n_unique(),
    )
    assert sorted(staged.to_list()) == sorted(keys.unique().to_list())
