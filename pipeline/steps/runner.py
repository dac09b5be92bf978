"""Shared machinery of the Coze step: a stop signal, bounded workers, periodic commits and
progress lines.

A `ServiceHaltError` (account, workflow or endpoint) is not an item's failure but the
deployment's, a spent call budget is nobody's, and an answer that neither the spool nor DuckDB
would store is the disk's: each closes the client's limiter, so no more calls start, lets the
calls in flight land (their answers may be paid jobs), then ends the step, leaving every
unfinished video pending for the next run. The storage failure ends it with the one line that
names what could not be stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.coze.errors import ServiceHaltError
from pipeline.coze.ratelimit import RateLimiter
from pipeline.storage.recorder import Recorder, StorageError

T = TypeVar("T")

FLUSH_EVERY_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 5.0
# While nothing moves (jobs running at Coze for minutes), a line this often says the step lives.
QUIET_PROGRESS_SECONDS = 60.0


@dataclass
class StepProgress:
    name: str
    total: int
    done: int = 0
    failed: int = 0
    uncertain: int = 0
    budget_spent: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def state(self) -> tuple[int, int, int, int, bool]:
        """What the line says, but the time: a line is news only when this changed."""
        return self.total, self.done, self.failed, self.uncertain, self.budget_spent

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        uncertain = f", {self.uncertain} uncertain" if self.uncertain else ""
        return (
            f"{self.name}: {self.done}/{self.total} done, {self.failed} failed{uncertain}, "
            f"{elapsed:.0f}s elapsed"
        )


class StopSignal:
    """Set by the first halt, spent budget or refused answer; it closes the limiter, so no call
    starts any more and the calls in flight land."""

    def __init__(self, recorder: Recorder, limiter: RateLimiter) -> None:
        self.halt: ServiceHaltError | None = None
        self.budget_spent = False
        self.recorder = recorder
        self.limiter = limiter

    @property
    def stopped(self) -> bool:
        return self.limiter.closed or self.recorder.refused

    def stop(self) -> None:
        self.limiter.close()


@contextlib.asynccontextmanager
async def committing(
    recorder: Recorder,
    progress: Sequence[StepProgress],
    log: logging.Logger | logging.LoggerAdapter,
    rate: Callable[[], str],
):
    """Commit spooled answers every few seconds and log progress while the step works: the parts
    that moved, or all of them once a quiet minute has passed, so a batch waiting on its jobs
    does not repeat the same lines every few seconds.

    The last commit names any answer still unstored; if it stored them all, the step still ends
    in error, since it stopped early (`StorageError`)."""

    def report(parts: Sequence[StepProgress]) -> None:
        for part in parts:
            log.info(part.line())
        log.info(rate())

    async def tick() -> None:
        last_progress = said_at = time.monotonic()
        said: dict[str, tuple[int, int, int, int, bool]] = {}
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECONDS)
            await asyncio.to_thread(recorder.flush, wait=False)
            now = time.monotonic()
            if now - last_progress < PROGRESS_EVERY_SECONDS:
                continue
            last_progress = now
            quiet = now - said_at >= QUIET_PROGRESS_SECONDS
            news = [part for part in progress if quiet or said.get(part.name) != part.state]
            if news:
                said |= {part.name: part.state for part in news}
                said_at = now
                # Each line is an event stored in Dagster's database: a few ms that would
                # hold back every start the event loop has due meanwhile.
                await asyncio.to_thread(report, news)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(recorder.flush, wait=True)
        report(progress)
        if recorder.refused:
            raise StorageError(
                "the Coze step stopped early: answers could not be stored as they arrived "
                f"(the spool in {recorder.spool_dir} could not be written and the warehouse "
                "refused them); every answer received is now in the warehouse and unfinished "
                "videos stay pending: free disk space, then run again"
            )


async def for_each(
    items: Iterable[T],
    workers: int,
    work: Callable[[T], Awaitable[None]],
    stop: StopSignal | None = None,
) -> None:
    """Run `work` over items with at most `workers` in flight, without a task per item. Each
    worker draws its next item only when it is free, so a lazily read work list
    (`pipeline.reads.work.WorkList`) is never held whole."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # shared: the next item goes to whichever worker is free
            if stop is not None and stop.stopped:
                return
            await work(item)

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))
