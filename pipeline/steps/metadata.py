"""Step: resolve video metadata through the synchronous metadata workflow."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.coze.client import CozeClient
from pipeline.steps.runner import StepProgress, call_each
from pipeline.warehouse.queries import WorkItem
from pipeline.warehouse.recorder import Recorder

# The seed sends the share text as pasted; the workflow also accepts a bare URL. Past this many
# characters a "share text" is not one (pasted notes, a garbage line), so only its URL is sent.
MAX_SHARE_TEXT_CHARS = 1000


def metadata_input(item: WorkItem) -> str:
    text = item.raw_text.strip()
    return text if 0 < len(text) <= MAX_SHARE_TEXT_CHARS else item.url


async def fetch_metadata(
    client: CozeClient,
    recorder: Recorder,
    items: Sequence[WorkItem],
    *,
    workers: int,
    log: logging.Logger | logging.LoggerAdapter,
) -> StepProgress:
    return await call_each(
        items,
        kind="metadata",
        label="metadata",
        workflow_id=client.settings.metadata_workflow_id,
        input_of=metadata_input,
        call=client.run_metadata,
        recorder=recorder,
        workers=workers,
        log=log,
    )
