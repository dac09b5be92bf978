"""Account-scope refusals (docs/coze.md, errors by scope): HTTP 200 with a code, for runs and polls alike,
and nothing billed or created while the account is refused."""

from __future__ import annotations

import asyncio

import httpx

from pipeline.coze import codes
from pipeline.coze.config import METADATA_WORKFLOW_ID
from tests.emulator.helpers import assert_coded, code_of, emulator, metadata, poll, submit


def test_balance_runs_out_after_n_paid_runs_and_a_top_up_restores_it() -> None:
    """The pipeline must stop and keep items pending when the money ends, then resume."""
    with emulator(balance_calls=3) as (process, client):
        assert code_of(metadata(client, "https://b23.tv/b1")) == 0
        assert code_of(metadata(client, "https://b23.tv/b2")) == 0
        execute_id = submit(client, "https://b23.tv/b3").json()["execute_id"]
        assert_coded(metadata(client, "https://b23.tv/b4"), codes.BALANCE_INSUFFICIENT)
        assert_coded(submit(client, "https://b23.tv/b5"), codes.BALANCE_INSUFFICIENT)
        assert_coded(poll(client, execute_id), codes.BALANCE_INSUFFICIENT)
        refused = process.stats()

        process.set_faults(balance_calls=None)
        assert code_of(poll(client, execute_id)) == 0
        assert code_of(metadata(client, "https://b23.tv/b4")) == 0
        topped_up = process.stats()
    assert refused["paid_runs"] == 3 and refused["submits"] == 1
    assert refused["metadata_calls"] == 2 and len(refused["jobs"]) == 1
    assert refused["account_errors"] == {"4011": 3}
    assert topped_up["paid_runs"] == 4


def test_concurrent_runs_cannot_overspend_the_balance() -> None:
    """Runs that arrive together are billed one by one: exactly `balance_calls` get through."""

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/v1/workflow/run",
                        json={
                            "workflow_id": METADATA_WORKFLOW_ID,
                            "parameters": {"input": f"c{i}"},
                        },
                    )
                    for i in range(12)
                )
            )
        return [answer.json()["code"] for answer in answers]

    with emulator(balance_calls=3) as (process, _):
        answered = asyncio.run(burst(process.url))
        stats = process.stats()
    assert sorted(answered) == [0] * 3 + [codes.BALANCE_INSUFFICIENT] * 9
    assert stats["paid_runs"] == 3


def test_daily_quota_refuses_every_request_after_n() -> None:
    """Every request counts against the quota, refused ones too; then everything is 4008."""
    with emulator(daily_quota=3) as (process, client):
        assert code_of(poll(client, "1")) == codes.RECORD_NOT_FOUND
        execute_id = submit(client, "https://b23.tv/q1").json()["execute_id"]
        assert code_of(metadata(client, "https://b23.tv/q2")) == 0
        assert_coded(metadata(client, "https://b23.tv/q3"), codes.DAILY_QUOTA)
        assert_coded(submit(client, "https://b23.tv/q4"), codes.DAILY_QUOTA)
        assert_coded(poll(client, execute_id), codes.DAILY_QUOTA)
        stats = process.stats()
    assert stats["requests"] == 6 and stats["paid_runs"] == 2
    assert stats["account_errors"] == {"4008": 3}


def test_async_runs_need_a_paid_plan_but_sync_runs_work() -> None:
    """A free plan refuses only is_async runs: the submit step must stop, metadata go on."""
    with emulator(async_needs_paid_plan=True) as (process, client):
        assert_coded(submit(client, "https://b23.tv/a1"), codes.ASYNC_NEEDS_PAID_PLAN)
        assert code_of(metadata(client, "https://b23.tv/a1")) == 0
        stats = process.stats()
    assert stats["submits"] == 0 and stats["jobs"] == {}
    assert stats["paid_runs"] == 1
    assert stats["account_errors"] == {"6003": 1}


def test_a_revoked_token_gets_code_4100_with_http_200() -> None:
    """Coze refuses a token in the body, not with a 401: a client must read the code."""
    with emulator(require_token="pat_right") as (process, client):
        right = {"Authorization": "Bearer pat_right"}
        wrong = {"Authorization": "Bearer pat_revoked"}
        execute_id = submit(client, "https://b23.tv/t1", **right).json()["execute_id"]
        assert_coded(submit(client, "https://b23.tv/t2", **wrong), codes.AUTH_FAILED)
        assert_coded(metadata(client, "https://b23.tv/t3"), codes.AUTH_FAILED)
        assert_coded(poll(client, execute_id, **wrong), codes.AUTH_FAILED)
        assert code_of(poll(client, execute_id, **right)) == 0
        stats = process.stats()
    assert stats["auth_failures"] == 3 and stats["account_errors"] == {"4100": 3}
    assert stats["paid_runs"] == 1 and list(stats["submits_per_input"]) == ["https://b23.tv/t1"]
