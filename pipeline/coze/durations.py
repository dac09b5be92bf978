"""When to poll a transcript job, from how long recent jobs ran.

A job is first polled when nearly every recent job of its kind has finished (the 97th
percentile of their run times), then at intervals that grow with how far it has overrun, but
never past the longest of them (their 98th percentile, a second over, since Coze's times are
whole seconds): a job that runs as long as recent ones is seen done within about a second,
which is what ends a batch, whose last jobs are the last submitted. Every poll is a billed call
(the free plan has 500), and seeing an earlier job done sooner does not end the batch sooner:
with 15-45 s jobs that is about 1.02 polls a job (1.3 when the first poll came at the 80th
percentile, 1.03 at the 95th; docs/BENCHMARKS.md), against 7 for a schedule that knows
nothing. Until a few run times are known (a new warehouse), a few probe jobs are polled from a
second on, backing off geometrically; what they teach schedules the others, and the first
polls still waiting follow what is learnt after them (`JobPoller`, `PollQueue`).

Once no submit is left, a job running four times longer than expected (at least two minutes) is
left for the next run, so normalizing and text analysis of the batch do not wait for its slowest
job.

Run times are Coze's own (`update_time - create_time` of a finished record), not when we saw
the job finish, so a late poll does not teach the schedule to wait longer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

KNOWN_ENOUGH = 3
WINDOW = 200
FIRST_POLL_QUANTILE = 0.97
LONGEST_QUANTILE = 0.98
FIRST_DELAY = 1.0
MIN_INTERVAL = 1.0
MAX_INTERVAL = 30.0
# With no run times known, each wait is this share of the job's age (a factor 1.6 backoff).
BLIND_GROWTH = 0.6
# Past the quantile: a step of this share of the typical run time, plus half the overrun.
STEP_SHARE = 0.15
OVERRUN_SHARE = 0.5
# A job still running this many times past the expected run time, and at least this long, is a
# straggler: the rest of the batch does not wait for it (the next run collects it).
STRAGGLER_FACTOR = 4.0
STRAGGLER_MIN_SECONDS = 120.0


class JobDurations:
    """The run times of the most recent finished jobs, and the poll schedule they imply."""

    def __init__(self, known: Iterable[float] = ()) -> None:
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._sorted: list[float] | None = None
        for seconds in known:
            self.add(seconds)

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def known(self) -> bool:
        return len(self) >= KNOWN_ENOUGH

    def add(self, seconds: float) -> None:
        if seconds >= 0:
            self._recent.append(seconds)
            self._sorted = None

    def quantile(self, share: float) -> float:
        if self._sorted is None:  # asked on every turn of the poller's loop, changed far less
            self._sorted = sorted(self._recent)
        ordered = self._sorted
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def first_poll_after(self) -> float:
        """Seconds after the submit."""
        if not self.known:
            return FIRST_DELAY
        return max(FIRST_DELAY, self.quantile(FIRST_POLL_QUANTILE))

    def next_poll_after(self, age: float) -> float:
        """Seconds from now, for a job still running `age` seconds after its submit."""
        if not self.known:
            return _bounded(age * BLIND_GROWTH)
        expected = self.quantile(FIRST_POLL_QUANTILE)
        if age < expected:
            return max(MIN_INTERVAL, expected - age)
        step = _bounded(STEP_SHARE * self.quantile(0.5) + OVERRUN_SHARE * (age - expected))
        until_longest = self.quantile(LONGEST_QUANTILE) + 1.0 - age
        if until_longest > 0:
            return max(MIN_INTERVAL, min(step, until_longest))
        return step

    def straggler_after(self) -> float | None:
        """Seconds after its submit past which a job is a straggler; None while too little is
        known to tell."""
        if not self.known:
            return None
        return max(STRAGGLER_MIN_SECONDS, STRAGGLER_FACTOR * self.quantile(FIRST_POLL_QUANTILE))


def _bounded(seconds: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, seconds))


def run_seconds(create_time: int | None, update_time: int | None) -> float | None:
    """A finished record's run time, when Coze gave both ends of it."""
    if create_time is None or update_time is None or update_time < create_time:
        return None
    return float(update_time - create_time)
