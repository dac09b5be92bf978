"""Benchmark 3: parse and stage a 1,000,000-line link file; time and peak memory.

Two files of the same size: one where nearly every URL is distinct (the worst case, since each
distinct URL costs one Python `classify`), and one naming 50,000 videos, each pasted many
times, as real collected lists repeat. Runs in its own process so the peak RSS is this work's.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from pipeline.derive.staging import stage_link_files
from pipeline.links import parse_blocks
from pipeline.links.parse import classify
from pipeline.storage.db import connect

# {n}: the line's number; {v}: the video it names; {code}: that video's short-link code.
SHAPES = (
    "{n}.15 03/10 goD:/ g@B.tE 视频标题{n} # 话题 @作者  https://v.douyin.com/{code}/ 复制此链接，打开Dou音搜索，直接观看视频！",
    "https://www.douyin.com/video/74{v:017d}",
    "【标题{n}-哔哩哔哩】 https://b23.tv/{code}",
    "https://www.bilibili.com/video/BV1XRgNzjEF7/?spm_id_from=333.1007&vd_source=abc&p={p}",
    "https://www.youtube.com/watch?v=dQw4w9WgXc{c}&si=x",
    "这一行没有链接 {n}",
    "",
    "# comment {n}",
)


def generate(path: Path, lines: int, videos: int | None = None, seed: int = 7) -> None:
    """`videos` caps how many videos the file names; None gives every line its own."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            video = n if videos is None else rng.randrange(videos)
            code = format(video * 2654435761 % 16**11, "011x")  # a bijection: distinct codes
            shape = rng.choice(SHAPES)
            line = shape.format(n=n, v=video, code=code, p=rng.randint(1, 5), c=rng.choice("QRST"))
            out.write(line + "\n")


def measure(file: Path, workdir: Path) -> dict:
    """The parse alone (a block at a time, nothing kept), then parse and stage together, as
    the `links` step does; staging's share is their difference. Each pass starts cold."""
    classify.cache_clear()
    started = time.perf_counter()
    for _ in parse_blocks(file):
        pass
    parse = time.perf_counter() - started
    classify.cache_clear()
    with connect(workdir / f"{file.stem}.duckdb") as conn:
        started = time.perf_counter()
        stage_link_files(conn, {file.name: file})
        both = time.perf_counter() - started
        staged, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT url) FROM links"
        ).fetchone()
    with file.open("rb") as handle:
        count = sum(1 for _ in handle)
    return {
        "records": staged,
        "distinct_urls": distinct,
        "parse_seconds": round(parse, 2),
        "stage_seconds": round(both - parse, 2),
        "parse_lines_per_second": round(count / parse),
        "parse_and_stage_lines_per_second": round(count / both),
    }


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--lines", "2000", "--repeated-videos", "50")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeated-videos", type=int, default=50_000)
    args = parser.parse_args(argv)
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, videos in (("distinct", None), ("repeated", args.repeated_videos)):
            file = workdir / f"{name}.txt"
            generate(file, args.lines, videos)
            files[name] = measure(file, workdir)
    result = {
        "benchmark": "local_scale",
        "lines": args.lines,
        "files": files,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
