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
