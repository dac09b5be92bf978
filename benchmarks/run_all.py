"""`make bench`: every benchmark, one JSON line each, plus the machine they ran on."""

from __future__ import annotations

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
)


def main() -> int:
    machine = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(json.dumps({"machine": machine}), flush=True)
    failed = 0
    for module in BENCHMARKS:
        failed += subprocess.run([sys.executable, "-m", module]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
