"""The code location `workspace.yaml` loads."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from pipeline.defs.assets import (
    links,
    metadata_responses,
    normalized_tables,
    transcript_jobs,
    transcript_responses,
)
from pipeline.defs.automation import JOB_NAME, link_files_sensor, unfinished_work_schedule
from pipeline.defs.checks import ALL_CHECKS
from pipeline.defs.resources import CozeResource, LinkFilesResource, WarehouseResource
from pipeline.defs.text import text_analysis
from pipeline.settings import PipelineSettings


def _secret(name: str, environ: Mapping[str, str]) -> dg.EnvVar | None:
    """An `EnvVar` keeps the token out of run config and event logs; absent means emulator."""
    return dg.EnvVar(name) if environ.get(name) else None


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    env = os.environ if environ is None else environ
    settings = PipelineSettings.from_env(env)
    coze_optional = {
        "metadata_workflow_id": env.get("COZE_METADATA_WORKFLOW_ID"),
        "transcript_workflow_id": env.get("COZE_TRANSCRIPT_WORKFLOW_ID"),
        "rps": float(env["COZE_RPS"]) if env.get("COZE_RPS") else None,
        "max_in_flight": int(env["COZE_MAX_IN_FLIGHT"]) if env.get("COZE_MAX_IN_FLIGHT") else None,
        "max_attempts": int(env["COZE_MAX_ATTEMPTS"]) if env.get("COZE_MAX_ATTEMPTS") else None,
    }
    coze = CozeResource(
        base_url=env.get("COZE_BASE_URL") or "https://api.coze.cn",
        api_token=_secret("COZE_API_TOKEN", env),
        poll_token=_secret("COZE_POLL_TOKEN", env),
        poll_budget_seconds=settings.poll_budget_seconds,
        **{k: v for k, v in coze_optional.items() if v is not None},
    )
    pipeline_job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        description="Read a batch of link files, call Coze, and refresh the warehouse.",
    )
    return dg.Definitions(
        assets=[
            links,
            metadata_responses,
            transcript_jobs,
            transcript_responses,
            normalized_tables,
            text_analysis,
        ],
        asset_checks=ALL_CHECKS,
        jobs=[pipeline_job],
        sensors=[link_files_sensor],
        schedules=[unfinished_work_schedule],
        resources={
            "warehouse": WarehouseResource(
                path=str(settings.db_path),
                lock_wait_seconds=settings.lock_wait_seconds,
                max_attempts=settings.max_attempts,
            ),
            "link_files": LinkFilesResource(directory=str(settings.links_dir)),
            "coze": coze,
        },
    )


defs = build_definitions()
