"""HTTP connections for hundreds of requests in flight.

httpcore scans every connection of its pool on each request and each answer, so one pool of
hundreds of connections costs O(n) per request: at 300 requests in flight that scan was most of
the client's CPU and capped a process far below the rate it was given. Requests are spread over
several `httpx.AsyncClient`s of at most `SHARD_SIZE` connections instead, filling the first ones
first so that a slow rate keeps reusing the same few connections.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

SHARD_SIZE = 8


@dataclass
class _Shard:
    client: httpx.AsyncClient
    active: int = 0


class Connections:
    def __init__(self, make_client: Callable[[httpx.Limits], httpx.AsyncClient]) -> None:
        self._make_client = make_client
        self._shards: list[_Shard] = []

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client with a free connection slot, held for one request."""
        shard = next((s for s in self._shards if s.active < SHARD_SIZE), None)
        if shard is None:
            limits = httpx.Limits(max_connections=SHARD_SIZE, max_keepalive_connections=SHARD_SIZE)
            shard = _Shard(self._make_client(limits))
            self._shards.append(shard)
        shard.active += 1
        try:
            yield shard.client
        finally:
            shard.active -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.client.aclose()
