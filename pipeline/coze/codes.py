"""Coze's error codes and their scope: the one table the client classifies answers by.

It holds every code of Coze's published error-code page
(https://www.coze.cn/open/docs/developer_guides/coze_error_codes), cross-checked with the official
SDKs (coze-py, coze-js, coze-go) and mirrored in docs/coze.md. The scope says who an error is
about, and so what the pipeline does:

- `item`: this video's request is at fault; permanent for it, retrying only spends money;
- `job`: this transcript job is over on Coze's side (lost record, or an output that can never
  be read); a new submit would be a new paid run;
- `workflow`: every item would get it (workflow missing, unpublished, unconfigured, or its
  model gone): stop the step;
- `account`: the token, balance, arrears, quota or plan: stop the run, keep every item pending;
- `endpoint`: COZE_BASE_URL does not lead to Coze (a proxy's page, a path that does not exist,
  nothing listening): every item would get it, so stop the run and keep every item pending;
- `service`: every call of the run fails the same way (an outage): stop the run, keep every
  item pending; nobody's fault but the service's;
- `transient`: try again later; nothing is anyone's fault;
- `rate_limit`: transient, and everyone slows down;
- `unknown`: a code in no table, or one the page gives only for other APIs (chats, uploads):
  nobody knows whose fault it is, so it is never permanent. The video stays retryable (counted
  against its attempts), and the same code for three videos in a row halts the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal[
    "item",
    "job",
    "workflow",
    "account",
    "endpoint",
    "service",
    "transient",
    "rate_limit",
    "unknown",
]

SUCCESS = 0
BAD_PARAMETER = 4000
DAILY_QUOTA = 4008
SYSTEM_LIMIT = 4009
PROMPT_TOO_LONG = 4010
BALANCE_INSUFFICIENT = 4011
INVALID_MODEL = 4012
MODEL_ERROR = 4013
CANNOT_ANSWER = 4014
BOT_NOT_PUBLISHED = 4015
CHAT_RUNNING = 4016
PAY_AS_YOU_GO_ARREARS = 4019
RPM_EXCEEDED = 4020
WORKFLOW_NOT_CONFIGURED = 4021
MODEL_ARREARS = 4022
AUTH_FAILED = 4100
PERMISSION_DENIED = 4101
RISK_CONTROL = 4102
SENSITIVE_CONTENT = 4105
WORKFLOW_NOT_FOUND = 4200
FILE_EMPTY = 4300
FILE_TOO_LARGE = 4302
FILE_TYPE_UNSUPPORTED = 4303
FILE_INVALID = 4304
RECORD_NOT_FOUND = 4314
EXECUTION_ENDED = 4315
INTERNAL_ERROR = 5000
WORKFLOW_FAILED = 6000
ASYNC_NEEDS_PAID_PLAN = 6003
TOKEN_INVALID = 700012006


@dataclass(frozen=True, slots=True)
class CodeInfo:
    scope: Scope
    meaning: str
    remedy: str
    """What a person should do; shown on the one line that ends a run."""


RECHARGE = "recharge the Coze account (or settle its arrears)"
OTHER_API = "a code of Coze's other APIs, never expected from a workflow run"
CODES: dict[int, CodeInfo] = {
    BAD_PARAMETER: CodeInfo("item", "bad request parameter", "fix the link; not retried"),
    PROMPT_TOO_LONG: CodeInfo(
        "item", "the prompt is over the model's token limit", "not retried (input too long)"
    ),
    CANNOT_ANSWER: CodeInfo("item", "the question cannot be answered", "not retried"),
    SENSITIVE_CONTENT: CodeInfo(
        "item", "the content contains sensitive information", "not retried"
    ),
    FILE_EMPTY: CodeInfo("item", "the file is empty", "not retried"),
    FILE_TOO_LARGE: CodeInfo("item", "the file is over the size limit", "not retried"),
    FILE_TYPE_UNSUPPORTED: CodeInfo("item", "the file type is not supported", "not retried"),
    FILE_INVALID: CodeInfo("item", "the file is invalid", "not retried"),
    WORKFLOW_FAILED: CodeInfo("item", "the workflow ran and failed", "not retried"),
    WORKFLOW_NOT_FOUND: CodeInfo(
        "workflow",
        "workflow not found or not published",
        "check COZE_METADATA_WORKFLOW_ID / COZE_TRANSCRIPT_WORKFLOW_ID and publish the workflow",
    ),
    INVALID_MODEL: CodeInfo(
        "workflow",
        "invalid model (taken off the platform?)",
        "choose another model in the workflow and publish it again",
    ),
    BOT_NOT_PUBLISHED: CodeInfo(
        "workflow",
        "the bot is not published as an API service",
        "publish the bot the workflow uses as an API service",
    ),
    WORKFLOW_NOT_CONFIGURED: CodeInfo(
        "workflow", "workflow not configured", "configure and publish the workflow"
    ),
    AUTH_FAILED: CodeInfo("account", "token invalid or expired", "create a new token"),
    TOKEN_INVALID: CodeInfo("account", "access token invalid", "create a new token"),
    PERMISSION_DENIED: CodeInfo(
        "account",
        "token lacks permission for this resource",
        "give the token the workflow permissions, or create a new one",
    ),
    BALANCE_INSUFFICIENT: CodeInfo("account", "balance insufficient", RECHARGE),
    PAY_AS_YOU_GO_ARREARS: CodeInfo(
        "account", "pay-as-you-go balance insufficient: the account is in arrears", RECHARGE
    ),
    MODEL_ARREARS: CodeInfo(
        "account",
        "the model service is in arrears",
        "settle the model service's (Volcano Ark's) arrears",
    ),
    DAILY_QUOTA: CodeInfo(
        "account", "daily quota exceeded", "wait for the daily quota to reset (tomorrow)"
    ),
    ASYNC_NEEDS_PAID_PLAN: CodeInfo(
        "account",
        "async workflow runs need a paid plan",
        "upgrade the Coze plan (async runs are not in the free plan)",
    ),
    RPM_EXCEEDED: CodeInfo("rate_limit", "requests per minute over the purchased amount", ""),
    SYSTEM_LIMIT: CodeInfo("transient", "system limit, try later", ""),
    RISK_CONTROL: CodeInfo("transient", "risk control, try later", ""),
    MODEL_ERROR: CodeInfo("transient", "model error, try later", ""),
    CHAT_RUNNING: CodeInfo("transient", "a chat is already running, try later", ""),
    INTERNAL_ERROR: CodeInfo("transient", "internal error", ""),
    RECORD_NOT_FOUND: CodeInfo("job", "execution record not found (bad or expired execute_id)", ""),
    EXECUTION_ENDED: CodeInfo("transient", "execution already ended: read its record", ""),
    **{
        code: CodeInfo("unknown", f"{meaning} ({OTHER_API})", "")
        for code, meaning in {
            4001: "invalid chat",
            4002: "invalid conversation",
            4003: "meta_data over its limit",
            4004: "additional_messages over their limit",
            4005: "invalid message",
            4006: "invalid bot",
            4007: "stream=false needs auto_save_history=true",
            4104: "the chat cannot be cancelled",
            4201: "the member already exists",
            4301: "more than one file in an upload",
        }.items()
    },
}


def scope_of(code: int | None, http_status: int | None) -> Scope | None:
    """The scope of an answer, or None for a success. HTTP 429 is a rate limit whatever the
    body says; otherwise a code of the table wins over the HTTP status, since Coze sends coded
    errors with HTTP 200 and a code means the same on any status. A code in no table is
    `unknown`, never the item's fault, unless an error status says more (a gateway's 502). A body that is not JSON at all is `endpoint` on most statuses too;
    `decode.error_for` decides that, as it needs the body."""
    status = http_status or 0
    if status == 429:
        return "rate_limit"
    if code is not None and code in CODES:
        return CODES[code].scope
    if status in (401, 403):
        return "account"
    if status >= 500 or status == 408:
        return "transient"
    if status == 404:
        return "endpoint"  # Coze answers a missing workflow with code 4200, not a bare 404
    if code is not None and code != SUCCESS:
        return "unknown"
    if status == 400:
        return "item"
    return "unknown" if status >= 400 else None
