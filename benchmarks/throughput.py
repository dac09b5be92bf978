"""Benchmark 1: the whole command against a rate-limited emulator, under the service's timings.

The floor is the least time the API allows: every metadata call, every submit and one poll per
job, 3N requests, divided by the rate limit R. A user waits for the whole command, so the wall
time is `python -m pipeline run` from process start to exit, and the time beyond the floor is
laid out in parts that add up to it (`Breakdown`). The target is 85% of the floor under the
realistic profile (sync runs of seconds, jobs of tens of seconds) with only COZE_RPS set. N is
sized so each run's floor is `--floor-seconds`: the default, 96 s, is 800 links at 25
requests/s, the batch a user reported. An ideal profile and a last run at a high rate with
quick answers show how many requests one process sustains.

`--variants` runs each rate again without a piece of the speed machinery
(`benchmarks.variants`), so that a piece is kept only for a gain measured in the same run.
`--media none all` runs each rate once per PIPELINE_MEDIA choice: the media downloads beside the
calls must not slow them (the emulator's CDN serves the files).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import httpx

from benchmarks.harness import bench_env, run_span
from benchmarks.variants import BASELINE, VARIANTS
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.emulator.config import PROFILES

# The ideal profile: every answer in 0.2 s, every job in 3 s.
IDEAL = {"latency": 0.2, "job_seconds": 3.0}
# The high-rate run: answers as quick as loopback allows, jobs short, so the client's CPU is
# what limits.
HIGH_RATE = {"latency": 0.05, "job_seconds": 3.0}
# The ramp-up lasts until the first second in which the rate reached this share of R.
RAMPED = 0.95


def distinct_links(count: int) -> list[str]:
    return [f"https://www.douyin.com/video/75{n:017d}" for n in range(count)]


@dataclass(frozen=True)
class Breakdown:
    """The wall time beyond the floor, in seconds, in parts that sum to it.

    `start_up`: process start to the first request. `ramp_up`: the rate not yet reached at the
    start, the requests short of R in the seconds before the first second at 95% of R.
    `dips`: the rest of the rate unused up to the last submit. `tail`: the rate unused after the
    last submit, waiting for the last jobs. `extra_requests`: requests beyond 3N (second polls,
    429s, retries), at R. `after_last_request`: the last answer to exit: the Coze step ending,
    normalization, text analysis and the summary (`steps` has each step's seconds).
    """

    start_up: float
    ramp_up: float
    dips: float
    tail: float
    extra_requests: float
    after_last_request: float

    @classmethod
    def of(cls, started: float, ended: float, arrivals: dict, links: int, rps: float) -> Breakdown:
        first, last, last_submit = arrivals["first"], arrivals["last"], arrivals["last_submit"]
        per_second = arrivals["per_second"]
        ramp_seconds = next(
            (i for i, count in enumerate(per_second) if count >= RAMPED * rps), len(per_second)
        )
        ramp_up = sum(1 - count / rps for count in per_second[:ramp_seconds])
        before = arrivals["requests_to_last_submit"]
        after = sum(per_second) - before
        return cls(
            start_up=first - started,
            ramp_up=ramp_up,
            dips=(last_submit - first) - before / rps - ramp_up,
            tail=(last - last_submit) - after / rps,
            extra_requests=(sum(per_second) - 3 * links) / rps,
            after_last_request=ended - last,
        )

    def rounded(self) -> dict[str, float]:
        return {name: round(value, 1) for name, value in asdict(self).items()}


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """Each step's seconds in the run the benchmark made, from the instance's event log."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(limit=1)
        stats = instance.get_run_step_stats(run.run_id)
    return {
        stat.step_key: round((stat.end_time or 0.0) - (stat.start_time or 0.0), 1) for stat in stats
    }


def clock(stats: dict) -> dict[str, float]:
    """Seconds from the first request to the last submit, to the end of the last job at Coze,
    and to the last request (its poll): what the tail is made of."""
    first = stats["arrivals"]["first"]
    last_done = max(job["created"] + job["seconds"] for job in stats["jobs"].values())
    return {
        "last_submit": round(stats["arrivals"]["last_submit"] - first, 1),
        "last_job_done": round(last_done - first, 1),
        "last_request": round(stats["arrivals"]["last"] - first, 1),
    }


def measure(
    name: str,
    rps: float,
    links: int,
    profile: str = "realistic",
    variant: str = BASELINE,
    media: str = "images",
    **timing: float,
) -> dict:
    """One pipeline run on a fresh warehouse, with only COZE_RPS set, as a new user would."""
    config = EmulatorConfig(profile=profile, rps=rps, **timing)
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(config) as emulator:
        workdir = Path(tmp)
        batch = workdir / "bench.txt"
        batch.write_text("\n".join(distinct_links(links)) + "\n", encoding="utf-8")
        env = bench_env(workdir, emulator.url, COZE_RPS=str(rps), PIPELINE_MEDIA=media)
        started, ended = run_span(batch, workdir / "w.duckdb", env, variant)
        stats = emulator.stats()
        emulator_cdn = httpx.get(f"{emulator.url}/_emulator/cdn", timeout=30).json()["requests"]
        steps = step_seconds(Path(env["DAGSTER_HOME"]))
    wall = ended - started
    floor = 3 * links / rps
    result = {
        "benchmark": "throughput",
        "run": name,
        "variant": variant,
        "media": media,
        "media_requests": len(emulator_cdn),
        "profile": profile,
        "rps_limit": rps,
        "links": links,
        "wall_seconds": round(wall, 1),
        "floor_seconds": round(floor, 1),
        "share_of_floor": round(floor / wall, 3),
        "beyond_floor": Breakdown.of(started, ended, stats["arrivals"], links, rps).rounded(),
        "clock": clock(stats),
        "steps": steps,
        "sustained_rps": round(stats["requests"] / max(stats["busy_seconds"], 1e-9), 1),
        "polls_per_job": round(stats["polls"] / max(stats["submits"], 1), 2),
        "peak_in_flight": stats["peak_in_flight"],
        "http_429": stats["rate_limited"],
        "requests": stats["requests"],
    }
    print(json.dumps(result), flush=True)
    return result


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--rps", "50", "--links", "6", "--profile", "fast", "--only-realistic")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rps", type=float, nargs="+", default=[25.0, 50.0, 200.0])
    parser.add_argument("--floor-seconds", type=float, default=96.0)
    parser.add_argument(
        "--links", type=int, help="links per run, instead of sizing each run by --floor-seconds"
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="realistic",
        help="the emulator's timing for the --rps runs (fast: a smoke test, measures nothing)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=[BASELINE],
        help="run each --rps rate once per variant, one after the other (benchmarks.variants)",
    )
    parser.add_argument(
        "--media",
        nargs="+",
        choices=("none", "images", "all"),
        default=["images"],
        help="PIPELINE_MEDIA of the --rps runs, each choice a run of its own",
    )
    parser.add_argument("--ideal-rps", type=float, default=50.0)
    parser.add_argument("--high-rps", type=float, default=250.0)
    parser.add_argument(
        "--only-realistic", action="store_true", help="skip the ideal and high-rate runs"
    )
    args = parser.parse_args(argv)

    def links_for(rps: float) -> int:
        return args.links or int(rps * args.floor_seconds / 3)

    results = [
        measure("realistic", rps, links_for(rps), args.profile, variant, media)
        for rps in args.rps
        for variant in args.variants
        for media in args.media
    ]
    if not args.only_realistic:
        results.append(measure("ideal", args.ideal_rps, links_for(args.ideal_rps), **IDEAL))
        results.append(measure("high-rate", args.high_rps, links_for(args.high_rps), **HIGH_RATE))
    return results


if __name__ == "__main__":
    main()
