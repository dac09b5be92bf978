"""Runs nobody has to start: new link files, and hourly pickup of unfinished work.

Neither starts a run while Coze has halted the account or the workflow (see
`pipeline.steps.halts`): a dead account is not hammered every 30 s or every hour.
"""

import json
from pathlib import Path

import dagster as dg

from pipeline.defs.partitions import batches
from pipeline.defs.resources import LinkFilesResource, WarehouseResource
from pipeline.reads.work import unfinished_batches
from pipeline.steps.halts import active_halt
from pipeline.storage.db import WarehouseLockedError, warehouse_exists

JOB_NAME = "pipeline_job"


def _signature(path: Path) -> str:
    """Size and mtime: cheap to take every 30 s, even for a million-line file."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _halted(warehouse: WarehouseResource) -> dg.SkipReason | None:
    """A skip while a Coze halt's wait runs (a busy warehouse says nothing: check next tick)."""
    if not warehouse_exists(warehouse.location):
        return None
    try:
        with warehouse.connect(read_only=True, wait=False) as conn:
            halt = active_halt(conn)
    except WarehouseLockedError:
        return None
    if halt is None:
        return None
    until, line = halt
    return dg.SkipReason(
        f"Coze halted the last run; waiting until {until:%Y-%m-%d %H:%M} UTC: {line}"
    )


@dg.sensor(
    job_name=JOB_NAME, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def link_files_sensor(
    context: dg.SensorEvaluationContext,
    link_files: LinkFilesResource,
    warehouse: WarehouseResource,
) -> dg.SensorResult | dg.SkipReason:
    """Add each new link file as a batch and run it; run a batch again when its file changes;
    remove the batch of a file that is gone (its rows stay in the warehouse).

    While Coze is halted the cursor stays put, so the files are run once the wait is over."""
    if skip := _halted(warehouse):
        return skip
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = {path.name: _signature(path) for path in link_files.files()}
    known = set(context.instance.get_dynamic_partitions(batches.name))
    new_batches = [name for name in current if name not in known]
    gone = sorted(key for key in known if not link_files.exists(key))
    changed = [name for name, sig in current.items() if seen.get(name) != sig]
    requests = [batches.build_add_request(new_batches)] if new_batches else []
    if gone:
        context.log.info(f"removing the batches of deleted link files: {', '.join(gone)}")
        requests.append(batches.build_delete_request(gone))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=name, run_key=f"{name}:{current[name]}") for name in changed
        ],
        dynamic_partitions_requests=requests,
        cursor=json.dumps(current, sort_keys=True),
    )


@dg.schedule(
    job_name=JOB_NAME, cron_schedule="0 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def unfinished_work_schedule(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """Re-poll running transcript jobs and retry retryable failures, batch by batch."""
    if not warehouse_exists(warehouse.location):
        return dg.SkipReason("no warehouse yet")
    if skip := _halted(warehouse):
        return skip
    try:
        with warehouse.connect(read_only=True, wait=False) as conn:
            pending = unfinished_batches(conn)
    except WarehouseLockedError:
        return dg.SkipReason("warehouse is being written by a run; next hour")
    if not pending:
        return dg.SkipReason("nothing unfinished")
    stamp = context.scheduled_execution_time.isoformat()
    return [dg.RunRequest(partition_key=b, run_key=f"{b}:{stamp}") for b in pending]
