"""Benchmark 5: reads during a run (latency, errors, and whether the run was held up).

People query the warehouse while a run writes it. DuckDB lets one process write a file while no
other even reads it, so a reader on the live file fails with a lock error, or, when it gets in
between two writes, makes the run wait. This benchmark runs one `python -m pipeline run` while a
thread of this process reads every ~0.2 s, three ways, each on a fresh workdir:

- `live-file`: the live warehouse file, read-only: the naive way, the baseline of the problem;
- `snapshot`: the read-only snapshot the pipeline publishes after every writing step;
- `ducklake`: a DuckLake (SQLite catalog) attached read-only, as `pipeline sql` does.

Each read opens a connection, runs two small queries and closes it; its latency is all three.
The run's own wall time and any "is locked by" warning it printed show whether readers held it
up (`--baseline` times the same run with no reader, for comparison). The emulator answers at
once, jobs take 3 s and the rate is 20 requests/s, so the default 300 links make a run of about
50 s, paced by the rate as a real one is. The snapshot is first published when the Coze step
ends (or after 2 minutes of it), so on a fresh warehouse most snapshot reads find nothing yet:
`--history N` runs a batch of N other links first, as a warehouse in use has.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb

from benchmarks.harness import bench_env, timed_run
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import CONFIG, connect, first_line, warehouse_exists
from pipeline.storage.location import warehouse_from_env
from pipeline.storage.snapshot import snapshot_path

MODES = ("live-file", "snapshot", "ducklake")
QUERIES = (
    "SELECT count(*) FROM transcripts",
    "SELECT count(*) FROM videos JOIN transcripts USING (video_key)",
)
READ_EVERY = 0.2
# 3 requests per link at 20 requests/s: 300 links have a 45 s floor.
RPS = 20.0
JOB_SECONDS = 3.0
HISTORY_EMULATOR = EmulatorConfig(profile="fast", job_seconds=0.3)
LOCK_WARNING = "is locked by"

# Opens a connection for one read; None when there is nothing to read yet.
Opener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection | None]]


def distinct_links(count: int, first: int = 0) -> list[str]:
    return [f"https://www.douyin.com/video/74{n:017d}" for n in range(first, first + count)]


def pipeline_run(
    batch: Path, db: Path, env: dict[str, str], out: IO[str]
) -> subprocess.Popen[bytes]:
    """`python -m pipeline run` as `benchmarks.harness.timed_run` starts it, without waiting."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--links", str(batch), "--db", str(db)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def write_history(workdir: Path, db: Path, settings: dict[str, str], links: int) -> None:
    """An earlier batch of `links` other links, so the warehouse (and its snapshot) has rows."""
    batch = workdir / "history.txt"
    batch.write_text("\n".join(distinct_links(links, first=10**9)) + "\n", encoding="utf-8")
    with EmulatorProcess(HISTORY_EMULATOR) as emulator:
        env = bench_env(workdir, emulator.url, COZE_RPS="50", **settings)
        timed_run(batch, db, env)


@dataclass
class Reads:
    """What the reader thread saw: successful reads' latencies, errors by kind, reads skipped."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    first_error: dict[str, str] = field(default_factory=dict)
    not_yet_published: int = 0
    last_transcripts: int | None = None

    def error(self, error: Exception) -> None:
        message = first_line(error)
        kind = error_kind(error, message)
        self.errors[kind] += 1
        self.first_error.setdefault(kind, message)


def error_kind(error: Exception, message: str) -> str:
    """The error's class and message with paths, numbers and names masked, so one lock conflict
    counts as one kind whichever PID held it."""
    masked = re.sub(r"\"[^\"]*\"|'[^']*'|\d+", "…", message)
    return f"{type(error).__name__}: {masked[:80]}"


def not_there_yet(error: Exception) -> bool:
    """The lake exists but the first writer has not created the tables yet."""
    return isinstance(error, duckdb.CatalogException) and "does not exist" in str(error)


def read_loop(opener: Opener, reads: Reads, stop: threading.Event) -> None:
    """Read every READ_EVERY seconds until `stop`; never raises."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with opener() as conn:
                counts = None if conn is None else [conn.execute(q).fetchone() for q in QUERIES]
        except Exception as error:  # every failure is data here
            if not_there_yet(error):
                reads.not_yet_published += 1
            else:
                reads.error(error)
        else:
            if counts is None:
                reads.not_yet_published += 1
            else:
                reads.latencies_ms.append((time.perf_counter() - started) * 1000)
                reads.last_transcripts = int(counts[0][0]) if counts[0] else None
        stop.wait(max(0.0, READ_EVERY - (time.perf_counter() - started)))


