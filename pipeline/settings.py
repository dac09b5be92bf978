"""Deployment settings from the environment; paths default to the project's own folders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.envvars import env_float, env_int
from pipeline.storage.location import Warehouse, warehouse_from_env

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineSettings:
    db_path: Path
    warehouse: Warehouse
    """The file at `db_path`, or the DuckLake `PIPELINE_WAREHOUSE` names."""
    links_dir: Path
    max_attempts: int
    poll_budget_seconds: float
    lock_wait_seconds: float
    max_calls: int | None
    """API calls one run may send (PIPELINE_MAX_CALLS); None: no cap."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        db_path = Path(env.get("PIPELINE_DB") or PROJECT_ROOT / "data" / "warehouse.duckdb")
        return cls(
            db_path=db_path,
            warehouse=warehouse_from_env(env, db_path, PROJECT_ROOT / "data"),
            links_dir=Path(env.get("PIPELINE_LINKS_DIR") or PROJECT_ROOT / "data" / "links"),
            max_attempts=env_int(env, "PIPELINE_MAX_ATTEMPTS", 3, minimum=1),
            poll_budget_seconds=env_float(env, "PIPELINE_POLL_BUDGET", 900.0, minimum=0),
            lock_wait_seconds=env_float(env, "PIPELINE_LOCK_WAIT", 600.0, minimum=0),
            max_calls=env_int(env, "PIPELINE_MAX_CALLS", 0, minimum=1) or None,
        )
