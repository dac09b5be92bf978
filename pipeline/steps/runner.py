"""Shared machinery of the API steps: bounded workers, periodic commits, progress lines.

An `AuthError` is not an item's failure but the deployment's: it ends the step (and the run)
with Coze's message, leaving every unfinished video pending for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.coze.errors import AuthError, CozeError
from pipeline.coze.models import MetadataResult, Submission
from pipeline.warehouse.queries import WorkItem
from pipeline.warehouse.raw import Kind, row_from_error, row_from_result
from pipeline.warehouse.recorder import Recorder

T = TypeVar("T")

FLUSH_EVERY_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 5.0


@dataclass
class StepProgress:
    name: str
    total: int
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        return (
            f"{self.name}: {self.done}/{self.total} done, {self.failed} failed, "
            f"{elapsed:.0f}s elapsed"
        )


@contextlib.asynccontextmanager
async def committing(
    recorder: Recorder, progress: StepProgress, log: logging.Logger | logging.LoggerAdapter
):
    """Commit spooled answers every few seconds and log progress while the step works."""

    async def tick() -> None:
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECONDS)
            await asyncio.to_thread(recorder.flush, wait=False)
            if time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS:
                log.info(progress.line())
                last_progress = time.monotonic()

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(recorder.flush, wait=True)
        log.info(progress.line())


async def for_each(items: Sequence[T], workers: int, work: Callable[[T], Awaitable[None]]) -> None:
    """Run `work` over items with at most `workers` in flight, without a task per item."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await work(item)

    await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(items))))))


async def call_each(
    items: Sequence[WorkItem],
    *,
    kind: Kind,
    label: str,
    workflow_id: str,
    input_of: Callable[[WorkItem], str],
    call: Callable[[str], Awaitable[MetadataResult | Submission]],
    recorder: Recorder,
    workers: int,
    log: logging.Logger | logging.LoggerAdapter,
) -> StepProgress:
    """One call per item; each answer, or the error that stands for it, is spooled at once."""
    progress = StepProgress(label, len(items))

    async def one(item: WorkItem) -> None:
        text = input_of(item)
        try:
            result = await call(text)
        except AuthError:
            raise
        except CozeError as error:
            recorder.record(row_from_error(kind, item.video_key, workflow_id, text, error))
            progress.failed += 1
            log.warning("%s failed for %s: %s", label, item.video_key, error)
        else:
            recorder.record(row_from_result(kind, item.video_key, result))
        progress.done += 1

    async with committing(recorder, progress, log):
        await for_each(items, workers, one)
    return progress
