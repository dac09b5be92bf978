"""The poll schedule from recent run times: pure arithmetic, checked against a simulated
population of 15-45 s jobs (the service's spread, docs/coze.md)."""

from __future__ import annotations

import random

from pipeline.coze.durations import (
    FIRST_DELAY,
    KNOWN_ENOUGH,
    LONGEST_QUANTILE,
    MAX_INTERVAL,
    JobDurations,
    run_seconds,
)


def polls_and_seen_at(duration: float, schedule: JobDurations) -> tuple[int, float]:
    """The polls a job of `duration` seconds costs when each poll lands exactly when due, and
    the age at which one sees it done."""
    age, polls = schedule.first_poll_after(), 1
    while age < duration:
        age += schedule.next_poll_after(age)
        polls += 1
    return polls, age


def polls_for(duration: float, schedule: JobDurations) -> int:
    return polls_and_seen_at(duration, schedule)[0]


def test_known_run_times_cost_at_most_1_15_polls_a_job() -> None:
    """Every poll is a billed call: issue 35's bound (the first poll at the 80th percentile
    cost 1.33 here)."""
    rng = random.Random(7)
    schedule = JobDurations(rng.uniform(15, 45) for _ in range(200))
    jobs = [rng.uniform(15, 45) for _ in range(5000)]
    mean = sum(polls_for(d, schedule) for d in jobs) / len(jobs)
    assert mean <= 1.15, mean


def test_a_job_as_long_as_recent_ones_is_seen_done_a_second_after_the_longest() -> None:
    """The last jobs of a batch end it: seeing them late makes the whole batch late."""
    rng = random.Random(11)
    schedule = JobDurations(rng.uniform(15, 45) for _ in range(200))
    longest = schedule.quantile(LONGEST_QUANTILE)
    for duration in (longest - 3.0, longest - 0.5, longest):
        polls, seen_at = polls_and_seen_at(duration, schedule)
        assert seen_at <= longest + 1.0 and polls <= 3, (duration, seen_at, polls)
    assert polls_and_seen_at(longest + 30.0, schedule)[1] > longest + 30.0


def test_nothing_known_starts_at_a_second_and_backs_off_to_a_cap() -> None:
    schedule = JobDurations([30.0] * (KNOWN_ENOUGH - 1))
    assert schedule.first_poll_after() == FIRST_DELAY
    waits = [schedule.next_poll_after(age) for age in (1, 10, 40, 1000)]
    assert waits == sorted(waits) and waits[-1] == MAX_INTERVAL
    assert polls_for(31.0, schedule) <= 8


def test_first_poll_waits_for_nearly_every_recent_job_then_steps_grow_with_the_overrun() -> None:
    schedule = JobDurations([float(s) for s in range(10, 51)])  # 10..50 s
    assert schedule.first_poll_after() == 49.0  # the 97th percentile
    assert schedule.next_poll_after(20.0) == 29.0  # still before the expected end
    assert schedule.next_poll_after(49.0) < schedule.next_poll_after(80.0) <= MAX_INTERVAL


def test_only_recent_run_times_count_and_bad_ones_are_ignored() -> None:
    schedule = JobDurations([100.0] * 200)
    for _ in range(200):
        schedule.add(20.0)
    schedule.add(-5.0)
    assert len(schedule) == 200 and schedule.quantile(0.99) == 20.0
    assert run_seconds(100, 131) == 31.0
    assert run_seconds(None, 131) is None and run_seconds(131, 100) is None


def test_a_straggler_is_four_times_the_expected_run_time_and_at_least_two_minutes() -> None:
    assert JobDurations([30.0] * (KNOWN_ENOUGH - 1)).straggler_after() is None
    assert JobDurations([60.0] * 10).straggler_after() == 240.0
    assert JobDurations([1.0] * 10).straggler_after() == 120.0
