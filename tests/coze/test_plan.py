"""The run's rate over real loopback HTTP: COZE_RPS when set, else the plan's workflow QPS from
the emulator's benefits API, else the default, each with a line saying where it came from."""

from __future__ import annotations

import asyncio

from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.plan import settle_rate, workflow_qps
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.coze.servers import free_port

TOKEN = "pat_plan_rate_test_token_0123456789"


def settle(url: str, **env: str) -> tuple[str, float]:
    """The rate line and the rate the client's limiter then keeps."""

    async def scenario() -> tuple[str, float]:
        settings = CozeSettings.from_env(
            {"COZE_BASE_URL": url, "COZE_API_TOKEN": TOKEN, "COZE_MAX_ATTEMPTS": "1", **env}
        )
        async with CozeClient(settings) as client:
            return await settle_rate(client), client.limiter.max_rps

    return asyncio.run(scenario())


def test_the_plan_qps_is_the_rate_unless_coze_rps_is_set() -> None:
    config = EmulatorConfig(profile="fast", benefits_qps=37, require_token=TOKEN)
    with EmulatorProcess(config) as emulator:
        assert settle(emulator.url) == (
            "rate 37 req/s from the account's plan (benefits API)",
            37.0,
        )
        assert settle(emulator.url, COZE_RPS="5") == ("rate 5 req/s from COZE_RPS", 5.0)
        stats = emulator.stats()
    assert stats["benefit_reads"] == 1, "COZE_RPS needs no read of the plan"
    assert stats["requests"] == 0, "the read is no workflow call"


def test_a_token_that_may_not_read_the_plan_keeps_the_default_and_says_so() -> None:
    config = EmulatorConfig(profile="fast", refuse_benefits=True)
    with EmulatorProcess(config) as emulator:
        line, rate = settle(emulator.url)
    assert line == (
        "the token may not read the plan's QPS (code 4101): using the default 5 req/s "
        "(set COZE_RPS to the plan's QPS)"
    )
    assert rate == 5.0


def test_a_plan_that_cannot_be_read_keeps_the_default() -> None:
    line, rate = settle(f"http://127.0.0.1:{free_port()}")
    assert line.startswith("could not read the account's plan (benefits API: ")
    assert line.endswith("using the default 5 req/s (set COZE_RPS to the plan's QPS)")
    assert rate == 5.0 and TOKEN not in line


def test_only_a_quota_for_workflows_is_a_rate() -> None:
    def answer(strategy: str, total: object, resource: str = "workflow") -> dict:
        item = {"used": 0, "total": total, "strategy": strategy}
        info = {"effective": {"status": "valid", "item_info": item}, "resource_id": resource}
        return {"code": 0, "data": {"benefit_info": [{**info, "benefit_type": "api_run_qps"}]}}

    assert workflow_qps(answer("by_quota", 100)) == 100.0
    assert workflow_qps(answer("unlimit", 1)) is None, "an unlimited strategy says 1"
    assert workflow_qps(answer("by_quota", 100, "chat")) is None
    assert workflow_qps(answer("by_quota", True)) is None
    assert workflow_qps({"code": 0, "data": {"basic_info": {"user_level": "free"}}}) is None
