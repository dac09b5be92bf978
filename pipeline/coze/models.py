"""What the Coze workflow API returns, typed. Pure data: decoding lives in `decode`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ExecuteStatus = Literal["Running", "Success", "Fail"]


@dataclass(frozen=True, slots=True)
class RawExchange:
    """One answer as received, for the warehouse's raw layer. Holds no token by construction."""

    method: str
    path: str
    workflow_id: str
    request_input: str
    http_status: int | None
    body: str | None
    logid: str | None
    received_at: datetime
    seconds: float = 0.0
    """From sending the request to its whole answer: a submit's job started about this long
    before its answer came."""


@dataclass(frozen=True, slots=True)
class MetadataResult:
    title: str
    nickname: str
    avatar_url: str
    play_url: str
    """The workflow calls it `cover_url`, but it is the video itself (`*.douyinvod.com`)."""
    cover_image_url: str
    """The workflow calls it `output`; it is the cover image (`*.douyinpic.com …webp`)."""
    debug_url: str | None
    logid: str | None
    raw: RawExchange


@dataclass(frozen=True, slots=True)
class Submission:
    execute_id: str
    workflow_id: str
    debug_url: str | None
    logid: str | None
    raw: RawExchange


@dataclass(frozen=True, slots=True)
class RunRecord:
    execute_id: str
    workflow_id: str
    status: ExecuteStatus
    error_code: int | None
    error_message: str | None
    is_output_trimmed: bool
    content: str | None
    title: str | None
    token_count: int | None
    create_time: int | None
    update_time: int | None
    logid: str | None
    debug_url: str | None
    raw: RawExchange

    @property
    def finished(self) -> bool:
        return self.status != "Running"
