"""The code location `workspace.yaml` loads."""

from __future__ import annotations

import dagster as dg

from pipeline.defs.alerts import failed_run_alert
from pipeline.defs.assets import coze_calls, links, normalized_tables
from pipeline.defs.automation import JOB_NAME, link_files_sensor, unfinished_work_schedule
from pipeline.defs.checks import warehouse_checks
from pipeline.defs.resources import (
    CozeResource,
    DictionaryResource,
    LinkFilesResource,
    MediaResource,
    WarehouseResource,
)
from pipeline.defs.snapshot import read_snapshot
from pipeline.defs.text import text_analysis
from pipeline.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    pipeline_job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        description="Read a batch of link files, call Coze, and refresh the warehouse.",
        tags=settings.coze.endpoint_tags,
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
        sensors=[link_files_sensor, failed_run_alert(pipeline_job, settings.alert_webhook)],
        schedules=[unfinished_work_schedule],
        resources={
            "warehouse": WarehouseResource.of(settings),
            "link_files": LinkFilesResource.of(settings),
            "coze": CozeResource.of(settings),
            "dictionary": DictionaryResource.of(settings),
            "media": MediaResource.of(settings),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded when Dagster asks for the code location, not when the module is imported: reading
    the environment (and refusing a bad setting) is the loader's business, not an import's."""
    return build_definitions(Settings.from_env())
