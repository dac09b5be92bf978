"""What the end-to-end benchmarks share: a throwaway Dagster instance and a timed scripted run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.variants import BASELINE
from pipeline.settings import PROJECT_ROOT


def bench_env(workdir: Path, coze_url: str, **settings: str) -> dict[str, str]:
    """An instance configured like the project's, in `workdir`, talking to `coze_url` only, and
    saving media into `workdir`."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COZE_", "PIPELINE_MEDIA"))}
    return {
        **env,
        "DAGSTER_HOME": str(home),
        "COZE_BASE_URL": coze_url,
        "PIPELINE_MEDIA_DIR": str(workdir / "media"),
        **settings,
    }


def timed_run(links: Path, db: Path, env: dict[str, str]) -> float:
    """Wall seconds of `python -m pipeline run`, process start to exit, as a cron caller sees it."""
    started, ended = run_span(links, db, env)
    return ended - started


def run_span(
    links: Path, db: Path, env: dict[str, str], variant: str = BASELINE
) -> tuple[float, float]:
    """When `python -m pipeline run` started and exited, in unix seconds, so that the
    emulator's arrival times (on the same machine's clock) can be laid beside them. A `variant`
    other than the baseline runs it through `benchmarks.variants`."""
    command = ["pipeline"] if variant == BASELINE else ["benchmarks.variants", variant]
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", *command, "run", "--links", str(links), "--db", str(db)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return started, time.time()
