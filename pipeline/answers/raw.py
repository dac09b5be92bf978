"""Rows of the raw layer, built from what the Coze client returned or raised."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.coze.errors import CozeError, UncertainError
from pipeline.coze.models import MetadataResult, RawExchange, RunRecord, Submission
from pipeline.status import Outcome

Kind = Literal["metadata", "submit", "poll"]


@dataclass(frozen=True, slots=True)
class RawRow:
    response_id: str
    kind: Kind
    video_key: str
    workflow_id: str
    request_input: str
    execute_id: str | None
    http_status: int | None
    outcome: Outcome
    error_code: int | None
    error_message: str | None
    logid: str | None
    received_at: datetime
    body: str | None
    seq: int | None = None  # numbered when committed; spooled rows have none yet

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawRow:
        return cls(
            **{
                **data,
                "outcome": Outcome(data["outcome"]),
                "received_at": datetime.fromisoformat(data["received_at"]),
            }
        )

    def exchange(self) -> RawExchange:
        """Rebuild what the client saw, so stored answers decode through the client's decoders."""
        return RawExchange(
            method="GET" if self.kind == "poll" else "POST",
            path="",
            workflow_id=self.workflow_id,
            request_input=self.request_input,
            http_status=self.http_status,
            body=self.body,
            logid=self.logid,
            received_at=self.received_at,
        )


def row_from_result(
    kind: Kind, video_key: str, result: MetadataResult | Submission | RunRecord
) -> RawRow:
    raw = result.raw
    execute_id = getattr(result, "execute_id", None)
    return _row(kind, video_key, raw, execute_id, Outcome.OK, None, None)


def row_from_error(
    kind: Kind,
    video_key: str,
    workflow_id: str,
    request_input: str,
    error: CozeError,
    execute_id: str | None = None,
    *,
    charged: bool = True,
) -> RawRow:
    """`charged=False` when the run has had no good answer yet, so the failure may be the
    service's rather than the video's: a retryable one then costs the video no attempt."""
    outcome = outcome_of(kind, error)
    if outcome == Outcome.RETRYABLE and not charged:
        outcome = Outcome.SERVICE_FAULT
    if error.raw is not None:
        return _row(kind, video_key, error.raw, execute_id, outcome, error.code, str(error))
    return RawRow(
        response_id=uuid.uuid4().hex,
        kind=kind,
        video_key=video_key,
        workflow_id=workflow_id,
        request_input=request_input,
        execute_id=execute_id,
        http_status=error.http_status,
        outcome=outcome,
        error_code=error.code,
        error_message=str(error),
        logid=error.logid,
        received_at=datetime.now(UTC),
        body=None,
    )


def outcome_of(kind: Kind, error: CozeError) -> Outcome:
    """What an error means for the work it answered.

    A paid job ends only by its record: on a poll, every error but a job-ending one leaves the
    job running. A submit that may have reached Coze is `uncertain`, resubmitted only on request;
    a sync run that may have run is retried by a later run, within the per-video attempts. A
    code nobody knows is never permanent.
    """
    if kind == "poll":
        return Outcome.PERMANENT if error.scope == "job" else Outcome.RETRYABLE
    if isinstance(error, UncertainError):
        return Outcome.UNCERTAIN if kind == "submit" else Outcome.RETRYABLE
    if error.retryable or error.scope == "unknown":
        return Outcome.RETRYABLE
    return Outcome.PERMANENT


def _row(
    kind: Kind,
    video_key: str,
    raw: RawExchange,
    execute_id: str | None,
    outcome: Outcome,
    code: int | None,
    message: str | None,
) -> RawRow:
    return RawRow(
        response_id=uuid.uuid4().hex,
        kind=kind,
        video_key=video_key,
        workflow_id=raw.workflow_id,
        request_input=raw.request_input,
        execute_id=execute_id,
        http_status=raw.http_status,
        outcome=outcome,
        error_code=code,
        error_message=message,
        logid=raw.logid,
        received_at=raw.received_at,
        body=raw.body,
    )
