"""Posting an alert: short, at most one retry, and never an exception.

An alert that cannot be delivered is worth one log line, not a failed run: the run's own
outcome (and `python -m pipeline run`'s exit status) must not depend on a chat service. A
webhook's URL is its password (anyone holding it can post to the room), so it is registered as
a secret and lines name only its host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.alerts.message import DINGTALK_WECOM_HOSTS, FEISHU_HOSTS
from pipeline.envvars import ConfigError
from pipeline.scrub import add_secret, scrub
from pipeline.terminal import printable

WEBHOOK_VAR = "PIPELINE_ALERT_WEBHOOK"
TIMEOUT_SECONDS = 5.0
ATTEMPTS = 2


def webhook_url(environ: Mapping[str, str]) -> str | None:
    """PIPELINE_ALERT_WEBHOOK, an http(s) URL with a host; None when unset."""
    url = environ.get(WEBHOOK_VAR, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{WEBHOOK_VAR} must be an http(s) URL with a host, got something else")
    add_secret(url)
    return url


def refusal(response: httpx.Response) -> str | None:
    """Feishu, DingTalk and WeCom answer HTTP 200 with a non-zero `code`/`errcode` when they
    drop a message (bad keyword, rate limit, revoked bot); other hosts' bodies mean nothing."""
    if response.url.host not in FEISHU_HOSTS | DINGTALK_WECOM_HOSTS:
        return None
    try:
        answer = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(answer, dict):
        return None
    for code_key, message_key in (("errcode", "errmsg"), ("code", "msg")):
        code = answer.get(code_key)
        if isinstance(code, int) and code != 0:
            return f"code {code} ({printable(answer.get(message_key, ''), 200)})"
    return None


def post_alert(url: str, body: dict[str, Any], *, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Send `body`; None when delivered, else one line saying why not. A refused connection,
    a timeout or an HTTP 5xx is tried once more; a 4xx or a coded refusal is not."""
    host = urlsplit(url).hostname
    reason = "not tried"
    for _ in range(ATTEMPTS):
        try:
            response = httpx.post(url, json=body, timeout=timeout)
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__} {error}".strip()
            continue
        if response.is_server_error:
            reason = f"HTTP {response.status_code}"
            continue
        if not response.is_success:
            reason = f"HTTP {response.status_code}"
            break
        if (refused := refusal(response)) is None:
            return None
        reason = refused
        break
    return scrub(f"the alert could not be sent to {host}: {printable(reason, 300)}")
