"""The statuses the warehouse stores, and the one rule of what a video needs next. Pure.

Five vocabularies, one per column that holds them: `item_state.status` (a step of one video),
`transcript_jobs.status` (Coze's own `execute_status`), `raw_responses.outcome` (what one answer
meant for its work), `link_status`'s two statuses (what a person reads) and
`media_files.status` (one saved file). They are `StrEnum`s,
so they are stored, compared and bound into SQL as the plain strings they always were.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ItemStatus(StrEnum):
    """`item_state.status`: where one step (metadata or transcript) of one video stands."""

    OK = "ok"
    FAILED = "failed"
    """For good: the video's own fault, or out of attempts."""
    RETRY = "retry"
    """A retryable failure: the next run tries again."""
    RUNNING = "running"
    """A transcript job was accepted and has not finished."""
    UNCERTAIN = "uncertain"
    """A submit that may have started a paid job nobody saw: resubmitted only on request."""


class JobStatus(StrEnum):
    """`transcript_jobs.status`: Coze's `execute_status`, the three values of its SDK."""

    RUNNING = "Running"
    SUCCESS = "Success"
    FAIL = "Fail"


class Outcome(StrEnum):
    """`raw_responses.outcome`: what one answer meant for the work it answered."""

    OK = "ok"
    RETRYABLE = "retryable"
    """Try again in a later run; counts against the video's attempts."""
    SERVICE_FAULT = "service_fault"
    """Try again in a later run; the service failed every call of its kind, so it costs the
    video no attempt."""
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"


class LinkStatus(StrEnum):
    """`link_status.metadata_status` and `transcript_status`: what a person reads."""

    OK = "ok"
    FAILED = "failed"
    PENDING = "pending"
    UNCERTAIN = "uncertain"


class MediaStatus(StrEnum):
    """`media_files.status`: where one file of one video (cover, avatar, video) stands."""

    OK = "ok"
    """Saved and verified: its bytes are in the media store at `path`."""
    PENDING = "pending"
    """Not fetched yet, or a failure worth another try."""
    EXPIRED = "expired"
    """Its signed URL ran out before the file was saved: only a new metadata run (paid,
    `--refresh-expired`) gives a new one."""
    FAILED = "failed"
    """For good for this URL; `error` says why."""


def listed(enum: type[StrEnum]) -> str:
    """`a, b or c`: the values for a column's documentation."""
    values = [f"`{member.value}`" for member in enum]
    return ", ".join(values[:-1]) + " or " + values[-1]


@dataclass(frozen=True, slots=True)
class NextCalls:
    needs_metadata: bool
    may_submit: bool

    @property
    def any(self) -> bool:
        return self.needs_metadata or self.may_submit


def next_calls(
    metadata: ItemStatus | str | None,
    transcript: ItemStatus | str | None,
    *,
    resubmit_uncertain: bool = False,
    refresh_media: bool = False,
) -> NextCalls:
    """What a video's next run calls, from its two steps' statuses (None: never tried): its
    metadata call if never resolved or retryable, then its submit if its transcript was never
    tried, is retryable, or may have started an unseen paid job and the user asks to pay again.
    A video whose metadata failed for good gets nothing; a resolved one is called again (paid)
    when `refresh_media`: media it should have saved expired unsaved and the user asks for new
    URLs. `plan` counts with this, and the Coze step works from it, so what a plan promises is
    what a run does."""
    if metadata not in (None, ItemStatus.RETRY, ItemStatus.OK):
        return NextCalls(False, False)
    resubmittable = resubmit_uncertain and transcript == ItemStatus.UNCERTAIN
    return NextCalls(
        needs_metadata=metadata in (None, ItemStatus.RETRY)
        or (refresh_media and metadata == ItemStatus.OK),
        may_submit=transcript in (None, ItemStatus.RETRY) or resubmittable,
    )
