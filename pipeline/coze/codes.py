"""Coze's error codes and their scope: the one table the client classifies answers by.

It mirrors docs/coze.md (Coze's published error-code table, cross-checked with the
official SDKs). The scope says who an error is about, and so what the pipeline does:

- `item`: this video's request is at fault; permanent for it, retrying only spends money;
- `job`: this transcript job is over on Coze's side (lost record, or an output that can never
  be read); a new submit would be a new paid run;
- `workflow`: every item would get it (workflow missing or unpublished): stop the step;
- `account`: the token, balance, quota or plan: stop the run, keep every item pending;
- `endpoint`: COZE_BASE_URL does not lead to Coze (a proxy's page, a path that does not exist,
  nothing listening): every item would get it, so stop the run and keep every item pending;
- `transient`: try again later; nothing is anyone's fault;
- `rate_limit`: transient, and everyone slows down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["item", "job", "workflow", "account", "endpoint", "transient", "rate_limit"]

SUCCESS = 0
BAD_PARAMETER = 4000
DAILY_QUOTA = 4008
SYSTEM_LIMIT = 4009
BALANCE_INSUFFICIENT = 4011
MODEL_ERROR = 4013
RPM_EXCEEDED = 4020
AUTH_FAILED = 4100
PERMISSION_DENIED = 4101
RISK_CONTROL = 4102
WORKFLOW_NOT_FOUND = 4200
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


CODES: dict[int, CodeInfo] = {
    BAD_PARAMETER: CodeInfo("item", "bad request parameter", "fix the link; not retried"),
    WORKFLOW_FAILED: CodeInfo("item", "the workflow ran and failed", "not retried"),
    WORKFLOW_NOT_FOUND: CodeInfo(
        "workflow",
        "workflow not found or not published",
        "check COZE_METADATA_WORKFLOW_ID / COZE_TRANSCRIPT_WORKFLOW_ID and publish the workflow",
    ),
    AUTH_FAILED: CodeInfo("account", "token invalid or expired", "create a new token"),
    TOKEN_INVALID: CodeInfo("account", "access token invalid", "create a new token"),
    PERMISSION_DENIED: CodeInfo(
        "account",
        "token lacks permission for this resource",
        "give the token the workflow permissions, or create a new one",
    ),
    BALANCE_INSUFFICIENT: CodeInfo("account", "balance insufficient", "recharge the Coze account"),
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
    INTERNAL_ERROR: CodeInfo("transient", "internal error", ""),
    RECORD_NOT_FOUND: CodeInfo("job", "execution record not found (bad or expired execute_id)", ""),
    EXECUTION_ENDED: CodeInfo("transient", "execution already ended: read its record", ""),
}


def scope_of(code: int | None, http_status: int | None) -> Scope | None:
    """The scope of an answer, or None for a success. HTTP 429 is a rate limit whatever the
    body says; otherwise a documented code wins over the HTTP status, since Coze sends coded
    errors with HTTP 200 and a code means the same on any status. A body that is not JSON at
    all is `endpoint` on most statuses too; `decode.error_for` decides that, as it needs the body."""
    status = http_status or 0
    if status == 429:
        return "rate_limit"
    if code is not None and code != SUCCESS and code in CODES:
        return CODES[code].scope
    if status in (401, 403):
        return "account"
    if status >= 500 or status == 408:
        return "transient"
    if status == 404:
        return "endpoint"  # Coze answers a missing workflow with code 4200, not a bare 404
    if status >= 400 or (code is not None and code != SUCCESS):
        return "item"
    return None
