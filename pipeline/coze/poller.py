"""One poller for every running transcript job, fed while submits are still going on.

Each job is polled when `JobDurations` says it is likely done; the polls wait for the rate
behind submits and metadata calls for up to `lag` seconds past due, so polls fill the rate the
other calls leave, and the jobs that finish while the rest of a batch is being submitted cost
one poll each. Past that lag a poll goes first: no job waits long enough to be forgotten by
Coze (docs/coze.md, retention).

A paid job ends only by its record (`Success`, `Fail`) or by a job-ending error (its record is
gone): any other error is polled again later. A halt (account, workflow or endpoint) or a spent
call budget closes the client's limiter, which stops all calls of the step once those in flight
land; the jobs stay running for a later run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.coze.budget import BudgetSpent
from pipeline.coze.client import CozeClient
from pipeline.coze.durations import KNOWN_ENOUGH, JobDurations, run_seconds
from pipeline.coze.errors import CozeError, JobStateUnknownError, ServiceHaltError
from pipeline.coze.models import RunRecord
from pipeline.coze.poll_queue import PollQueue
from pipeline.coze.ratelimit import LimiterClosed

OnRecord = Callable[[RunRecord], None]
OnError = Callable[[str, CozeError], None]
POLL_LAG = 600.0
# While nothing is known, a job that is not a probe is first polled this long after its submit,
# unless the probes teach the schedule first (`JobPoller._learnt`).
UNTIL_KNOWN = 30.0
MAX_POLLS_WAITING = 512
# A job whose record says nothing usable is polled again after this, doubling each time: it
# may come back, but it does not hold the run (`run`), and the ledger ends it after 24 h.
UNKNOWN_STATE_FIRST_WAIT = 30.0
UNKNOWN_STATE_LONGEST_WAIT = 600.0


@dataclass(frozen=True, slots=True)
class _Job:
    execute_id: str
    workflow_id: str
    submitted: float
    """time.monotonic() of the submit (earlier than the poller's start for older jobs)."""


class JobPoller:
    def __init__(
        self,
        client: CozeClient,
        durations: JobDurations,
        *,
        on_record: OnRecord,
        on_error: OnError,
        lag: float = POLL_LAG,
    ) -> None:
        self.client = client
        self.durations = durations
        self.on_record = on_record
        self.on_error = on_error
        self.lag = lag
        self.polls = 0
        self.budget_spent = False
        self.halt: ServiceHaltError | None = None
        self.stragglers = 0
        self.unknown_state = 0
        """Jobs left for a later run because their records said nothing usable."""
        self._running: dict[str, _Job] = {}
        self._unknown_polls: dict[str, int] = {}
        self._seen_running: dict[str, float] = {}
        """When this run last saw each job still running (time.monotonic())."""
        self._due: PollQueue[_Job] = PollQueue()
        self._probes = 0
        self._closed_at: float | None = None
        self._changed = asyncio.Event()

    def add(self, execute_id: str, workflow_id: str, age: float = 0.0) -> None:
        """A job to poll, submitted `age` seconds ago. While no run times are known, only the
        first few jobs probe from a second on; the others wait for what the probes teach
        (`_first_after`), or `UNTIL_KNOWN` seconds if they teach nothing before."""
        now = time.monotonic()
        job = _Job(execute_id, workflow_id, now - age)
        self._running[execute_id] = job
        if not self.durations.known and self._probes < KNOWN_ENOUGH:
            self._probes += 1
            self._push(now + max(0.0, self.durations.first_poll_after() - age), job)
        else:
            self._due.add_first(job, job.submitted, now)
            self._changed.set()

    def close(self) -> None:
        """No job will be added any more: `run` returns once the known ones are done."""
        self._closed_at = time.monotonic()
        self._changed.set()

    def _first_after(self) -> float:
        """Seconds from its submit to a job's first poll, as known now: a job waiting for it
        follows what every run time learnt since its submit says (`PollQueue`)."""
        return self.durations.first_poll_after() if self.durations.known else UNTIL_KNOWN

    def _push(self, due: float, job: _Job) -> None:
        self._due.add_at(due, job)
        self._changed.set()

    async def _check(self, due: float, job: _Job) -> None:
        try:
            record = await self.client.get_run(job.workflow_id, job.execute_id, key=due + self.lag)
        except LimiterClosed:
            return
        except BudgetSpent:
            self.budget_spent = True
            self.client.limiter.close()
            return
        except ServiceHaltError as error:
            self.polls += 1
            self.halt = self.halt or error
            self.client.limiter.close()
            return
        except JobStateUnknownError as error:
            self.polls += 1
            self.on_error(job.execute_id, error)
            tries = self._unknown_polls.get(job.execute_id, 0)
            self._unknown_polls[job.execute_id] = tries + 1
            wait = min(UNKNOWN_STATE_LONGEST_WAIT, UNKNOWN_STATE_FIRST_WAIT * 2**tries)
            self._push(time.monotonic() + wait, job)
            return
        except CozeError as error:
            self.polls += 1
            self.on_error(job.execute_id, error)
            if error.scope == "job":
                self._running.pop(job.execute_id, None)
            else:
                self._again(job)
            return
        self.polls += 1
        self._unknown_polls.pop(job.execute_id, None)
        self.on_record(record)
        if record.finished:
            self._running.pop(job.execute_id, None)
            self._seen_running.pop(job.execute_id, None)
            seconds = run_seconds(record.create_time, record.update_time)
            if seconds is not None:
                was_known = self.durations.known
                self.durations.add(seconds)
                if self.durations.known and not was_known:
                    self._learnt()
        else:
            self._seen_running[job.execute_id] = time.monotonic()
            self._again(job)

    def _learnt(self) -> None:
        """The first run times are in: every job not polled yet is due when they say (and
        when the run times learnt later say, `_first_after`), sooner or later than the
        `UNTIL_KNOWN` guess, and so is every probe polled already. Later matters as much: while
        a batch's submits fill the rate, no probe is polled, so the rate is learnt only once
        they end, and a job left due at `UNTIL_KNOWN` would be polled at 30 s of a 15-45 s
        run, half of them twice (1.25 polls a job at 25 requests/s, docs/BENCHMARKS.md). A job
        whose record said nothing usable keeps its own wait."""
        now, first = time.monotonic(), self.durations.first_poll_after()
        self._due.retime(
            lambda due, job: (
                due if job.execute_id in self._unknown_polls else max(now, job.submitted + first)
            )
        )
        self._changed.set()

    def _only_left_behind(self, now: float) -> bool:
        """Every job still due is a straggler or one whose record said nothing usable: the
        batch does not wait for them. A straggler is a job this run saw still running past
        the straggler age, not merely an old one: a job an earlier run submitted is old when
        this run starts, and most likely done, so it is polled before it is left behind."""
        limit = self.durations.straggler_after()
        return all(
            job.execute_id in self._unknown_polls
            or (
                limit is not None
                and now - job.submitted > limit
                and self._seen_running.get(job.execute_id, -math.inf) - job.submitted > limit
            )
            for job in self._due.jobs()
        )

    def _again(self, job: _Job) -> None:
        now = time.monotonic()
        self._push(now + self.durations.next_poll_after(now - job.submitted), job)

    async def run(self, *, budget_seconds: float | None) -> None:
        """Poll until every job is done, or only stragglers are left after `close()` (see
        `JobDurations.straggler_after`), or `budget_seconds` after it, or a halt (see `halt`):
        the jobs then still running stay for a later run."""
        running: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # a callback's exception ends the polling
            self._changed.set()

        while True:
            self._changed.clear()
            if failures:
                raise failures[0]
            now = time.monotonic()
            end = (
                self._closed_at + budget_seconds
                if budget_seconds is not None and self._closed_at is not None
                else None
            )
            stop = self.client.limiter.closed or (end is not None and now >= end)
            first = self._first_after()
            while not stop and len(running) < MAX_POLLS_WAITING:
                if (ready := self._due.pop_due(now, first)) is None:
                    break
                due, job = ready
                task = asyncio.create_task(self._check(due, job))
                running.add(task)
                task.add_done_callback(finished)
            if not running and (stop or (self._closed_at is not None and not self._due)):
                break
            if not running and self._closed_at is not None and self._only_left_behind(now):
                left = [job.execute_id for job in self._due.jobs()]
                self.unknown_state = sum(key in self._unknown_polls for key in left)
                self.stragglers = len(left) - self.unknown_state
                break
            wake = [end] if end is not None and not stop else []
            next_due = self._due.next_due(first)
            if next_due is not None and not stop and len(running) < MAX_POLLS_WAITING:
                wake.append(next_due)
            timeout = max(0.0, min(wake) - now) if wake else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
