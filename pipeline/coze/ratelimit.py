"""One limiter for every request of a client: a request rate, requests in flight sized from it,
and an order among the requests that wait.

The rate is the only thing a user sets. How many requests must be in flight to keep it follows
from Little's law (in flight = rate × latency): a metadata run that answers in 3 s needs 300
in flight to keep 100 requests/s, a poll that answers in 0.1 s needs 10. So the cap on requests
in flight follows the observed latency, with headroom, bounded by `ceiling` for sockets and
memory. Until the first answer there is no latency to go by and no reason to guess one: the
rate alone paces the start, up to `ceiling` (a guess of 1 s allowed 2 × rate in flight, where
3 s metadata runs need 3 × rate: two thirds of the rate until the answers taught the latency).

Starts keep to the schedule of one every 1/rate: a start the event loop makes a little late
(a millisecond is common, more while answers are being stored) does not push every later one
back, or the loop's delays would add up to a few percent of the rate.

Waiting requests start in the order of their `key` (smaller first), a time in seconds: the
caller encodes priority as a lead or a lag on the time it asked (`pipeline.steps.calls`).

A 429 means the service is over its limit for all of us, so it slows everyone down: the rate
halves and nobody starts a request until the Retry-After pause ends. Each success then wins
back a little of the rate, never more than the configured one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator

RECOVERY_PER_SUCCESS = 0.02
MIN_SHARE = 0.05
# Enough sockets for 100 requests/s of 4.5 s sync runs; COZE_MAX_IN_FLIGHT sets another bound.
DEFAULT_CEILING = 512
MIN_IN_FLIGHT = 8
HEADROOM = 2.0
LATENCY_SMOOTHING = 0.05


class LimiterClosed(Exception):
    """The step is stopping (a halt, a spent budget, a full disk): no request starts any more,
    so none is sent that nobody would store; the requests in flight land."""


class RateLimiter:
    def __init__(self, rps: float, max_in_flight: int | None = None) -> None:
        self.max_rps = rps
        self.rps = rps
        self.ceiling = max_in_flight or DEFAULT_CEILING
        self.latency: float | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        self.rate_limited = 0
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._next_start = 0.0
        self._paused_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def in_flight_limit(self) -> int:
        if self.latency is None:
            return self.ceiling
        wanted = math.ceil(self.max_rps * self.latency * HEADROOM)
        return min(self.ceiling, max(MIN_IN_FLIGHT, wanted))

    @contextlib.asynccontextmanager
    async def slot(self, key: float | None = None) -> AsyncIterator[None]:
        """Wait for the request's turn (rate, room in flight, order by `key`), then hold a slot
        while the request runs."""
        if self.closed:
            raise LimiterClosed
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        order = time.monotonic() if key is None else key
        heapq.heappush(self._waiting, (order, next(self._order), turn))
        self._dispatch()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(None)
            raise
        started = time.monotonic()
        try:
            yield
        finally:
            self._release(time.monotonic() - started)

    def close(self) -> None:
        self.closed = True
        waiting, self._waiting = self._waiting, []
        for _, _, turn in waiting:
            if not turn.done():
                turn.set_exception(LimiterClosed())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _release(self, latency: float | None) -> None:
        self.in_flight -= 1
        if latency is not None:
            known = self.latency
            self.latency = (
                latency if known is None else known + (latency - known) * LATENCY_SMOOTHING
            )
        self._dispatch()

    def _dispatch(self) -> None:
        """Start every waiting request that the rate and the room in flight allow now; wake up
        again when the rate allows the next."""
        while self._waiting and self.in_flight < self.in_flight_limit and not self.closed:
            now = time.monotonic()
            start = max(self._next_start, self._paused_until)
            if start > now:
                self._wake_at(start)
                return
            _, _, turn = heapq.heappop(self._waiting)
            if turn.done():  # its caller was cancelled while it waited
                continue
            turn.set_result(None)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._next_start = next_start(self._next_start, now, 1.0 / self.rps)

    def _wake_at(self, when: float) -> None:
        loop = asyncio.get_running_loop()
        target = loop.time() + max(0.0, when - time.monotonic())
        if self._timer is not None:
            if self._timer.when() <= target:
                return
            self._timer.cancel()
        self._timer = loop.call_at(target, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def set_rate(self, rps: float) -> None:
        """The rate decided once the account's plan is known, before the first request."""
        self.max_rps = self.rps = rps

    def on_success(self) -> None:
        self.rps = min(self.max_rps, self.rps + self.max_rps * RECOVERY_PER_SUCCESS)

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.rate_limited += 1
        self.rps = max(self.max_rps * MIN_SHARE, self.rps / 2)
        pause = retry_after if retry_after is not None else 1.0 / self.rps
        self._paused_until = max(self._paused_until, time.monotonic() + pause)


def next_start(scheduled: float, now: float, interval: float) -> float:
    """When the request after one due at `scheduled` and started at `now` may start: on the
    schedule when this one was late by less than an interval, an interval from now otherwise
    (after an idle spell, so no burst makes up for it)."""
    late = now - scheduled
    return (scheduled if late < interval else now) + interval
