"""The limiter alone, on the event loop: order by key, room in flight from the latency, and a
close that starts nothing more."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.coze.ratelimit import MIN_IN_FLIGHT, LimiterClosed, RateLimiter, next_start


def test_waiting_requests_start_in_key_order() -> None:
    async def scenario() -> list[str]:
        limiter = RateLimiter(rps=50)
        started: list[str] = []

        async def request(name: str, key: float) -> None:
            async with limiter.slot(key):
                started.append(name)

        async with limiter.slot(0.0):  # the rate's first turn: the others must wait
            tasks = [
                asyncio.create_task(request(name, key))
                for name, key in [("poll", 900.0), ("metadata", 10.0), ("submit", -50.0)]
            ]
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return started

    assert asyncio.run(scenario()) == ["submit", "metadata", "poll"]


def test_room_in_flight_follows_rate_times_latency_within_bounds() -> None:
    limiter = RateLimiter(rps=100)
    limiter.latency = 3.0
    assert limiter.in_flight_limit == 600 if limiter.ceiling >= 600 else limiter.ceiling
    limiter.latency = 0.01
    assert limiter.in_flight_limit == MIN_IN_FLIGHT
    capped = RateLimiter(rps=100, max_in_flight=20)
    capped.latency = 3.0
    assert capped.in_flight_limit == 20


def test_slow_answers_raise_the_room_in_flight_so_the_rate_holds() -> None:
    """Little's law: 40 requests/s of 1 s answers need 40 in flight; a fixed 8 would cap the
    rate at 8/s."""

    async def scenario() -> tuple[float, int]:
        limiter = RateLimiter(rps=40)

        async def request() -> None:
            async with limiter.slot():
                await asyncio.sleep(1.0)

        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(request() for _ in range(120)))
        return loop.time() - started, limiter.peak_in_flight

    elapsed, peak = asyncio.run(scenario())
    assert peak > 30
    assert elapsed < 120 / 8 / 2  # at most half the time a fixed cap of 8 would take


def test_close_fails_the_waiting_and_refuses_new_requests() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = RateLimiter(rps=1)
        ran: list[int] = []

        async def request(n: int) -> None:
            async with limiter.slot():
                ran.append(n)
                await asyncio.sleep(0.2)

        tasks = [asyncio.create_task(request(n)) for n in range(5)]
        await asyncio.sleep(0.05)
        limiter.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with pytest.raises(LimiterClosed):
            await request(99)
        return len(ran), sum(isinstance(r, LimiterClosed) for r in results)

    assert asyncio.run(scenario()) == (1, 4)


def test_a_start_made_late_by_the_event_loop_keeps_the_schedule() -> None:
    """25 requests/s, every start 2 ms late (an event loop storing answers): the starts stay
    on the 40 ms grid, so 100 take 4 s and not 4.2; after an idle second, no burst."""
    scheduled = 0.0
    for _ in range(100):
        scheduled = next_start(scheduled, scheduled + 0.002, 0.04)
    assert scheduled == pytest.approx(4.0)
    started_after_idle = scheduled + 1.0
    assert next_start(scheduled, started_after_idle, 0.04) == pytest.approx(
        started_after_idle + 0.04
    )


def test_before_any_answer_the_rate_alone_paces_the_start() -> None:
    """No latency is known yet, so none is guessed: a batch of 3 s metadata runs at 100/s gets
    its 300 in flight from the first seconds; the first answer then sets the latency."""

    async def scenario() -> tuple[int, int, int]:
        limiter = RateLimiter(rps=100)
        before = limiter.in_flight_limit
        async with limiter.slot():
            await asyncio.sleep(0.05)
        return before, limiter.ceiling, limiter.in_flight_limit

    before, ceiling, after = asyncio.run(scenario())
    assert before == ceiling
    assert MIN_IN_FLIGHT < after < 20  # 100/s × 0.05 s × 2 = 10, and a little jitter
