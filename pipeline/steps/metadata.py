"""Step: resolve video metadata through the synchronous metadata workflow."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.coze.client import CozeClient
from pipeline.coze.errors import AuthError, CozeError
from pipeline.steps.runner import StepProgress, committing, for_each
from pipeline.warehouse.queries import WorkItem
from pipeline.warehouse.raw import row_from_error, row_from_result
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
    progress = StepProgress("metadata", len(items))
    workflow_id = client.settings.metadata_workflow_id

    async def one(item: WorkItem) -> None:
        text = metadata_input(item)
        try:
            result = await client.run_metadata(text)
        except AuthError:
            raise
        except CozeError as error:
            recorder.record(row_from_error("metadata", item.video_key, workflow_id, text, error))
            progress.failed += 1
            log.warning("metadata failed for %s: %s", item.video_key, error)
        else:
            recorder.record(row_from_result("metadata", item.video_key, result))
        progress.done += 1

    async with committing(recorder, progress, log):
        await for_each(items, workers, one)
    return progress
