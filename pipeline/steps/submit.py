"""Step: submit transcript jobs; each accepted execute_id is on disk before the next call."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.coze.client import CozeClient
from pipeline.steps.runner import StepProgress, call_each
from pipeline.warehouse.queries import WorkItem
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
    return await call_each(
        items,
        kind="submit",
        label="transcript submits",
        workflow_id=client.settings.transcript_workflow_id,
        input_of=transcript_input,
        call=client.submit_transcript,
        recorder=recorder,
        workers=workers,
        log=log,
    )