def opener_for(mode: str, db: Path, env: dict[str, str], workdir: Path) -> Opener:
    """How a reader of this mode opens the warehouse."""
    if mode == "ducklake":
        warehouse = warehouse_from_env(env, db, workdir)

        @contextmanager
        def open_lake() -> Iterator[duckdb.DuckDBPyConnection | None]:
            if not warehouse_exists(warehouse):
                yield None
                return
            with connect(warehouse, read_only=True, wait_seconds=0) as conn:
                yield conn

        return open_lake
    target = db if mode == "live-file" else snapshot_path(db)

    @contextmanager
    def open_file() -> Iterator[duckdb.DuckDBPyConnection | None]:
        if not target.exists():
            yield None
            return
        conn = duckdb.connect(str(target), read_only=True, config=CONFIG)
        try:
            yield conn
        finally:
            conn.close()

    return open_file


def lake_settings(mode: str, workdir: Path) -> dict[str, str]:
    if mode != "ducklake":
        return {"PIPELINE_WAREHOUSE": "file"}
    return {
        "PIPELINE_WAREHOUSE": f"ducklake:sqlite:{workdir / 'lake' / 'catalog.sqlite'}",
        "PIPELINE_LAKE_DATA": str(workdir / "lake" / "files"),
    }


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None with no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))], 1)


def measure(
    mode: str,
    links: int,
    history: int = 0,
    with_reader: bool = True,
    job_seconds: float = JOB_SECONDS,
) -> dict:
    """One run of `links` new links with a reader of `mode` alongside (or none), on a fresh
    workdir holding `history` earlier links."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = workdir / "w.duckdb"
        settings = lake_settings(mode, workdir)
        if history:
            write_history(workdir, db, settings, history)
        batch = workdir / "batch.txt"
        batch.write_text("\n".join(distinct_links(links)) + "\n", encoding="utf-8")
        emulator_config = EmulatorConfig(profile="fast", job_seconds=job_seconds, rps=RPS)
        with (
            EmulatorProcess(emulator_config) as emulator,
            (workdir / "run.log").open("w") as out,
        ):
            env = bench_env(workdir, emulator.url, COZE_RPS=str(RPS), **settings)
            reads, stop = Reads(), threading.Event()
            reader = threading.Thread(
                target=read_loop, args=(opener_for(mode, db, env, workdir), reads, stop)
            )
            started = time.perf_counter()
            if with_reader:
                reader.start()
            code = pipeline_run(batch, db, env, out).wait()
            run_seconds = time.perf_counter() - started
            stop.set()
            if with_reader:
                reader.join()
        text = (workdir / "run.log").read_text(errors="replace")
    if not with_reader:
        return {"run_seconds": round(run_seconds, 1), "run_exit_code": code}
    attempts = len(reads.latencies_ms) + reads.errors.total() + reads.not_yet_published
    result = {
        "mode": mode,
        "reads": attempts,
        "ok": len(reads.latencies_ms),
        "errors": reads.errors.total(),
        "not_yet_published": reads.not_yet_published,
        "error_kinds": {
            kind: {"count": count, "first": reads.first_error[kind]}
            for kind, count in reads.errors.most_common()
        },
        "p50_ms": percentile(reads.latencies_ms, 0.50),
        "p95_ms": percentile(reads.latencies_ms, 0.95),
        "max_ms": percentile(reads.latencies_ms, 1.0),
        "last_transcripts_seen": reads.last_transcripts,
        "run_seconds": round(run_seconds, 1),
        "run_exit_code": code,
        "run_waited_for_lock": LOCK_WARNING in text,
        "run_lock_warnings": text.count(LOCK_WARNING),
    }
    if code:
        result["run_log_tail"] = text.splitlines()[-20:]
    return result


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--links", "4", "--job-seconds", "0.3", "--modes", "snapshot")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=300)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--history", type=int, default=0, help="links run into the warehouse before the measure"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also time each mode's run with no reader"
    )
    parser.add_argument("--job-seconds", type=float, default=JOB_SECONDS)
    args = parser.parse_args(argv)
    runs = []
    for mode in args.modes:
        run = measure(mode, args.links, args.history, job_seconds=args.job_seconds)
        if args.baseline:
            alone = measure(
                mode, args.links, args.history, with_reader=False, job_seconds=args.job_seconds
            )
            run["run_seconds_without_reader"] = alone["run_seconds"]
        runs.append(run)
    result = {
        "benchmark": "readers",
        "links": args.links,
        "history_links": args.history,
        "emulator": (
            f"fast profile, jobs of {args.job_seconds:g} s, {RPS:g} req/s limit, COZE_RPS={RPS:g}"
        ),
        "read_every_seconds": READ_EVERY,
        "queries": list(QUERIES),
        "runs": runs,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
