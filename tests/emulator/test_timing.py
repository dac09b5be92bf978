"""The realistic profile answers at the service's pace (docs/coze.md, what we know of the service), from seeded draws;
fixed latency and job_seconds override it, as the benchmarks and older tests rely on."""

from __future__ import annotations

import asyncio
import time

import httpx

from pipeline.coze.config import METADATA_WORKFLOW_ID, TRANSCRIPT_WORKFLOW_ID
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.emulator.helpers import emulator, metadata, submit

SLACK = 0.35  # loopback HTTP on a busy two-core machine; lower bounds are exact
CALLS = 4
# The realistic profile as specified (docs/emulator.md), not as the code under test says.
REALISTIC = {"metadata": (1.5, 4.5), "submit": (0.2, 0.5), "poll": (0.05, 0.2), "job": (15, 45)}


async def _timed(call) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call
    return time.perf_counter() - started, response


async def _measure(url: str) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        def run(text: str, is_async: bool):
            workflow = TRANSCRIPT_WORKFLOW_ID if is_async else METADATA_WORKFLOW_ID
            body = {"workflow_id": workflow, "parameters": {"input": text}, "is_async": is_async}
            return client.post("/v1/workflow/run", json=body)

        async def submits_then_polls() -> tuple[list[float], list[float]]:
            submitted = await asyncio.gather(
                *(_timed(run(f"https://b23.tv/t{i}", True)) for i in range(CALLS))
            )
            polled = await asyncio.gather(
                *(
                    _timed(
                        client.get(
                            f"/v1/workflows/{TRANSCRIPT_WORKFLOW_ID}/run_histories/"
                            + response.json()["execute_id"]
                        )
                    )
                    for _, response in submitted
                )
            )
            assert all(r.json()["data"][0]["execute_status"] == "Running" for _, r in polled)
            return [t for t, _ in submitted], [t for t, _ in polled]

        runs, (submits, polls) = await asyncio.gather(
            asyncio.gather(*(_timed(run(f"https://b23.tv/m{i}", False)) for i in range(CALLS))),
            submits_then_polls(),
        )
        assert all(r.json()["code"] == 0 for _, r in runs)
        return {"metadata": [t for t, _ in runs], "submit": submits, "poll": polls}


def test_realistic_profile_answers_within_its_ranges() -> None:
    """Sync runs take seconds and jobs tens of seconds; a fast emulator would hide timeouts."""
    with EmulatorProcess(EmulatorConfig()) as process:
        measured = asyncio.run(_measure(process.url))
        stats = process.stats()
    for kind, seconds in measured.items():
        low, high = REALISTIC[kind]
        assert all(low <= s <= high + SLACK for s in seconds), (kind, seconds)
    durations = [job["seconds"] for job in stats["jobs"].values()]
    low, high = REALISTIC["job"]
    assert len(durations) == CALLS
    assert all(low <= d <= high for d in durations), durations
    assert len(set(durations)) == CALLS, "job durations must be drawn, not fixed"


def _job_durations(seed: int) -> list[float]:
    with emulator(profile="realistic", latency=0.0, seed=seed) as (process, client):
        for i in range(3):
            assert submit(client, f"https://b23.tv/s{i}").json()["code"] == 0
        jobs = process.stats()["jobs"]
    return [jobs[eid]["seconds"] for eid in sorted(jobs)]


def test_realistic_draws_are_deterministic_per_seed() -> None:
    """A failing run can be replayed: the same seed draws the same job durations."""
    first = _job_durations(5)
    assert first == _job_durations(5)
    assert first != _job_durations(6)


def test_fixed_latency_and_job_seconds_override_the_profile() -> None:
    """Callers that pass latency/job_seconds get exactly those, whatever the profile."""
    with emulator(profile="realistic", latency=0.3, job_seconds=2.0) as (process, client):
        started = time.perf_counter()
        assert metadata(client, "https://b23.tv/fixed").json()["code"] == 0
        elapsed = time.perf_counter() - started
        assert submit(client, "https://b23.tv/fixed").json()["code"] == 0
        jobs = process.stats()["jobs"]
    assert 0.3 <= elapsed <= 0.3 + SLACK
    assert [job["seconds"] for job in jobs.values()] == [2.0]


def test_fast_profile_adds_no_latency() -> None:
    """The tests' profile: answers at once, jobs of 0.3 s."""
    with emulator() as (process, client):
        started = time.perf_counter()
        for i in range(5):
            assert metadata(client, f"https://b23.tv/f{i}").json()["code"] == 0
        elapsed = time.perf_counter() - started
        assert submit(client, "https://b23.tv/f").json()["code"] == 0
        jobs = process.stats()["jobs"]
    assert elapsed < 1.0
    assert [job["seconds"] for job in jobs.values()] == [0.3]


def test_arrivals_lay_each_request_on_the_clock_and_mark_the_last_submit() -> None:
    """The throughput benchmark splits a run's time at the last submit and by the second: the
    times must be the machine's clock, and the counts every request, refused ones included."""
    before = time.time()
    with emulator(rps=2.0) as (process, client):
        assert metadata(client, "https://b23.tv/a1").json()["code"] == 0
        execute_id = submit(client, "https://b23.tv/a1").json()["execute_id"]
        assert metadata(client, "https://b23.tv/a2").status_code == 429
        time.sleep(1.2)
        assert (
            client.get(f"/v1/workflows/{TRANSCRIPT_WORKFLOW_ID}/run_histories/{execute_id}").json()[
                "code"
            ]
            == 0
        )
        arrivals = process.stats()["arrivals"]
    after = time.time()
    assert before <= arrivals["first"] <= arrivals["last_metadata"] < arrivals["first_submit"]
    assert arrivals["first_submit"] == arrivals["last_submit"] <= arrivals["last"] <= after
    assert arrivals["last"] - arrivals["first"] >= 1.2
    assert arrivals["requests_to_last_submit"] == 2
    assert sum(arrivals["per_second"]) == 4
    assert arrivals["per_second"][0] == 3 and arrivals["per_second"][-1] == 1
