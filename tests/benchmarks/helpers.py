"""Running a benchmark as `make bench` does, at its smoke size, and reading what it printed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from pipeline.settings import PROJECT_ROOT


def run_smoke(module: str, *extra: str) -> list[dict]:
    """`python -m module` at the module's `SMOKE` size (plus `extra` flags): the JSON lines it
    printed, once it exited with status 0."""
    sizes = importlib.import_module(module).SMOKE
    done = subprocess.run(
        [sys.executable, "-m", module, *sizes, *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
