"""The recorded answers decode to the documented fields; any other shape fails that one item."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.coze.decode import (
    decode_metadata,
    decode_run,
    decode_submission,
    error_for,
    parse_envelope,
    valid_unicode,
)
from pipeline.coze.errors import (
    AccountError,
    BadRequestError,
    EndpointError,
    JobEndedError,
    JobStateUnknownError,
    MalformedPayloadError,
    PermanentError,
    RateLimitedError,
    ServerError,
    UnknownCodeError,
    WorkflowFailedError,
    WorkflowUnavailableError,
)
from pipeline.coze.models import RawExchange
from tests.coze.servers import recorded


def exchange(body: str | None, status: int = 200) -> RawExchange:
    return RawExchange(
        "GET",
        "/",
        "7535294053631819826",
        "7535298640308535332",
        status,
        body,
        None,
        datetime.now(UTC),
    )


def history(**record_changes: object) -> str:
    body = json.loads(recorded("transcript_run_history_success.json"))
    body["data"][0].update(record_changes)
    return json.dumps(body, ensure_ascii=False)


def test_trimmed_output_keeps_what_survived_the_cut():
    output = json.loads(recorded("transcript_run_history_success.json"))["data"][0]["output"]
    record = decode_run(exchange(history(output=output[:240], is_output_trimmed=True)))
    assert record.is_output_trimmed
    assert record.content is not None and record.content.startswith("你好，大家现在是 7月17号")
    assert len(record.content) < 200


SPOKEN = '你好，"引号"\n换行 \\ 和 emoji 😀 的文案' * 3
TITLE = "以太币 7/17"


def _output(separators: tuple[str, str] | None, title_first: bool) -> str:
    fields = {"content": SPOKEN, "title": TITLE}
    if title_first:
        fields = {"title": TITLE, "content": SPOKEN}
    inner = json.dumps(fields, ensure_ascii=False, separators=separators)
    return json.dumps({"node_status": "{}", "Output": inner}, separators=separators)


@pytest.mark.parametrize("separators", [(",", ":"), None], ids=["compact", "spaced"])
@pytest.mark.parametrize("title_first", [False, True], ids=["content_first", "title_first"])
def test_a_trimmed_output_cut_anywhere_keeps_a_prefix_and_never_ends_the_job(
    separators: tuple[str, str] | None, title_first: bool
) -> None:
    """Any writer's spacing and key order, the cut at every character (inside escapes, the
    outer or the inner JSON): the job is a success with the text before the cut."""
    output = _output(separators, title_first)
    recovered = 0
    for cut in range(len(output)):
        record = decode_run(exchange(history(output=output[:cut], is_output_trimmed=True)))
        assert record.status == "Success" and record.is_output_trimmed
        assert record.content is None or SPOKEN.startswith(record.content), cut
        assert record.title is None or TITLE.startswith(record.title), cut
        recovered += bool(record.content)
    assert recovered > len(output) // 3, "most cuts fall inside the content and keep some"


def test_a_trimmed_output_whose_inner_json_alone_is_cut_keeps_its_content() -> None:
    inner = json.dumps({"content": SPOKEN, "title": TITLE}, ensure_ascii=False)
    output = json.dumps({"node_status": "{}", "Output": inner[:40]}, ensure_ascii=False)
    record = decode_run(exchange(history(output=output, is_output_trimmed=True)))
    assert record.content and SPOKEN.startswith(record.content) and record.title is None


def test_a_trimmed_record_without_output_is_still_a_success() -> None:
    record = decode_run(exchange(history(output=None, is_output_trimmed=True)))
    assert record.status == "Success" and record.content is None


def test_untrimmed_cut_output_ends_the_job():
    output = json.loads(recorded("transcript_run_history_success.json"))["data"][0]["output"]
    with pytest.raises(JobEndedError, match="not valid JSON"):
        decode_run(exchange(history(output=output[:240])))


def test_error_code_as_string_or_integer():
    assert decode_run(exchange(history(error_code=0))).error_code is None
    failed = decode_run(
        exchange(history(execute_status="Fail", error_code=720702002, error_message="node timeout"))
    )
    assert (failed.status, failed.error_code, failed.error_message) == (
        "Fail",
        720702002,
        "node timeout",
    )
    assert failed.content is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"code":0,"msg":"Success","data":null}', "data is NoneType"),
        ('{"code":0,"msg":"Success","data":"not json"}', "data is not valid JSON"),
        ('{"code":0,"msg":"Success","data":"[1,2]"}', "data is not a JSON object"),
        (
            '{"code":0,"msg":"Success","data":"{\\"title\\":5,\\"cover_url\\":\\"u\\",\\"output\\":\\"o\\"}"}',
            "title is int",
        ),
        (
            '{"code":0,"msg":"Success","data":"{\\"title\\":\\"t\\",\\"output\\":\\"o\\"}"}',
            "cover_url is NoneType",
        ),
        ('{"code":0,"msg":"Success","data":"{}"', "not a JSON object"),
        ("[]", "not a JSON object"),
    ],
)
def test_wrong_metadata_shapes_are_malformed(body, why):
    with pytest.raises(MalformedPayloadError, match=why) as caught:
        decode_metadata(exchange(body))
    assert caught.value.raw is not None and caught.value.raw.body == body
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "change",
    [
        {"output": None},
        {"output": 5},
        {"output": '{"node_status":"{}"}'},
        {"output": '{"Output":"{\\"content\\": 7}"}'},
    ],
)
def test_a_finished_job_whose_output_cannot_be_read_has_ended(change):
    with pytest.raises(JobEndedError, match="output cannot be read"):
        decode_run(exchange(history(**change)))


def test_an_unknown_execute_status_says_the_state_is_unknown_not_the_end_of_the_job():
    for status in ("Cancelled", "Timeout", None):
        with pytest.raises(JobStateUnknownError, match=f"execute_status {status!r}") as caught:
            decode_run(exchange(history(execute_status=status)))
        assert caught.value.scope != "job" and not caught.value.retryable


def test_text_with_half_an_emoji_is_made_valid_unicode():
    """A lone surrogate (JavaScript cut an emoji in two) can be neither stored nor printed."""
    data = json.dumps(
        {"title": "标题\ud83d", "nickname": "\udc00作者", "cover_url": "", "output": ""}
    )
    assert "\\ud83d" in data  # travels as an escape, as a JSON writer sends it
    result = decode_metadata(exchange(json.dumps({"code": 0, "msg": "Success", "data": data})))
    assert (result.title, result.nickname) == ("标题\ufffd", "\ufffd作者")
    output = json.dumps({"Output": json.dumps({"content": "话\ud83d", "title": "t\ude00"})})
    record = decode_run(exchange(history(output=output)))
    assert (record.content, record.title) == ("话\ufffd", "t\ufffd")
    assert valid_unicode("完整的😀") == "完整的😀"


def test_missing_data_list_and_huge_answers_are_malformed():
    with pytest.raises(JobStateUnknownError, match="no run record"):
        decode_run(exchange('{"code":0,"msg":"","data":[]}'))
    huge = history(
        output=json.dumps(
            {"node_status": "{}", "Output": json.dumps({"content": "字" * 5_000_000})}
        )
    )
    with pytest.raises(JobEndedError, match="characters, over"):
        decode_run(exchange(huge))
    with pytest.raises(MalformedPayloadError, match="execute_id"):
        decode_submission(exchange('{"code":0,"msg":"Success","execute_id":"abc"}'))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, '{"code":4013,"msg":"too many"}', RateLimitedError),
        (429, "slow down", RateLimitedError),
        (200, '{"code":4020,"msg":"rpm"}', RateLimitedError),
        (200, '{"code":4013,"msg":"model error"}', ServerError),
        (401, '{"code":4100,"msg":"bad token"}', AccountError),
        (401, "unauthorized", AccountError),
        (502, "<html>bad gateway</html>", ServerError),
        (408, "request timeout", ServerError),
        (200, "<html>sign in</html>", EndpointError),
        (404, "Not Found", EndpointError),
        (404, '{"code":404,"msg":"not found"}', EndpointError),
        (200, '{"code":4019,"msg":"火山Bot调用按量余额不足"}', AccountError),
        (200, '{"code":4022,"msg":"模型欠费"}', AccountError),
        (200, '{"code":4012,"msg":"invalid model"}', WorkflowUnavailableError),
        (200, '{"code":4105,"msg":"内容包含敏感信息"}', PermanentError),
        (200, '{"code":4999,"msg":"new"}', UnknownCodeError),
        (200, '{"code":4006,"msg":"invalid bot"}', UnknownCodeError),
        (409, '{"code":1001,"msg":"conflict"}', UnknownCodeError),
        (404, '{"code":4200,"msg":"workflow not found"}', WorkflowUnavailableError),
        (200, '{"code":4200,"msg":"workflow not found"}', WorkflowUnavailableError),
        (200, '{"code":6000,"msg":"workflow failed"}', WorkflowFailedError),
        (200, '{"code":4000,"msg":"bad input"}', BadRequestError),
    ],
)
def test_errors_are_classified_by_what_to_do(status, body, error):
    answer = exchange(body, status)
    found = error_for(answer, parse_envelope(answer.body))
    assert type(found) is error
    assert found.retryable == (error in (RateLimitedError, ServerError))
