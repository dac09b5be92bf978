"""The poller over real HTTP to the emulator: polls follow what recent jobs took."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.durations import FIRST_DELAY, KNOWN_ENOUGH, WINDOW, JobDurations
from pipeline.coze.models import RunRecord
from pipeline.coze.poller import UNTIL_KNOWN, JobPoller
from pipeline.emulator import EmulatorConfig, EmulatorProcess

JOB_SECONDS = 2.0


def _collecting_poller(
    client: CozeClient, durations: JobDurations
) -> tuple[JobPoller, list[RunRecord]]:
    """A poller that keeps every finished record and ignores poll errors."""
    finished: list[RunRecord] = []
    poller = JobPoller(
        client,
        durations,
        on_record=lambda r: finished.append(r) if r.finished else None,
        on_error=lambda execute_id, error: None,
    )
    return poller, finished


def _poll_all(url: str, jobs: int, durations: JobDurations) -> tuple[int, list[RunRecord]]:
    """Submit `jobs` jobs, then poll them all with one poller: (polls sent, final records)."""
    settings = CozeSettings.from_env({}, base_url=url, rps=400)

    async def scenario() -> tuple[int, list[RunRecord]]:
        async with CozeClient(settings) as client:
            submissions = await asyncio.gather(
                *(client.submit_transcript(f"https://b23.tv/job{i}") for i in range(jobs))
            )
            poller, finished = _collecting_poller(client, durations)
            for submission in submissions:
                poller.add(submission.execute_id, submission.workflow_id)
            poller.close()
            await poller.run(budget_seconds=120)
            return poller.polls, finished

    return asyncio.run(scenario())


def test_known_run_times_cost_about_one_poll_a_job() -> None:
    jobs = 300
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=JOB_SECONDS)) as emulator:
        polls, finished = _poll_all(emulator.url, jobs, JobDurations([JOB_SECONDS] * 20))
        stats = emulator.stats()
    assert len(finished) == jobs and {r.status for r in finished} == {"Success"}
    assert stats["polls"] == polls
    assert polls <= 1.5 * jobs, polls


def test_with_nothing_known_a_few_probes_teach_the_schedule() -> None:
    """A new warehouse: only a few probe jobs are polled from a second on; once they have
    finished, the run times they teach (Coze's update_time - create_time) schedule the rest,
    so the batch costs little more than a poll a job (every job on the probes' schedule would
    cost two here, seven with the service's 15-45 s jobs)."""
    jobs = 300
    durations = JobDurations()
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=JOB_SECONDS)) as emulator:
        polls, finished = _poll_all(emulator.url, jobs, durations)
    assert len(finished) == jobs
    assert polls <= 1.5 * jobs, polls
    assert len(durations) == min(jobs, WINDOW) and durations.quantile(0.5) in (1.0, 2.0, 3.0)


def test_a_closed_poller_with_no_jobs_returns_at_once() -> None:
    async def scenario() -> int:
        settings = CozeSettings.from_env({}, base_url="http://127.0.0.1:9")
        async with CozeClient(settings) as client:
            poller = JobPoller(client, JobDurations(), on_record=print, on_error=print)
            poller.close()
            await asyncio.wait_for(poller.run(budget_seconds=None), timeout=5)
            return poller.polls

    assert asyncio.run(scenario()) == 0


def test_the_batch_does_not_wait_for_a_straggler() -> None:
    """Nine jobs of 2 s and one of an hour: once the nine are in and the tenth has run far
    past what recent jobs took, polling ends and leaves it running for the next run."""
    settings = CozeSettings.from_env({}, base_url="", rps=50)
    durations = JobDurations([JOB_SECONDS] * 20)
    limit = durations.straggler_after()
    assert limit is not None

    async def scenario(url: str) -> tuple[JobPoller, list[RunRecord]]:
        async with CozeClient(replace(settings, base_url=url)) as client:
            inputs = [f"https://b23.tv/job{i}" for i in range(9)] + ["https://x/poison/slow-job/1"]
            submissions = [await client.submit_transcript(text) for text in inputs]
            poller, finished = _collecting_poller(client, durations)
            for n, submission in enumerate(submissions):
                # the slow one was submitted just past the straggler limit
                poller.add(submission.execute_id, submission.workflow_id, (limit + 1) * (n == 9))
            poller.close()
            await asyncio.wait_for(poller.run(budget_seconds=900), timeout=60)
            return poller, finished

    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=JOB_SECONDS)) as emulator:
        poller, finished = asyncio.run(scenario(emulator.url))
    assert len(finished) == 9 and poller.stragglers == 1


def test_an_old_job_of_an_earlier_run_is_polled_before_it_is_left_behind() -> None:
    """A job submitted by a run that was killed is past the straggler age when the next run
    starts, and most likely done: it is a straggler only once this run has seen it running
    past that age (a kill-and-resume test once ended a run with such a job never polled)."""
    settings = CozeSettings.from_env({}, base_url="http://127.0.0.1:9", rps=50)
    durations = JobDurations([JOB_SECONDS] * 20)
    limit = durations.straggler_after()
    assert limit is not None
    poller, _ = _collecting_poller(CozeClient(settings), durations)
    poller.add("old", "workflow", age=limit + 60)
    poller.close()
    now = time.monotonic()
    assert not poller._only_left_behind(now), "never polled by this run: not left behind"
    poller._seen_running["old"] = now - 59  # seen running at an age past the limit
    assert poller._only_left_behind(now)
    poller._seen_running["old"] = now - 61  # seen running, but before the straggler age
    assert not poller._only_left_behind(now)


def test_what_the_probes_teach_reschedules_every_waiting_job_later_as_well() -> None:
    """While a batch's submits fill the rate no probe is polled, so the run times are learnt
    late; a job left at the `UNTIL_KNOWN` guess would be polled at 30 s of a 40 s run, and
    again. Once they are known, every waiting job is due when they say, and then when the run
    times learnt after them say: a job scheduled on the probes' few is not left there."""
    settings = CozeSettings.from_env({}, base_url="http://127.0.0.1:9", rps=50)
    durations = JobDurations()
    poller, _ = _collecting_poller(CozeClient(settings), durations)
    for n in range(KNOWN_ENOUGH + 5):
        poller.add(f"job{n}", "workflow")

    def waits() -> list[float]:
        dues = poller._due.dues(poller._first_after())
        return sorted(due - job.submitted for due, job in dues)

    assert waits() == pytest.approx([FIRST_DELAY] * KNOWN_ENOUGH + [UNTIL_KNOWN] * 5, abs=0.5)
    for _ in range(KNOWN_ENOUGH):
        durations.add(40.0)
    poller._learnt()
    assert waits() == pytest.approx([40.0] * (KNOWN_ENOUGH + 5), abs=0.5)
    for _ in range(WINDOW):
        durations.add(44.0)
    assert waits()[KNOWN_ENOUGH:] == pytest.approx([44.0] * 5, abs=0.5)
