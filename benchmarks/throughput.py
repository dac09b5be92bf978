"""Benchmark 1: the whole pipeline against a rate-limited emulator, under the service's timings.

The floor is the least time the API allows: every metadata call, every submit and one poll per
job, 3N requests, divided by the rate limit R. The pipeline cannot beat it; the target is 85%
of it under the realistic profile (sync runs of seconds, jobs of tens of seconds) with only
COZE_RPS set, 90% on an ideal profile. N is sized so each run's floor is `--floor-seconds`:
long enough that the batch's polls cover the last jobs' run time, short enough for a bench.
A last run at a high rate with quick answers shows how many requests one process sustains.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.harness import bench_env, timed_run
from pipeline.emulator import EmulatorConfig, EmulatorProcess

# The ideal profile: every answer in 0.2 s, every job in 3 s.
IDEAL = {"latency": 0.2, "job_seconds": 3.0}
# The high-rate run: answers as quick as loopback allows, jobs short, so the client's CPU is
# what limits.
HIGH_RATE = {"latency": 0.05, "job_seconds": 3.0}


def distinct_links(count: int) -> list[str]:
    return [f"https://www.douyin.com/video/75{n:017d}" for n in range(count)]


def measure(name: str, rps: float, links: int, **timing: float) -> dict:
    """One pipeline run on a fresh warehouse, with only COZE_RPS set, as a new user would."""
    config = EmulatorConfig(profile="realistic", rps=rps, **timing)
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(config) as emulator:
        workdir = Path(tmp)
        batch = workdir / "bench.txt"
        batch.write_text("\n".join(distinct_links(links)) + "\n", encoding="utf-8")
        env = bench_env(workdir, emulator.url, COZE_RPS=str(rps))
        wall = timed_run(batch, workdir / "w.duckdb", env)
        stats = emulator.stats()
    floor = 3 * links / rps
    result = {
        "benchmark": "throughput",
        "run": name,
        "rps_limit": rps,
        "links": links,
        "wall_seconds": round(wall, 1),
        "floor_seconds": round(floor, 1),
        "share_of_floor": round(floor / wall, 3),
        "api_seconds": round(stats["busy_seconds"], 1),
        "sustained_rps": round(stats["requests"] / max(stats["busy_seconds"], 1e-9), 1),
        "polls_per_job": round(stats["polls"] / max(stats["submits"], 1), 2),
        "peak_in_flight": stats["peak_in_flight"],
        "http_429": stats["rate_limited"],
        "requests": stats["requests"],
    }
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rps", type=float, nargs="+", default=[20.0, 50.0, 100.0])
    parser.add_argument("--floor-seconds", type=float, default=150.0)
    parser.add_argument("--ideal-rps", type=float, default=50.0)
    parser.add_argument("--high-rps", type=float, default=250.0)
    parser.add_argument(
        "--only-realistic", action="store_true", help="skip the ideal and high-rate runs"
    )
    args = parser.parse_args(argv)

    def links_for(rps: float) -> int:
        return int(rps * args.floor_seconds / 3)

    results = [measure("realistic", rps, links_for(rps)) for rps in args.rps]
    if not args.only_realistic:
        results.append(measure("ideal", args.ideal_rps, links_for(args.ideal_rps), **IDEAL))
        high = links_for(args.high_rps) * 2 // 3
        results.append(measure("high-rate", args.high_rps, high, **HIGH_RATE))
    return results


if __name__ == "__main__":
    main()
