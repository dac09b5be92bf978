"""The Coze step's order among waiting requests, seen from the emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.durations import JobDurations
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.steps.calls import call_coze
from pipeline.warehouse.queries import VideoWork, WorkItem
from pipeline.warehouse.recorder import Recorder

VIDEOS = 16


def test_metadata_calls_go_ahead_of_submits_so_the_last_submit_comes_early(
    tmp_path: Path,
) -> None:
    """16 videos at 20 requests/s with metadata answers in 0.2 s: answers come back while most
    metadata calls still wait for the rate. Were submits first, the first would arrive after
    one answer, ahead of a dozen metadata calls, and the batch's last submit would wait for
    the last metadata latency."""
    urls = [f"https://www.douyin.com/video/78{n:017d}" for n in range(VIDEOS)]
    work = [
        VideoWork(
            WorkItem(f"douyin:78{n:017d}", url, url, url), needs_metadata=True, may_submit=True
        )
        for n, url in enumerate(urls)
    ]
    recorder = Recorder(
        tmp_path / "warehouse.duckdb",
        max_attempts=3,
        lock_wait_seconds=5,
        logger=logging.getLogger("test"),
    )

    async def calls(url: str) -> None:
        settings = CozeSettings.from_env({}, base_url=url, api_token="pat_test", rps=20.0)
        async with CozeClient(settings) as client:
            progress = await call_coze(
                client, recorder, work, [], JobDurations(), poll_budget_seconds=30, log=recorder.log
            )
        assert (progress.metadata.done, progress.submits.done, progress.polls.done) == (16, 16, 16)

    config = EmulatorConfig(profile="fast", latency=0.2, job_seconds=0.3)
    with EmulatorProcess(config) as emulator:
        asyncio.run(calls(emulator.url))
        stats = emulator.stats()
    assert stats["metadata_calls"] == VIDEOS and stats["submits"] == VIDEOS
    arrivals = stats["arrivals"]
    assert arrivals["last_metadata"] < arrivals["first_submit"]


def test_a_job_is_polled_by_the_clock_of_its_submit_not_of_its_answer(tmp_path: Path) -> None:
    """Coze starts a job when the submit arrives; its answer comes a latency later (2 s here).
    Jobs known to run 3 s are polled 3 s after the submit was sent, not 3 s after its answer:
    the batch's last job is seen done a submit latency sooner. (This one runs 2.5 s, so that
    the one poll finds it done.)"""
    url = "https://www.douyin.com/video/7800000000000000001"
    work = [VideoWork(WorkItem("douyin:7800000000000000001", url, url, url), False, True)]
    recorder = Recorder(
        tmp_path / "warehouse.duckdb",
        max_attempts=3,
        lock_wait_seconds=5,
        logger=logging.getLogger("test"),
    )

    async def calls(base_url: str) -> None:
        settings = CozeSettings.from_env({}, base_url=base_url, api_token="pat_test")
        async with CozeClient(settings) as client:
            progress = await call_coze(
                client,
                recorder,
                work,
                [],
                JobDurations([3, 3, 3]),
                poll_budget_seconds=30,
                log=recorder.log,
            )
        assert progress.polls.done == 1

    with EmulatorProcess(EmulatorConfig(profile="fast", latency=2.0, job_seconds=2.5)) as emulator:
        asyncio.run(calls(emulator.url))
        stats = emulator.stats()
    (job,) = stats["jobs"].values()
    first_poll_after_submit = stats["arrivals"]["last"] - job["created"]
    assert stats["polls"] == 1
    assert first_poll_after_submit < 4.0, "polled from the answer's time (5 s), not the submit's"
