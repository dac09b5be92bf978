"""`make bench`: every benchmark, one JSON line each, plus the machine they ran on.

`--smoke` runs each at the tiny size its module names (`SMOKE`), as tests/benchmarks does one
by one: it checks that every benchmark still runs, and measures nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime

BENCHMARKS = (
    "benchmarks.local_scale",
    "benchmarks.incremental",
    "benchmarks.throughput",
    "benchmarks.text_speed",
    "benchmarks.readers",
    "benchmarks.fts_scale",
    "benchmarks.scale",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="every benchmark at a tiny size")
    args = parser.parse_args(argv)
    machine = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(json.dumps({"machine": machine}), flush=True)
    failed = 0
    for module in BENCHMARKS:
        sizes = importlib.import_module(module).SMOKE if args.smoke else ()
        failed += subprocess.run([sys.executable, "-m", module, *sizes]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
