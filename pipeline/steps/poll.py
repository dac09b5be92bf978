"""Step: poll every running transcript job until it ends or the step's time budget does."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.coze.client import CozeClient
from pipeline.coze.errors import CozeError
from pipeline.coze.models import RunRecord
from pipeline.coze.poller import JobPoller
from pipeline.steps.runner import StepProgress, committing
from pipeline.warehouse.queries import RunningJob
from pipeline.warehouse.raw import row_from_error, row_from_result
from pipeline.warehouse.recorder import Recorder


async def poll_jobs(
    client: CozeClient,
    recorder: Recorder,
    jobs: Sequence[RunningJob],
    *,
    budget_seconds: float,
    log: logging.Logger | logging.LoggerAdapter,
) -> StepProgress:
    """Jobs still running when the time or call budget ends, or when Coze halts the run, stay
    `Running` for the next run: never resubmitted."""
    progress = StepProgress("transcript polls", len(jobs))
    video_of = {job.execute_id: job.video_key for job in jobs}
    workflow_of = {job.execute_id: job.workflow_id for job in jobs}

    def on_record(record: RunRecord) -> None:
        recorder.record(row_from_result("poll", video_of[record.execute_id], record))
        if record.status != "Running":
            progress.done += 1
            if record.status == "Fail":
                progress.failed += 1

    def on_error(execute_id: str, error: CozeError) -> None:
        recorder.record(
            row_from_error(
                "poll",
                video_of[execute_id],
                workflow_of[execute_id],
                execute_id,
                error,
                execute_id=execute_id,
            )
        )
        if error.scope == "job":
            progress.done += 1
            progress.failed += 1
            log.warning("job %s ended without a transcript: %s", execute_id, error)
        else:
            log.warning("poll of %s failed, polled again later: %s", execute_id, error)

    async with committing(recorder, progress, log):
        summary = await JobPoller(client).poll(
            workflow_of,
            deadline=budget_seconds,
            on_record=on_record,
            on_error=on_error,
            submitted_ago={job.execute_id: job.age_seconds for job in jobs},
        )
    progress.budget_spent = summary.budget_spent
    return progress
