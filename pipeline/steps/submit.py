"""Step: submit transcript jobs; each accepted execute_id is on disk before the next call."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.coze.client import CozeClient
from pipeline.coze.errors import AuthError, CozeError
from pipeline.steps.runner import StepProgress, committing, for_each
from pipeline.warehouse.queries import WorkItem
from pipeline.warehouse.raw import row_from_error, row_from_result
from pipeline.warehouse.recorder import Recorder


def transcript_input(item: WorkItem) -> str:
    """The transcript workflow takes a video page URL (the seed sends one); tracking-free."""
    return item.canonical_url or item.url


async def submit_transcripts(
    client: CozeClient,
    recorder: Recorder,
    items: Sequence[WorkItem],
    *,
    workers: int,
    log: logging.Logger | logging.LoggerAdapter,
) -> StepProgress:
    progress = StepProgress("transcript submits", len(items))
    workflow_id = client.settings.transcript_workflow_id

    async def one(item: WorkItem) -> None:
        url = transcript_input(item)
        try:
            submission = await client.submit_transcript(url)
        except AuthError:
            raise
        except CozeError as error:
            recorder.record(row_from_error("submit", item.video_key, workflow_id, url, error))
            progress.failed += 1
            log.warning("transcript submit failed for %s: %s", item.video_key, error)
        else:
            recorder.record(row_from_result("submit", item.video_key, submission))
        progress.done += 1

    async with committing(recorder, progress, log):
        await for_each(items, workers, one)
    return progress
