"""Test helpers shared across folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def hold_database(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process with the DuckDB file open for writing, as a person's SQL shell would."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc
