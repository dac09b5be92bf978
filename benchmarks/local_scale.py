"""Benchmark 3: parse and stage a 1,000,000-line link file; time and peak memory.

Runs in its own process so the peak RSS is this work's alone.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from pipeline.links import parse_file, parse_line
from pipeline.links.parse import classify
from pipeline.warehouse.db import connect
from pipeline.warehouse.staging import batch_frame, stage_links

SHAPES = (
    "{n}.15 03/10 goD:/ g@B.tE 视频标题{n} # 话题 @作者  https://v.douyin.com/{code}/ 复制此链接，打开Dou音搜索，直接观看视频！",
    "https://www.douyin.com/video/74{n:017d}",
    "【标题{n}-哔哩哔哩】 https://b23.tv/{code}",
    "https://www.bilibili.com/video/BV1XRgNzjEF7/?spm_id_from=333.1007&vd_source=abc&p={p}",
    "https://www.youtube.com/watch?v=dQw4w9WgXc{c}&si=x",
    "这一行没有链接 {n}",
    "",
    "# comment {n}",
)


def generate(path: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            shape = rng.choice(SHAPES)
            code = "".join(rng.choices(alphabet, k=11))
            out.write(
                shape.format(n=n, code=code, p=rng.randint(1, 5), c=rng.choice("QRST")) + "\n"
            )


def loop_speed(file: Path, sample: int) -> int:
    """The one-line-at-a-time parser on the first lines of the file, for comparison."""
    with file.open(encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for _, line in zip(range(sample), handle, strict=False)]
    classify.cache_clear()  # the vectorized run above warmed it
    started = time.perf_counter()
    for line in lines:
        parse_line(line)
    return round(len(lines) / (time.perf_counter() - started))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "big.txt"
        generate(file, args.lines)
        started = time.perf_counter()
        parsed = parse_file(file)
        parsed_at = time.perf_counter()
        with connect(Path(tmp) / "w.duckdb") as conn:
            stage_links(conn, batch_frame(file.name, parsed))
            staged = conn.execute("SELECT count(*) FROM links").fetchone()[0]
        done = time.perf_counter()
        per_line_speed = loop_speed(file, args.loop_sample)
    result = {
        "benchmark": "local_scale",
        "lines": args.lines,
        "records": staged,
        "parse_seconds": round(parsed_at - started, 2),
        "stage_seconds": round(done - parsed_at, 2),
        "parse_lines_per_second": round(args.lines / (parsed_at - started)),
        "parse_and_stage_lines_per_second": round(args.lines / (done - started)),
        "parse_line_loop_lines_per_second": per_line_speed,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
