"""The jobs waiting for a poll, in the order they are due: pure bookkeeping, no I/O, no clock.

A job not polled yet is due its first-poll delay after its submit, and that delay is read when
the queue is asked, not when the job was added (`JobPoller` passes the schedule's current one,
`JobDurations.first_poll_after`). So a job scheduled while few run times were known moves,
later or sooner, as soon as more are known, at no cost: all such jobs share one delay, so their
order is their submit order and one heap keyed by submit time holds them. On a new warehouse
the first run times learnt are a few probes', whose longest (37.5 s on average for 15-45 s jobs)
is short of the 97th percentile of all (44 s): jobs left on it were polled at 37.5 s, a
quarter of them twice (docs/BENCHMARKS.md). A job is never due before it was added (a job of an
earlier run, long done, waits behind the batch's calls like any other, `POLL_LAG`).

Every other poll (a probe's, a job's after a miss, one whose record said nothing usable) has its
own time, set when it was scheduled.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

J = TypeVar("J")


class PollQueue(Generic[J]):
    def __init__(self) -> None:
        self._first: list[tuple[float, float, int, J]] = []
        """(submitted, not before, order, job): jobs not polled yet, due `first_after` past
        their submit."""
        self._timed: list[tuple[float, int, J]] = []
        """(due, order, job): every other poll."""
        self._count = 0

    def __len__(self) -> int:
        return len(self._first) + len(self._timed)

    def jobs(self) -> Iterator[J]:
        yield from (job for *_, job in self._first)
        yield from (job for *_, job in self._timed)

    def dues(self, first_after: float) -> list[tuple[float, J]]:
        """Every waiting poll and when it is due, first polls being due `first_after` past
        their submit."""
        firsts = [(max(nb, submitted + first_after), job) for submitted, nb, _, job in self._first]
        return firsts + [(due, job) for due, _, job in self._timed]

    def add_first(self, job: J, submitted: float, not_before: float) -> None:
        """A job's first poll, due the first-poll delay after `submitted`, never before
        `not_before` (when it was added)."""
        self._count += 1
        heapq.heappush(self._first, (submitted, not_before, self._count, job))

    def add_at(self, due: float, job: J) -> None:
        self._count += 1
        heapq.heappush(self._timed, (due, self._count, job))

    def next_due(self, first_after: float) -> float | None:
        """When the earliest poll is due, first polls being due `first_after` past their
        submit; None when nothing waits."""
        heads = []
        if self._first:
            submitted, not_before, _, _ = self._first[0]
            heads.append(max(not_before, submitted + first_after))
        if self._timed:
            heads.append(self._timed[0][0])
        return min(heads) if heads else None

    def pop_due(self, now: float, first_after: float) -> tuple[float, J] | None:
        """The earliest poll due by `now` and when it was due, taken off the queue; None if
        none is."""
        due = self.next_due(first_after)
        if due is None or due > now:
            return None
        if self._timed and self._timed[0][0] == due:
            _, _, job = heapq.heappop(self._timed)
        else:
            _, _, _, job = heapq.heappop(self._first)
        return due, job

    def retime(self, due_of: Callable[[float, J], float]) -> None:
        """Give every poll with its own time a new one, `due_of(due, job)`; first polls follow
        the delay they are asked with."""
        self._timed = [(due_of(due, job), n, job) for due, n, job in self._timed]
        heapq.heapify(self._timed)
