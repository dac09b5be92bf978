"""The Coze step's order among waiting requests and its poll clock, seen from the emulator over
loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.durations import JobDurations
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.reads.work import VideoWork, WorkItem
from pipeline.steps.calls import CallsProgress, call_coze
from pipeline.storage.recorder import Recorder


def videos(count: int, *, needs_metadata: bool) -> list[VideoWork]:
    return [
        VideoWork(WorkItem(f"douyin:78{n:017d}", url, url, url), needs_metadata, may_submit=True)
        for n in range(count)
        for url in [f"https://www.douyin.com/video/78{n:017d}"]
    ]


def call(
    tmp_path: Path,
    config: EmulatorConfig,
    work: Sequence[VideoWork],
    durations: JobDurations,
    rps: float = 5.0,
) -> tuple[CallsProgress, dict]:
    """The step's calls for `work` against an emulator; their progress and the emulator's stats."""
    recorder = Recorder(
        tmp_path / "warehouse.duckdb",
        max_attempts=3,
        lock_wait_seconds=5,
        logger=logging.getLogger("test"),
    )

    async def calls(url: str) -> CallsProgress:
        settings = CozeSettings.from_env({}, base_url=url, api_token="pat_test", rps=rps)
        async with CozeClient(settings) as client:
            return await call_coze(
                client,
                recorder,
                work,
                [],
                durations,
                poll_budget_seconds=30,
                log=recorder.log,
            )

    with EmulatorProcess(config) as emulator:
        progress = asyncio.run(calls(emulator.url))
        return progress, emulator.stats()


def test_metadata_calls_go_ahead_of_submits_so_the_last_submit_comes_early(
    tmp_path: Path,
) -> None:
    """16 videos at 20 requests/s with metadata answers in 0.2 s: answers come back while most
    metadata calls still wait for the rate. Were submits first, the first would arrive after
    one answer, ahead of a dozen metadata calls, and the batch's last submit would wait for
    the last metadata latency."""
    config = EmulatorConfig(profile="fast", latency=0.2, job_seconds=0.3)
    progress, stats = call(
        tmp_path, config, videos(16, needs_metadata=True), JobDurations(), rps=20.0
    )
    assert (progress.metadata.done, progress.submits.done, progress.polls.done) == (16, 16, 16)
    assert stats["metadata_calls"] == 16 and stats["submits"] == 16
    assert stats["arrivals"]["last_metadata"] < stats["arrivals"]["first_submit"]


def test_a_job_is_polled_by_the_clock_of_its_submit_not_of_its_answer(tmp_path: Path) -> None:
    """Coze starts a job when the submit arrives; its answer comes a latency later (2 s here).
    Jobs known to run 3 s are polled 3 s after the submit was sent, not 3 s after its answer:
    the batch's last job is seen done a submit latency sooner. (This one runs 2.5 s, so that
    the one poll finds it done.)"""
    config = EmulatorConfig(profile="fast", latency=2.0, job_seconds=2.5)
    progress, stats = call(
        tmp_path, config, videos(1, needs_metadata=False), JobDurations([3, 3, 3])
    )
    assert progress.polls.done == 1 and stats["polls"] == 1
    (job,) = stats["jobs"].values()
    first_poll_after_submit = stats["arrivals"]["last"] - job["created"]
    assert first_poll_after_submit < 4.0, "polled from the answer's time (5 s), not the submit's"
