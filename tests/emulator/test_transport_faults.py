"""Transient answers and broken connections: what a client must retry, and what it must not
blindly retry because the paid run may have started (docs/coze.md, paid calls)."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from pipeline.coze import codes
from tests.emulator.helpers import (
    assert_coded,
    code_of,
    emulator,
    fixture_body,
    metadata,
    poll,
    submit,
)

TRANSIENT = {codes.SYSTEM_LIMIT, codes.RISK_CONTROL, codes.INTERNAL_ERROR}
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


def test_transient_codes_come_at_their_rate_and_start_nothing() -> None:
    """4009/4102/5000 arrive with HTTP 200; a run refused that way is neither billed nor a job."""
    answers: Counter[int] = Counter()
    with emulator(transient_rate=0.3, seed=1) as (process, client):
        for i in range(60):
            for response in (
                metadata(client, f"https://b23.tv/r{i}"),
                submit(client, f"https://b23.tv/r{i}"),
            ):
                code = code_of(response)
                answers[code] += 1
                if code:
                    assert_coded(response, code)
        stats = process.stats()
    refused = sum(n for code, n in answers.items() if code in TRANSIENT)
    assert set(answers) == {0} | TRANSIENT, answers
    assert 0.2 * 120 <= refused <= 0.4 * 120, answers
    assert stats["transient_errors"] == refused
    assert stats["paid_runs"] == answers[0] == stats["metadata_calls"] + stats["submits"]
    assert len(stats["jobs"]) == stats["submits"]


def test_poll_transient_rate_hits_polls_only() -> None:
    """A flaky poll must not look like a failed job: runs stay clean, polls get transient codes."""
    with emulator(poll_transient_rate=0.5, seed=2) as (process, client):
        runs = [code_of(metadata(client, f"https://b23.tv/p{i}")) for i in range(20)]
        execute_id = submit(client, "https://b23.tv/p").json()["execute_id"]
        polls = [code_of(poll(client, execute_id)) for _ in range(40)]
        stats = process.stats()
    assert set(runs) == {0}
    assert set(polls) <= {0} | TRANSIENT and 10 <= polls.count(0) <= 30, polls
    assert stats["transient_errors"] == 40 - polls.count(0)


def test_a_dropped_submit_is_billed_and_its_job_runs() -> None:
    """No answer, yet a paid job exists: the client cannot know its execute_id."""
    with emulator(drop_submits=1) as (process, client):
        with pytest.raises(DROPPED):
            submit(client, "https://b23.tv/dropped")
        answered = submit(client, "https://b23.tv/answered")
        time.sleep(0.4)
        stats = process.stats()
        (dropped_id,) = [e for e, job in stats["jobs"].items() if job["input"].endswith("dropped")]
        record = poll(client, dropped_id).json()["data"][0]
    assert answered.json()["code"] == 0, "only the next N submits are dropped"
    assert stats["dropped_submits"] == 1 and stats["config"]["drop_submits"] == 0
    assert stats["submits"] == 2 and stats["paid_runs"] == 2
    assert stats["submits_per_input"]["https://b23.tv/dropped"] == 1
    assert record["execute_status"] == "Success"


def test_a_sync_run_longer_than_the_window_is_cut_but_billed() -> None:
    """The service closes a sync run's connection at the window, 90 s by default."""
    with emulator(sync_window=1.0) as (process, client):
        started = time.perf_counter()
        with pytest.raises(DROPPED):
            metadata(client, "https://www.douyin.com/poison/slow-sync/1")
        elapsed = time.perf_counter() - started
        process.set_faults(latency=1.2)
        with pytest.raises(DROPPED):
            metadata(client, "https://b23.tv/slow-by-latency")
        stats = process.stats()
    assert 1.0 <= elapsed < 3.0, "cut at the window, not when the run would end (6 s)"
    assert stats["cut_sync_runs"] == 2
    assert stats["metadata_calls"] == 2 and stats["paid_runs"] == 2


def test_rate_limit_is_http_429_with_a_fractional_retry_after() -> None:
    """Over rps the answer is coze-js's 429/4013 body and a Retry-After to honour."""
    expected = fixture_body("err_cozejs_429_4013")
    with emulator(rps=2) as (process, client):
        answers = [metadata(client, f"https://b23.tv/l{i}") for i in range(6)]
        stats = process.stats()
    limited = [r for r in answers if r.status_code == 429]
    assert limited and stats["rate_limited"] == len(limited)
    for response in limited:
        assert response.json() == expected
        assert 0 < float(response.headers["Retry-After"]) <= 0.5
        assert "." in response.headers["Retry-After"]


def test_error_rate_answers_http_500_and_fail_rate_fails_jobs() -> None:
    """HTTP 5xx is a transient answer; a failed job is a record with status Fail."""
    with emulator(error_rate=1.0) as (process, client):
        assert metadata(client, "https://b23.tv/e").status_code == 500
        process.set_faults(error_rate=0.0, fail_rate=1.0)
        execute_id = submit(client, "https://b23.tv/e").json()["execute_id"]
        time.sleep(0.4)
        record = poll(client, execute_id).json()["data"][0]
        stats = process.stats()
    assert stats["server_errors"] == 1 and stats["paid_runs"] == 1
    assert record["execute_status"] == "Fail" and record["error_code"] not in ("", "0")
