"""When the work ahead of a batch's last jobs runs: the schedule alone, with a scripted wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from pipeline.steps.ahead import HORIZON_SECONDS, MIN_LEFT_SECONDS, round_due, work_ahead

CHECK = 0.01


def test_the_first_round_waits_for_the_horizon_and_needs_the_minimum_wait() -> None:
    assert not round_due(HORIZON_SECONDS + 1, None, CHECK), "too early: most jobs still run"
    assert round_due(HORIZON_SECONDS, None, CHECK)
    assert round_due(MIN_LEFT_SECONDS, None, CHECK)
    assert not round_due(MIN_LEFT_SECONDS - 0.1, None, CHECK), "the step would wait for it"


def test_the_second_round_comes_at_the_last_check_that_fits_twice_the_first() -> None:
    assert not round_due(12.0, 4.0, 2.0), "would fit later too"
    assert round_due(9.5, 4.0, 2.0)
    assert round_due(8.0, 4.0, 2.0)
    assert not round_due(7.9, 4.0, 2.0), "less than twice the first round's time left"
    assert round_due(MIN_LEFT_SECONDS + 1, 0.1, 2.0), "a quick first round: the minimum counts"


def rounds_at(lefts: list[float | None], work: Callable[[float | None], object]) -> int:
    """Rounds run when the checks find these waits left in turn, the jobs done after the last;
    `work` is given the wait left its round started at."""
    asked: list[float | None] = []

    async def schedule() -> int:
        done = asyncio.Event()

        def wait_left() -> float | None:
            if len(asked) == len(lefts) - 1:
                done.set()
            asked.append(lefts[len(asked)])
            return asked[-1]

        return await work_ahead(
            lambda: work(asked[-1]),
            wait_left,
            done,
            logging.getLogger("test"),
            check_every=CHECK,
        )

    return asyncio.run(schedule())


def test_two_rounds_one_within_the_horizon_one_at_the_last_moment() -> None:
    started_at: list[float | None] = []
    lefts: list[float | None] = [None, 30.0, 18.0, 12.0, 6.0, MIN_LEFT_SECONDS, 4.0, 3.0]
    assert rounds_at(lefts, started_at.append) == 2
    assert started_at == [18.0, MIN_LEFT_SECONDS]


def test_no_round_while_the_wait_is_unknown_or_once_the_jobs_are_done() -> None:
    calls: list[float | None] = []
    assert rounds_at([None, None, 10.0], calls.append) == 0
    assert calls == [], "the last check came with the jobs done: the step ends at once"


def test_a_failing_round_ends_the_rounds_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def work(left: float | None) -> None:
        raise RuntimeError("warehouse busy\nsecond line")

    with caplog.at_level(logging.WARNING):
        assert rounds_at([10.0, 6.0, 5.0, 4.0], work) == 0
    assert "left to the steps after: warehouse busy" in caplog.text
    assert "second line" not in caplog.text
