"""Benchmark 1: the full pipeline against a rate-limited emulator, versus the API notes' way.

The floor is the least time the API allows: every metadata call, every submit and at least one
poll per job, divided by the rate limit. The pipeline cannot beat it; the target is 85% of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from benchmarks.harness import bench_env, timed_run
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.emulator.config import PROFILES


def distinct_links(count: int) -> list[str]:
    return [f"https://www.douyin.com/video/75{n:017d}" for n in range(count)]


def run_pipeline(links: list[str], emulator: EmulatorProcess, rps: float, workdir: Path) -> float:
    batch = workdir / "bench.txt"
    batch.write_text("\n".join(links) + "\n", encoding="utf-8")
    env = bench_env(workdir, emulator.url, COZE_RPS=str(rps), PIPELINE_POLL_BUDGET="3600")
    return timed_run(batch, workdir / "w.duckdb", env)


async def run_sequential(links: list[str], url: str) -> float:
    """The seed's way: for each link, metadata, submit, then poll every second until done."""
    settings = CozeSettings.from_env({}, base_url=url)
    started = time.perf_counter()
    async with CozeClient(settings) as client:
        for link in links:
            await client.run_metadata(link)
            submission = await client.submit_transcript(link)
            while True:
                await asyncio.sleep(1.0)
                record = await client.get_run(submission.workflow_id, submission.execute_id)
                if record.status != "Running":
                    break
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--sequential-links", type=int, default=20)
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="realistic",
        help="emulator timing when --latency / --job-seconds are not given",
    )
    parser.add_argument("--latency", type=float, help="fixed seconds per answer (default: profile)")
    parser.add_argument("--job-seconds", type=float, help="fixed job duration (default: profile)")
    args = parser.parse_args(argv)

    config = EmulatorConfig(
        profile=args.profile,
        rps=args.rps,
        latency=args.latency,
        job_seconds=args.job_seconds,
    )
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(config) as emulator:
        elapsed = run_pipeline(distinct_links(args.links), emulator, args.rps, Path(tmp))
        stats = emulator.stats()
        calls = stats["metadata_calls"] + stats["submits"] + stats["polls"]
        floor = (stats["metadata_calls"] + stats["submits"] + stats["submits"]) / args.rps
        sample = distinct_links(args.links + args.sequential_links)[args.links :]
        sequential = asyncio.run(run_sequential(sample, emulator.url))
    per_link_sequential = sequential / len(sample)
    result = {
        "benchmark": "throughput",
        "links": args.links,
        "rps_limit": args.rps,
        "profile": args.profile,
        "latency_s": args.latency,
        "job_seconds": args.job_seconds,
        "pipeline_seconds": round(elapsed, 1),
        "floor_seconds": round(floor, 1),
        "share_of_floor_throughput": round(floor / elapsed, 3),
        "api_calls": calls,
        "polls_per_job": round(stats["polls"] / max(stats["submits"], 1), 2),
        "http_429_received": stats["rate_limited"],
        "sequential_sample_links": len(sample),
        "sequential_seconds_per_link": round(per_link_sequential, 2),
        "sequential_projected_seconds": round(per_link_sequential * args.links, 0),
        "speedup": round(per_link_sequential * args.links / elapsed, 1),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
