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
# Past this many characters a URL is tracking junk that no web server takes (most refuse a few
# KB), so the canonical URL is sent instead when the link has one.
MAX_URL_CHARS = 2000


def metadata_input(item: WorkItem) -> str:
    """The share text as pasted, else the URL, else (a URL too long to send) the canonical one."""
    text = item.raw_text.strip()
    if 0 < len(text) <= MAX_SHARE_TEXT_CHARS:
        return text
    if len(item.url) > MAX_URL_CHARS and item.canonical_url:
        return item.canonical_url
    return item.url


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
