"""The code location `workspace.yaml` loads."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from pipeline.alerts.send import webhook_url
from pipeline.coze.auth import ENV_KEY, ENV_KEY_FILE
from pipeline.coze.config import CozeSettings
from pipeline.defs.alerts import failed_run_alert
from pipeline.defs.assets import coze_calls, links, normalized_tables
from pipeline.defs.automation import JOB_NAME, link_files_sensor, unfinished_work_schedule
from pipeline.defs.checks import warehouse_checks
from pipeline.defs.resources import CozeResource, LinkFilesResource, WarehouseResource
from pipeline.defs.snapshot import read_snapshot
from pipeline.defs.text import text_analysis
from pipeline.settings import PipelineSettings


def _secret(name: str, environ: Mapping[str, str]) -> dg.EnvVar | None:
    """An `EnvVar` keeps the token out of run config and event logs; absent means emulator."""
    return dg.EnvVar(name) if environ.get(name) else None


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    env = os.environ if environ is None else environ
    settings = PipelineSettings.from_env(env)
    coze_settings = CozeSettings.from_env(env)
    jwt = coze_settings.jwt_app is not None
    coze = CozeResource.from_settings(
        coze_settings,
        api_token=_secret("COZE_API_TOKEN", env),
        poll_token=_secret("COZE_POLL_TOKEN", env),
        jwt_private_key=_secret(ENV_KEY, env) if jwt else None,
        jwt_private_key_file=env.get(ENV_KEY_FILE) if jwt and not env.get(ENV_KEY) else None,
        poll_budget_seconds=settings.poll_budget_seconds,
        max_calls=settings.max_calls,
    )
    pipeline_job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        description="Read a batch of link files, call Coze, and refresh the warehouse.",
        tags=coze_settings.endpoint_tags,
    )
    return dg.Definitions(
        # One process per run, as `python -m pipeline run` has: every step writes the warehouse,
        # which takes one writer at a time, so steps in processes of their own gain nothing and
        # wait for, and warn about, each other's locks.
        executor=dg.in_process_executor,
        assets=[
            links,
            coze_calls,
            normalized_tables,
            text_analysis,
            read_snapshot,
        ],
        asset_checks=[warehouse_checks],
        jobs=[pipeline_job],
        sensors=[link_files_sensor, failed_run_alert(pipeline_job, webhook_url(env))],
        schedules=[unfinished_work_schedule],
        resources={
            "warehouse": WarehouseResource.of(
                settings.warehouse,
                lock_wait_seconds=settings.lock_wait_seconds,
                max_attempts=settings.max_attempts,
            ),
            "link_files": LinkFilesResource(directory=str(settings.links_dir)),
            "coze": coze,
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded when Dagster asks for the code location, not when the module is imported: reading
    the environment (and refusing a bad setting) is the loader's business, not an import's."""
    return build_definitions()
