"""Posting over real HTTP: delivered, or one line saying why not, and never an exception."""

from __future__ import annotations

import httpx
import pytest

from pipeline.alerts.send import post_alert, refusal, webhook_url
from pipeline.envvars import ConfigError
from pipeline.scrub import scrub
from tests.alerts.receiver import WebhookReceiver
from tests.coze.servers import free_port, listening_socket

BODY = {"text": "Pipeline run halted: code 4011"}


def test_a_delivered_alert_says_nothing_and_arrives_once() -> None:
    with WebhookReceiver() as receiver:
        assert post_alert(receiver.url, BODY) is None
    assert receiver.bodies == [BODY]


def test_a_server_error_is_tried_once_more_then_one_line() -> None:
    with WebhookReceiver(status=500, answer="{}") as receiver:
        line = post_alert(receiver.url, BODY)
    assert receiver.requests == 2
    assert line == "the alert could not be sent to 127.0.0.1: HTTP 500"


def test_a_client_error_is_not_retried() -> None:
    with WebhookReceiver(status=404, answer="{}") as receiver:
        line = post_alert(receiver.url, BODY)
    assert receiver.requests == 1 and line is not None and line.endswith("HTTP 404")


def test_nothing_listening_is_one_line() -> None:
    line = post_alert(f"http://127.0.0.1:{free_port()}/hook", BODY)
    assert line is not None and line.startswith("the alert could not be sent to 127.0.0.1: Connect")
    assert "\n" not in line


def test_a_server_that_never_answers_times_out() -> None:
    sock, url = listening_socket()  # accepts connections, never reads or answers
    with sock:
        line = post_alert(url + "/hook", BODY, timeout=0.2)
    assert line is not None and "ReadTimeout" in line


def test_only_chat_hosts_read_a_codedrefusal_in_a_200() -> None:
    with WebhookReceiver(answer='{"code": 200, "msg": "queued"}') as receiver:
        assert post_alert(receiver.url, BODY) is None


def test_the_webhook_setting_is_an_http_url_and_a_secret() -> None:
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-secret-hook"
    assert webhook_url({"PIPELINE_ALERT_WEBHOOK": url}) == url
    assert scrub(f"posting to {url}") == "posting to ***"
    assert webhook_url({}) is None and webhook_url({"PIPELINE_ALERT_WEBHOOK": " "}) is None
    for bad in ("open.feishu.cn/hook", "ftp://example.org/hook", "https://"):
        with pytest.raises(ConfigError, match="PIPELINE_ALERT_WEBHOOK must be an http"):
            webhook_url({"PIPELINE_ALERT_WEBHOOK": bad})


def test_feishu_dingtalk_and_wecomrefusals_in_a_200_are_not_delivered() -> None:
    def answered(url: str, body: str) -> str | None:
        request = httpx.Request("POST", url)
        return refusal(httpx.Response(200, text=body, request=request))

    feishu = "https://open.feishu.cn/open-apis/bot/v2/hook/x"
    dingtalk = "https://oapi.dingtalk.com/robot/send?access_token=x"
    assert answered(feishu, '{"code":19021,"msg":"sign match fail"}') == (
        "code 19021 (sign match fail)"
    )
    assert answered(feishu, '{"StatusCode":0,"code":0,"msg":"success"}') is None
    assert answered(dingtalk, '{"errcode":310000,"errmsg":"keywords not in content"}') == (
        "code 310000 (keywords not in content)"
    )
    assert answered(dingtalk, "not json") is None
    assert answered("https://hooks.slack.com/services/x", '{"code":1}') is None
