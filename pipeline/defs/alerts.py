"""The alert for runs the daemon sees: launched from the UI, the schedule, the sensor or a
backfill. `python -m pipeline run` alerts its own runs (no daemon need be running), through the
same `pipeline.alerts.once`, whose state keeps a run seen by both to one message."""

from __future__ import annotations

import dagster as dg

from pipeline.alerts.once import alert_failed_run
from pipeline.alerts.send import WEBHOOK_VAR


def failed_run_alert(
    job: dg.UnresolvedAssetJobDefinition, webhook: str | None
) -> dg.SensorDefinition:
    """A run-failure sensor on `job` posting to `webhook` (PIPELINE_ALERT_WEBHOOK), if set."""

    @dg.run_failure_sensor(
        name="failed_run_alert",
        monitored_jobs=[job],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Posts a halted or failed run to {WEBHOOK_VAR}, once per cause until a run "
        "succeeds.",
    )
    def alert(context: dg.RunFailureSensorContext) -> None:
        if webhook is None:
            context.log.info(f"{WEBHOOK_VAR} is not set: no alert")
            return
        outcome = alert_failed_run(context.instance, context.dagster_run.run_id, webhook)
        (context.log.warning if outcome.failed else context.log.info)(outcome.line)

    return alert
