"""Deployment settings from the environment; paths default to the project's own folders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineSettings:
    db_path: Path
    links_dir: Path
    max_attempts: int
    poll_budget_seconds: float
    lock_wait_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        return cls(
            db_path=Path(env.get("PIPELINE_DB") or PROJECT_ROOT / "data" / "warehouse.duckdb"),
            links_dir=Path(env.get("PIPELINE_LINKS_DIR") or PROJECT_ROOT / "data" / "links"),
            max_attempts=int(env.get("PIPELINE_MAX_ATTEMPTS", "3")),
            poll_budget_seconds=float(env.get("PIPELINE_POLL_BUDGET", "900")),
            lock_wait_seconds=float(env.get("PIPELINE_LOCK_WAIT", "600")),
        )
