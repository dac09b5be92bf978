"""The alert's words and each chat service's body: pure, from real Dagster step failures."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.alerts.message import Alert, Cause, batch_of, cause_of, webhook_body
from pipeline.coze.errors import HALT_CODE_KEY, HALT_SCOPE_KEY
from pipeline.scrub import add_secret

HALT_LINE = (
    "Coze refused the account: code 4011 (balance insufficient), Coze says '余额不足' on the "
    "submit token (COZE_API_TOKEN). To do: recharge the Coze account, then run again."
)
HALT = Alert(Cause("halt", HALT_LINE, scope="account", code=4011), "monday.txt", "run-1")
TEXT = f"Pipeline run halted: {HALT_LINE}\nbatch: monday.txt\nrun: run-1"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
            {"msg_type": "text", "content": {"text": TEXT}},
        ),
        (
            "https://open.larksuite.com/open-apis/bot/v2/hook/abc",
            {"msg_type": "text", "content": {"text": TEXT}},
        ),
        (
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
            {"msgtype": "text", "text": {"content": TEXT}},
        ),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            {"msgtype": "text", "text": {"content": TEXT}},
        ),
        ("https://hooks.slack.com/services/T0/B0/abc", {"text": TEXT}),
        (
            "https://alerts.example.org/pipeline",
            {
                "text": TEXT,
                "run_id": "run-1",
                "batch": "monday.txt",
                "kind": "halt",
                "scope": "account",
                "code": 4011,
                "step": None,
            },
        ),
    ],
)
def test_each_host_gets_its_own_body(url: str, body: dict) -> None:
    assert webhook_body(url, HALT) == body


def test_the_host_decides_not_the_path_or_the_case() -> None:
    assert "msgtype" in webhook_body("https://OAPI.DingTalk.com/robot/send", HALT)
    generic = webhook_body("https://example.org/open.feishu.cn/hooks.slack.com", HALT)
    assert generic["kind"] == "halt"


def test_a_registered_secret_never_reaches_the_body() -> None:
    secret = "pat_alert_secret_3c4d5e6f"
    add_secret(secret)
    alert = Alert(
        Cause("halt", f"Coze refused the account: Coze says 'bad token {secret}'", "account"),
        f"batch-{secret}.txt",
        "run-2",
    )
    for url in ("https://hooks.slack.com/services/x", "https://example.org/hook"):
        body = webhook_body(url, alert)
        assert secret not in str(body) and "***" in body["text"], body


def test_a_line_is_one_line_without_terminal_escapes() -> None:
    alert = Alert(Cause("failure", "step x failed: \x1b[31mred\nsecond", "x", error="E"), "b", "r")
    assert alert.text.splitlines()[0] == "Pipeline run failed: step x failed: red second"


def test_the_batch_is_the_partition_or_the_range_a_backfill_ran() -> None:
    assert batch_of({"dagster/partition": "monday.txt"}) == "monday.txt"
    assert (
        batch_of(
            {
                "dagster/asset_partition_range_start": "a.txt",
                "dagster/asset_partition_range_end": "c.txt",
            }
        )
        == "a.txt … c.txt"
    )
    assert batch_of({}) == "(no batch)"


@dg.op
def halts() -> None:
    raise dg.Failure(
        description=HALT_LINE,
        metadata={HALT_CODE_KEY: 4011, HALT_SCOPE_KEY: "account"},
        allow_retries=False,
    )


@dg.op
def breaks() -> None:
    try:
        raise OSError("No space left on device")
    except OSError as error:
        raise RuntimeError("could not write the spool") from error


def _step_failures(op: dg.OpDefinition) -> list[dg.DagsterEvent]:
    result = (
        dg.GraphDefinition(name=f"{op.name}_graph", node_defs=[op])
        .to_job()
        .execute_in_process(raise_on_error=False)
    )
    return [event for event in result.all_events if event.is_step_failure]


def test_the_cause_of_a_halt_is_its_scope_code_and_line() -> None:
    cause = cause_of(_step_failures(halts), None)
    assert cause == Cause("halt", HALT_LINE, scope="account", code=4011)
    assert cause.key == "halt:account:4011"


def test_the_cause_of_a_failure_is_its_step_and_innermost_error() -> None:
    cause = cause_of(_step_failures(breaks), None)
    assert cause.line == "step breaks failed: OSError: No space left on device"
    assert cause.key == "failure:breaks:OSError"


def test_a_run_that_failed_outside_any_step_has_the_run_s_message() -> None:
    cause = cause_of([], "the run's process died; found by a later run")
    assert cause.line == "the run's process died; found by a later run"
    assert cause.key == "failure:run"
