"""Shared machinery of the API steps: bounded workers, periodic commits, progress lines.

A `ServiceHaltError` (account, workflow or endpoint) is not an item's failure but the
deployment's, a spent call budget is nobody's, and an answer that neither the spool nor DuckDB would store is
the disk's: each stops the step from starting more calls, lets the calls in flight land (their
answers may be paid jobs), then ends the step, leaving every unfinished video pending for the
next run. The storage failure ends it with the one line that names what could not be stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.coze.budget import BudgetSpent
from pipeline.coze.errors import CozeError, ServiceHaltError
from pipeline.coze.models import MetadataResult, Submission
from pipeline.warehouse.queries import WorkItem
from pipeline.warehouse.raw import Kind, row_from_error, row_from_result
from pipeline.warehouse.recorder import AnswersNotStoredError, Recorder, StorageError

T = TypeVar("T")

FLUSH_EVERY_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 5.0


@dataclass
class StepProgress:
    name: str
    total: int
    done: int = 0
    failed: int = 0
    uncertain: int = 0
    budget_spent: bool = False
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        uncertain = f", {self.uncertain} uncertain" if self.uncertain else ""
        return (
            f"{self.name}: {self.done}/{self.total} done, {self.failed} failed{uncertain}, "
            f"{elapsed:.0f}s elapsed"
        )


class StopSignal:
    """Set by the first halt, spent budget or refused answer; workers stop taking items,
    in-flight ones land."""

    def __init__(self, recorder: Recorder) -> None:
        self.halt: ServiceHaltError | None = None
        self.budget_spent = False
        self.recorder = recorder

    @property
    def stopped(self) -> bool:
        return self.halt is not None or self.budget_spent or self.recorder.refused

    def raise_halt(self) -> None:
        if self.halt is not None:
            raise self.halt


@contextlib.asynccontextmanager
async def committing(
    recorder: Recorder, progress: StepProgress, log: logging.Logger | logging.LoggerAdapter
):
    """Commit spooled answers every few seconds and log progress while the step works.

    The last commit names any answer still unstored; if it stored them all, the step still ends
    in error, since it stopped early (`StorageError`)."""

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
        if recorder.refused:
            raise StorageError(
                f"{progress.name} stopped early: answers could not be stored as they arrived "
                f"(the spool in {recorder.spool_dir} could not be written and the warehouse "
                "refused them); every answer received is now in the warehouse and unfinished "
                "videos stay pending: free disk space, then run again"
            )


async def for_each(
    items: Sequence[T],
    workers: int,
    work: Callable[[T], Awaitable[None]],
    stop: StopSignal | None = None,
) -> None:
    """Run `work` over items with at most `workers` in flight, without a task per item."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while stop is None or not stop.stopped:
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
    stop = StopSignal(recorder)

    async def one(item: WorkItem) -> None:
        text = input_of(item)
        try:
            result = await call(text)
        except ServiceHaltError as error:
            if stop.halt is None:
                stop.halt = error
                log.error(str(error))
            return
        except BudgetSpent as spent:
            if not stop.budget_spent:
                stop.budget_spent = progress.budget_spent = True
                log.warning(str(spent))
            return
        except CozeError as error:
            row = row_from_error(kind, item.video_key, workflow_id, text, error)
            if row.outcome == "uncertain":
                progress.uncertain += 1
            else:
                progress.failed += 1
            log.warning("%s failed for %s: %s", label, item.video_key, error)
        else:
            row = row_from_result(kind, item.video_key, result)
        progress.done += 1
        try:
            recorder.record(row)
        except AnswersNotStoredError as error:
            log.error("%s: starting no more calls: %s", label, error)

    async with committing(recorder, progress, log):
        await for_each(items, workers, one, stop)
    stop.raise_halt()
    return progress
