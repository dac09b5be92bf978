"""One poller for all in-flight transcript jobs, each on its own growing interval.

A job is checked soon after submit, then less and less often up to a cap, so a thousand
pending jobs cost a few polls each instead of one per second each; every poll still goes
through the client's shared rate limiter.

A paid job ends only by its record (`Success`, `Fail`) or by a job-ending error (its record is
gone): any other error is polled again later. A halt (account, workflow or endpoint) or a spent call
budget stops all polling once the polls in flight land; the jobs stay running for a later run.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pipeline.coze.budget import BudgetSpent
from pipeline.coze.client import CozeClient
from pipeline.coze.errors import CozeError, ServiceHaltError
from pipeline.coze.models import RunRecord

OnRecord = Callable[[RunRecord], Awaitable[None] | None]
OnError = Callable[[str, CozeError], Awaitable[None] | None]


@dataclass
class PollSummary:
    polls: int = 0
    finished: int = 0
    budget_spent: bool = False


def next_interval(interval: float, factor: float, cap: float) -> float:
    return min(cap, interval * factor)


async def _call(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


class JobPoller:
    def __init__(
        self,
        client: CozeClient,
        *,
        first_delay: float = 1.0,
        max_interval: float = 30.0,
        factor: float = 1.6,
    ) -> None:
        self.client = client
        self.first_delay = first_delay
        self.max_interval = max_interval
        self.factor = factor

    async def poll(
        self,
        jobs: Mapping[str, str],
        *,
        deadline: float | None,
        on_record: OnRecord,
        on_error: OnError,
        submitted_ago: Mapping[str, float] | None = None,
    ) -> PollSummary:
        """Poll `jobs` (execute_id → workflow_id) until every one is terminal or `deadline`
        seconds pass; one budget and one schedule for all of them, whatever their workflow.

        `submitted_ago` lets jobs submitted long ago be checked at once rather than after
        `first_delay`.
        """
        started = time.monotonic()
        end = started + deadline if deadline is not None else float("inf")
        ages = submitted_ago or {}
        due: list[tuple[float, str, float]] = []
        for execute_id in jobs:
            wait = max(0.0, self.first_delay - ages.get(execute_id, 0.0))
            heapq.heappush(due, (started + wait, execute_id, self.first_delay))
        summary = PollSummary()
        workers = max(1, self.client.settings.max_in_flight * 2)
        running: set[asyncio.Task[None]] = set()
        halt: list[ServiceHaltError] = []

        async def check(execute_id: str, interval: float) -> None:
            summary.polls += 1
            try:
                record = await self.client.get_run(jobs[execute_id], execute_id)
            except ServiceHaltError as error:
                halt.append(error)
                return
            except BudgetSpent:
                summary.budget_spent = True
                return
            except CozeError as error:
                await _call(on_error, execute_id, error)
                if error.scope != "job":
                    later = next_interval(interval, self.factor, self.max_interval)
                    heapq.heappush(due, (time.monotonic() + later, execute_id, later))
                return
            await _call(on_record, record)
            if record.finished:
                summary.finished += 1
            else:
                later = next_interval(interval, self.factor, self.max_interval)
                heapq.heappush(due, (time.monotonic() + later, execute_id, later))

        def stopped() -> bool:
            return bool(halt) or summary.budget_spent

        while (due and not stopped()) or running:
            now = time.monotonic()
            while due and due[0][0] <= now and len(running) < workers and now < end:
                if stopped():
                    break
                _, execute_id, interval = heapq.heappop(due)
                task = asyncio.create_task(check(execute_id, interval))
                running.add(task)
                task.add_done_callback(running.discard)
            if now >= end and not running:
                break
            wake = (due[0][0] - now) if due and len(running) < workers else None
            if running:
                timeout = None if wake is None else max(0.0, wake)
                if now >= end or stopped():
                    timeout = None
                done, _ = await asyncio.wait(
                    running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    task.result()  # a callback's exception ends the poll
            elif due:
                await asyncio.sleep(max(0.0, min(due[0][0], end) - now))
        if halt:
            raise halt[0]
        return summary
