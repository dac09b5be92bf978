"""Local work done while a batch waits for its last transcript jobs.

After its last submit a batch waits up to a long job's run time (tens of seconds) for its last
jobs, with the CPU idle, and then normalization and text analysis go over every answer. Both
are idempotent, and text analysis segments only what changed, so rounds of them run in that
wait leave the steps after the Coze step only the answers that came in since the last round.
The step cannot end while a round runs (a thread cannot be stopped), so a round starts only
while the wait left is well over what the previous one took. Two rounds: the first once most
jobs are done and polls no longer need all of the rate, the second at the last moment that
still fits, so the steps after find only the last few answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pipeline.warehouse.db import first_line

# The first round starts once the batch waits at most this long, most of its jobs done by then.
HORIZON_SECONDS = 20.0
# A round needs a wait left of at least this, and of this many times the previous round's time.
MIN_LEFT_SECONDS = 5.0
ROUND_MARGIN = 2.0
CHECK_EVERY_SECONDS = 2.0

Logger = logging.Logger | logging.LoggerAdapter


def round_due(left: float, last_took: float | None, check_every: float) -> bool:
    """Whether a round starts now, `left` seconds before the batch's wait ends at most. The first
    (`last_took` None) starts within the horizon; the second at the last check before the
    wait left is too short for a round as long as the first."""
    needed = max(MIN_LEFT_SECONDS, ROUND_MARGIN * (last_took or 0.0))
    if left < needed:
        return False
    return left <= (HORIZON_SECONDS if last_took is None else needed + check_every)


async def work_ahead(
    work: Callable[[], object],
    wait_left: Callable[[], float | None],
    done: asyncio.Event,
    log: Logger,
    *,
    check_every: float = CHECK_EVERY_SECONDS,
) -> int:
    """Up to two rounds of `work`, in a thread, before `done`; the rounds run. `wait_left` is how
    long the batch still waits at most (None: not known yet). A round that fails ends the
    rounds, its work left to the steps after, which meet the error in full if it lasts."""
    rounds, took = 0, None
    while rounds < 2 and not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), check_every)
        left = wait_left()
        if done.is_set() or left is None or not round_due(left, took, check_every):
            continue
        started = time.monotonic()
        try:
            await asyncio.to_thread(work)
        except Exception as error:  # the steps after do the same work, and report its error
            log.warning(
                f"work ahead of the last jobs stopped, left to the steps after: {first_line(error)}"
            )
            return rounds
        took = time.monotonic() - started
        rounds += 1
        log.info(
            f"ahead of the last jobs (at most {left:.0f}s left): normalized and analysed the "
            f"answers in so far in {took:.1f}s"
        )
    return rounds
