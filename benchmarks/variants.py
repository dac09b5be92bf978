"""`python -m pipeline` with a piece of its speed machinery swapped for the simpler code path.

Each piece has to earn its place by a gain beyond noise in `benchmarks.throughput` (issue 35),
so the benchmark runs the command as it is and without the piece, in one run. The swap is made
here, in the benchmark's own process wrapper, so the pipeline grows no switch for it:

- `one-client`: one `httpx.AsyncClient` whose pool is sized from the rate limiter's bound on
  requests in flight, instead of the connection shards of `pipeline/coze/connections.py`.

(The second segmentation process and the tail re-polls were measured so too, and removed:
docs/BENCHMARKS.md.)

Usage: `python -m benchmarks.variants VARIANT run --links FILE --db FILE`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable

import httpx

BASELINE = "baseline"
VARIANTS = (BASELINE, "one-client")


class OneClient:
    """The `Connections` interface over a single client, its pool as large as the requests the
    rate limiter lets be in flight (its default ceiling: the benchmark sets no
    COZE_MAX_IN_FLIGHT), so the pool never holds a request back."""

    def __init__(self, make_client: Callable[[httpx.Limits], httpx.AsyncClient]) -> None:
        from pipeline.coze.ratelimit import DEFAULT_CEILING

        limits = httpx.Limits(
            max_connections=DEFAULT_CEILING, max_keepalive_connections=DEFAULT_CEILING
        )
        self._client = make_client(limits)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        yield self._client

    async def aclose(self) -> None:
        await self._client.aclose()


def apply(variant: str) -> None:
    """Swap the piece `variant` names for its simpler code path, in this process."""
    if variant == "one-client":
        import pipeline.coze.client

        pipeline.coze.client.Connections = OneClient  # type: ignore[misc,assignment]
    elif variant != BASELINE:
        raise SystemExit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")


if __name__ == "__main__":
    apply(sys.argv[1])
    from pipeline.cli import exit_at_once, main

    exit_at_once(main(sys.argv[2:]))
