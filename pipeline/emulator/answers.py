"""How the emulator answers: JSON bodies as Coze writes them, coded errors, and no answer at all.

Coded errors are HTTP 200 with `{"code", "msg", "detail": {"logid"}}` (tests/coze/fixtures,
err_docs_*.json; the messages are the fixtures'). The `x-tt-logid` header is on about half of
them only, so a client has to read `detail.logid` too.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.coze import codes

MESSAGES: dict[int, str] = {
    codes.BAD_PARAMETER: "invalid parameter",
    codes.DAILY_QUOTA: "用户限流",
    codes.SYSTEM_LIMIT: "已达系统请求上限，请稍后重试",
    codes.BALANCE_INSUFFICIENT: "当前账户的 Coze Token 余额不足",
    codes.MODEL_ERROR: "模型错误",
    codes.PAY_AS_YOU_GO_ARREARS: "火山Bot调用按量余额不足",
    codes.MODEL_ARREARS: "模型欠费",
    codes.SENSITIVE_CONTENT: "内容包含敏感信息,请修改后重新提交",
    codes.AUTH_FAILED: "身份验证无效",
    codes.PERMISSION_DENIED: "没有权限访问该资源",
    codes.RISK_CONTROL: "命中风控拦截",
    codes.WORKFLOW_NOT_FOUND: "workflow not found or not published",
    codes.RECORD_NOT_FOUND: "未找到执行记录",
    codes.INTERNAL_ERROR: "服务器内部错误",
    codes.WORKFLOW_FAILED: "workflow execution failed",
    codes.ASYNC_NEEDS_PAID_PLAN: (
        "Workflow execution with is_async=true is a premium feature available only to "
        "Coze Professional users"
    ),
}
TRANSIENT_CODES = (codes.SYSTEM_LIMIT, codes.RISK_CONTROL, codes.INTERNAL_ERROR)
RAW_SEND = "emulator.raw_send"


class Answers:
    """Builds answers; its own rng decides logids and which coded errors carry the header."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def logid(self) -> str:
        """Like the recorded ones: a timestamp, then 20 hex digits."""
        return time.strftime("%Y%m%d%H%M%S") + f"{self.rng.getrandbits(80):020X}"

    def json(
        self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return Response(text, status_code=status, media_type="application/json", headers=headers)

    def ok(self, body: dict[str, Any]) -> Response:
        """A success: the service always sends the header with those."""
        return self.json(body, headers={"x-tt-logid": self.logid()})

    def coded(self, code: int, msg: str | None = None, **extra: Any) -> Response:
        """A coded error, HTTP 200; the logid in the body always, in the header half the time."""
        logid = self.logid()
        msg = msg or MESSAGES.get(code, "error")
        body = {"code": code, "msg": msg, **extra, "detail": {"logid": logid}}
        headers = {"x-tt-logid": logid} if self.rng.random() < 0.5 else {}
        return self.json(body, headers=headers)

    def http_error(self, status: int, code: int, msg: str, **headers: str) -> Response:
        """An HTTP-level error (429, 5xx): a bare `{code, msg}` body, as coze-js's fixtures."""
        return self.json(
            {"code": code, "msg": msg}, status, headers={"x-tt-logid": self.logid(), **headers}
        )


class NoAnswer(Response):
    """Sends nothing: the connection is already closed."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


class KeepRawSend:
    """Outermost ASGI layer: keeps the server's own `send`, whose owner holds the connection.

    Starlette wraps `send` in closures; uvicorn's own one is a bound method of the request
    cycle, which has the asyncio transport. That is the only way to close a connection without
    an HTTP answer: an exception before the answer makes uvicorn send a 500 instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


async def close_without_answer(request: Request) -> Response:
    """Close the TCP connection after the request was read: the client sees a dropped connection."""
    send: Callable[..., Awaitable[None]] | None = request.scope.get(RAW_SEND)
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("the ASGI server does not expose its connection: cannot drop it")
    transport.close()
    for _ in range(100):  # let connection_lost run, so the server does not answer 500 for us
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
    return NoAnswer()


def benefits_body(qps: float, resource_id: str, logid: str) -> dict[str, Any]:
    """The account's plan, as coze-py's `benefits.retrieve` reads it: the workflow QPS in
    `effective.item_info.total`."""
    now = int(time.time())
    item = {
        "used": 0,
        "total": qps,
        "start_at": now - 86400,
        "end_at": now + 365 * 86400,
        "strategy": "by_quota",
    }
    status = {"status": "valid", "item_info": item}
    info = {
        "basic": status,
        "extra": [],
        "effective": status,
        "resource_id": resource_id,
        "benefit_type": "api_run_qps",
    }
    data = {"basic_info": {"user_level": "free"}, "benefit_info": [info]}
    return {"code": 0, "msg": "", "data": data, "detail": {"logid": logid}}
