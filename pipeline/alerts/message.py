"""What an alert says, and the body each chat service's incoming webhook wants: pure, no I/O.

The cause is read from the run's step failures the way `python -m pipeline run` reads them, so
the alert carries the same halt line the run prints. Every text passes `scrub` here, the last
place it is built, so no registered secret reaches a chat room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pipeline.coze.errors import HALT_CODE_KEY, HALT_SCOPE_KEY
from pipeline.scrub import scrub
from pipeline.terminal import printable

# Dagster for the types alone: every command but `run` and `ui` (sql, search, plan, check, ...)
# reads the settings, which reach this module, and starts a second sooner without it.
if TYPE_CHECKING:
    import dagster as dg

LINE_CHARS = 2000
FEISHU_HOSTS = frozenset({"open.feishu.cn", "open.larksuite.com"})
DINGTALK_WECOM_HOSTS = frozenset({"oapi.dingtalk.com", "qyapi.weixin.qq.com"})
SLACK_HOSTS = frozenset({"hooks.slack.com"})
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")

Kind = Literal["halt", "failure"]


@dataclass(frozen=True)
class Cause:
    """Why a run ended badly. Two runs with the same `key` share a cause: Coze's halt scope and
    code, or the failed step and the kind of its innermost error."""

    kind: Kind
    line: str
    scope: str | None = None
    code: int | None = None
    step: str | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        if self.kind == "halt":
            return f"halt:{self.scope}:{self.code}"
        if self.step is None:
            return "failure:run"
        return f"failure:{self.step}:{self.error}"


def _value(metadata: Mapping[str, dg.MetadataValue], name: str) -> Any:
    entry = metadata.get(name)
    return None if entry is None else entry.value


def cause_of(step_failures: Sequence[dg.DagsterEvent], run_message: str | None) -> Cause:
    """The first failed step's cause: a Coze halt (the step's `HALT_SCOPE_KEY` metadata and
    its one-line description), else the innermost error under Dagster's wrappers; a run that
    failed outside any step (its process died) has only the run's own message."""
    for event in step_failures:
        data = event.step_failure_data
        if data is None:
            continue
        user = data.user_failure_data
        if user is not None and HALT_SCOPE_KEY in user.metadata:
            code = _value(user.metadata, HALT_CODE_KEY)
            return Cause(
                "halt",
                user.description or "Coze halted the run",
                scope=str(_value(user.metadata, HALT_SCOPE_KEY)),
                code=code if isinstance(code, int) else None,
            )
        error = data.error
        while error is not None and error.cause is not None:
            error = error.cause
        message = error.message.strip() if error is not None else "unknown error"
        kind = error.cls_name if error is not None else None
        return Cause(
            "failure", f"step {event.step_key} failed: {message}", step=event.step_key, error=kind
        )
    return Cause("failure", run_message or "the run failed")


def batch_of(tags: Mapping[str, str]) -> str:
    """The run's batch (partition key), or the range a backfill ran in one run."""
    if partition := tags.get(PARTITION_TAG):
        return partition
    start, end = (tags.get(tag) for tag in RANGE_TAGS)
    if start and end:
        return start if start == end else f"{start} … {end}"
    return "(no batch)"


@dataclass(frozen=True)
class Alert:
    cause: Cause
    batch: str
    run_id: str

    @property
    def text(self) -> str:
        verb = "halted" if self.cause.kind == "halt" else "failed"
        return scrub(
            f"Pipeline run {verb}: {printable(self.cause.line, LINE_CHARS)}\n"
            f"batch: {printable(self.batch, 300)}\n"
            f"run: {self.run_id}"
        )


def webhook_body(url: str, alert: Alert) -> dict[str, Any]:
    """The JSON body for the webhook at `url`, by its host: Feishu/Lark, DingTalk and WeCom
    (text messages), Slack, or a plain object for anything else."""
    host = (urlsplit(url).hostname or "").lower()
    text = alert.text
    if host in FEISHU_HOSTS:
        return {"msg_type": "text", "content": {"text": text}}
    if host in DINGTALK_WECOM_HOSTS:
        return {"msgtype": "text", "text": {"content": text}}
    if host in SLACK_HOSTS:
        return {"text": text}
    cause = alert.cause
    return {
        "text": text,
        "run_id": alert.run_id,
        "batch": scrub(alert.batch),
        "kind": cause.kind,
        "scope": cause.scope,
        "code": cause.code,
        "step": cause.step,
    }
