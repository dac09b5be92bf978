"""One limiter for every request of a client: a request rate and a cap on requests in flight.

A 429 means the service is over its limit for all of us, so it slows everyone down: the rate
halves and nobody starts a request until the Retry-After pause ends. Each success then wins
back a little of the rate, never more than the configured one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

RECOVERY_PER_SUCCESS = 0.02
MIN_SHARE = 0.05


class RateLimiter:
    def __init__(self, rps: float, max_in_flight: int) -> None:
        self.max_rps = rps
        self.rps = rps
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._lock = asyncio.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0
        self.rate_limited = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._in_flight:
            async with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start, self._paused_until)
                self._next_start = start + 1.0 / self.rps
            if start > now:
                await asyncio.sleep(start - now)
            yield

    def on_success(self) -> None:
        self.rps = min(self.max_rps, self.rps + self.max_rps * RECOVERY_PER_SUCCESS)

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.rate_limited += 1
        self.rps = max(self.max_rps * MIN_SHARE, self.rps / 2)
        pause = retry_after if retry_after is not None else 1.0 / self.rps
        self._paused_until = max(self._paused_until, time.monotonic() + pause)
