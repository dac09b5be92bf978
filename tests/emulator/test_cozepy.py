"""The official Python SDK (cozepy) reads every kind of answer the emulator gives: evidence that
the emulator's shapes are the service's, not only what our own client happens to accept."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pipeline.coze import codes
from pipeline.coze.config import METADATA_WORKFLOW_ID, TRANSCRIPT_WORKFLOW_ID
from pipeline.emulator import EmulatorProcess, content
from tests.emulator.helpers import emulator

with warnings.catch_warnings():  # cozepy imports authlib.jose, which warns on import
    import authlib.deprecate  # installs an "always" filter; ours below must come after it

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from cozepy import Coze, CozeAPIError, SyncHTTPClient, TokenAuth, WorkflowExecuteStatus

VIDEO = "https://www.bilibili.com/video/BV1XRgNzjEF7/"


class Recorded:
    """cozepy on the emulator, keeping every raw answer to compare with what cozepy made of it."""

    def __init__(self, process: EmulatorProcess) -> None:
        self.responses: list[httpx.Response] = []
        http = SyncHTTPClient(event_hooks={"response": [self.responses.append]})
        self.coze = Coze(auth=TokenAuth("pat_cozepy"), base_url=process.url, http_client=http)

    def run(self, text: str, is_async: bool = False) -> Any:
        workflow_id = TRANSCRIPT_WORKFLOW_ID if is_async else METADATA_WORKFLOW_ID
        return self.coze.workflows.runs.create(
            workflow_id=workflow_id, parameters={"input": text}, is_async=is_async
        )

    def history(self, execute_id: str) -> Any:
        return self.coze.workflows.runs.run_histories.retrieve(
            workflow_id=TRANSCRIPT_WORKFLOW_ID, execute_id=execute_id
        )


@pytest.fixture
def sdk() -> Iterator[tuple[EmulatorProcess, Recorded]]:
    with emulator(job_seconds=1.0, seed=11) as (process, _):
        yield process, Recorded(process)


def test_cozepy_reads_runs_and_records(sdk: tuple[EmulatorProcess, Recorded]) -> None:
    """Sync run, async submit, a Running and a Success record, a trimmed record."""
    process, recorded = sdk
    meta = recorded.run("https://v.douyin.com/fEAkiIPyAd4/")
    assert set(json.loads(meta.data)) == {"avatar", "cover_url", "nickname", "output", "title"}
    assert meta.debug_url.startswith("https://www.coze.cn/work_flow?") and meta.usage is not None

    job = recorded.run(VIDEO, is_async=True)
    assert job.execute_id.isdigit()
    running = recorded.history(job.execute_id)
    assert running.execute_status == WorkflowExecuteStatus.RUNNING
    assert running.error_code == 0 and not running.is_output_trimmed

    time.sleep(1.1)
    done = recorded.history(job.execute_id)
    assert done.execute_status == WorkflowExecuteStatus.SUCCESS and done.error_code == 0
    spoken, title = content.transcript(VIDEO)
    assert json.loads(json.loads(done.output)["Output"]) == {"content": spoken, "title": title}
    assert done.response.logid == recorded.responses[-1].headers["x-tt-logid"]

    process.set_faults(trim_rate=1.0, job_seconds=0.0)
    trimmed = recorded.history(recorded.run(VIDEO + "?trim", is_async=True).execute_id)
    assert trimmed.execute_status == WorkflowExecuteStatus.SUCCESS
    assert trimmed.is_output_trimmed
    with pytest.raises(ValueError):
        json.loads(trimmed.output)


ERRORS: dict[int, tuple[dict[str, Any], Callable[[Recorded], Any]]] = {
    codes.RECORD_NOT_FOUND: ({}, lambda r: r.history("7000000000000000001")),
    codes.ASYNC_NEEDS_PAID_PLAN: ({"async_needs_paid_plan": True}, lambda r: r.run(VIDEO, True)),
    codes.BALANCE_INSUFFICIENT: ({"balance_calls": 0}, lambda r: r.run(VIDEO)),
    codes.AUTH_FAILED: ({"require_token": "pat_another"}, lambda r: r.run(VIDEO)),
}


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_cozepy_raises_coded_errors_with_code_and_logid(
    sdk: tuple[EmulatorProcess, Recorded], code: int
) -> None:
    """cozepy turns the HTTP 200 coded body into CozeAPIError; its logid comes from the header
    only, so when the header is absent it has none while the body still holds detail.logid."""
    process, recorded = sdk
    faults, call = ERRORS[code]
    process.set_faults(**faults)
    header_seen = absent_seen = False
    for _ in range(16):
        with pytest.raises(CozeAPIError) as caught:
            call(recorded)
        answer = recorded.responses[-1]
        body_logid = answer.json()["detail"]["logid"]
        assert caught.value.code == code and answer.status_code == 200
        assert caught.value.logid == answer.headers.get("x-tt-logid")
        if caught.value.logid is None:
            absent_seen = True
        else:
            header_seen = True
            assert caught.value.logid == body_logid
        if header_seen and absent_seen:
            break
    assert header_seen and absent_seen
