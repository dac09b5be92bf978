"""Every answer body of the official SDKs' tests and Coze's docs (tests/coze/fixtures, sources
in its INDEX.md), served over real HTTP with its exact status and headers, is
classified by the scope Coze's docs give it, and keeps its logid from the body or the header."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.errors import CozeError, MalformedPayloadError, UncertainError
from tests.coze.servers import ReplayServer

FIXTURES = Path(__file__).parent / "fixtures"

# fixture → what the pipeline must make of it: a scope of pipeline.coze.codes, "ok" for an
# answer to use, "malformed" for a success envelope that is not our workflows' shape, or
# "uncertain" for a submit's success that cannot be read (it may still be a paid job).
EXPECTED = {
    "err_cozejs_400_1001_detail": "unknown",  # a code (or a status) in no table: never the item's fault
    "err_cozejs_400_4000": "item",
    "err_cozejs_401_4100": "account",
    "err_cozejs_403_4101": "account",
    "err_cozejs_404_4200": "workflow",
    "err_cozejs_418": "unknown",  # a code (or a status) in no table: never the item's fault
    "err_cozejs_429_4013": "rate_limit",
    "err_cozejs_500": "transient",
    "err_cozejs_502": "transient",
    "err_cozepy_test_4000_json_fail": "item",
    "err_cozepy_test_code100": "unknown",  # a code (or a status) in no table: never the item's fault
    "err_cozepy_test_error_message_only": "item",
    "err_docs_4000": "item",
    "err_docs_4008": "account",
    "err_docs_4009": "transient",
    "err_docs_4009_logid_body_only": "transient",
    "err_docs_4011": "account",
    "err_docs_4013": "transient",
    "err_docs_4020": "rate_limit",
    "err_docs_4100": "account",
    "err_docs_4101": "account",
    "err_docs_4102": "transient",
    "err_docs_4200": "workflow",
    "err_docs_4314": "job",
    "err_docs_4315": "transient",
    "err_docs_5000": "transient",
    "err_docs_6003": "account",
    "err_docs_700012006": "account",
    "err_studio_500_internal": "transient",
    "history_docs_success": "ok",
    "history_go_success_string_error_code": "job",  # finished, but no Output to read
    "history_running_error_code_empty": "ok",
    "history_sdk_mock_running_int_error_code": "ok",
    "history_sdk_mock_success_plain_output": "job",  # finished, output not JSON
    "history_success_output_null": "job",  # finished, the end node returned nothing
    "run_docs_sync": "malformed",  # another workflow's data: no title
    "run_sdk_mock_async": "uncertain",  # the SDK's mock nests execute_id under data
    "run_sdk_mock_sync": "malformed",  # data is an object, not a JSON string
}


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def expected_logid(fixture: dict) -> str | None:
    """coze-js's rule: the body's detail.logid, else the x-tt-logid header."""
    try:
        detail = json.loads(fixture["body"]).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict) and detail.get("logid"):
        return detail["logid"]
    return fixture["headers"].get("x-tt-logid")


def test_every_fixture_has_an_expected_class() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED)


async def call(url: str, kind: str):
    """The client call each kind of answer comes back to: histories to a poll, sync runs to
    the metadata workflow, async runs and errors to a paid submit."""
    settings = CozeSettings.from_env({}, base_url=url, api_token="pat_fixture", http_attempts=1)
    async with CozeClient(settings) as client:
        if kind == "history":
            return await client.get_run("7535294053631819826", "7535298640308535332")
        if kind == "run_sync":
            return await client.run_metadata("https://v.douyin.com/fEAkiIPyAd4/")
        return await client.submit_transcript("https://v.douyin.com/fEAkiIPyAd4/")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_classified_by_scope(name: str) -> None:
    fixture = load(name)
    answer = (fixture["http_status"], fixture["body"])
    with ReplayServer(lambda path: answer, headers=fixture["headers"]) as server:
        try:
            result = asyncio.run(call(server.url, fixture["kind"]))
        except MalformedPayloadError as error:
            verdict, logid = "malformed", error.logid
        except UncertainError as error:
            verdict, logid = "uncertain", error.logid
        except CozeError as error:
            verdict, logid = error.scope, error.logid
        else:
            verdict, logid = "ok", result.raw.logid
        assert server.requests == 1, "no fixture answer may be re-sent with one attempt"
    assert verdict == EXPECTED[name]
    assert logid == expected_logid(fixture)
