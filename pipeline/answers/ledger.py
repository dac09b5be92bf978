"""How raw answers move the work forward: per-video step state and the transcript job ledger.

Pure: given the answers (in the order they were recorded, `seq`) and the prior state of the rows
they touch, it returns the new state. Never in `received_at` order: after a clock step back a
poll would look older than its submit and be ignored. The recorder applies it as answers
arrive; `rebuild` replays the whole raw layer through the same code, so the two can never
disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pipeline.answers.raw import RawRow
from pipeline.coze.decode import decode_run, decode_submission
from pipeline.coze.durations import run_seconds
from pipeline.coze.errors import CozeError, JobStateUnknownError
from pipeline.status import ItemStatus, JobStatus, Outcome

# An async workflow runs 24 h at most (docs/coze.md): a job whose record still says nothing
# usable after that will never say more.
RUN_LIMIT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ItemState:
    video_key: str
    step: str  # metadata | transcript
    status: ItemStatus
    attempts: int
    error_code: int | None
    error_message: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Job:
    execute_id: str
    video_key: str
    workflow_id: str
    status: JobStatus
    attempt: int
    submitted_at: datetime
    finished_at: datetime | None
    error_code: int | None
    error_message: str | None
    is_output_trimmed: bool | None
    logid: str | None
    debug_url: str | None
    token_count: int | None
    poll_count: int
    run_seconds: float | None = None


@dataclass
class Ledger:
    """The slice of state that a set of answers touches, updated in place by `apply`."""

    items: dict[tuple[str, str], ItemState]
    jobs: dict[str, Job]
    jobs_per_video: dict[str, int]
    max_attempts: int

    def apply(self, rows: Iterable[RawRow]) -> None:
        """Rows not numbered yet come after the numbered ones, in the order given."""
        for row in sorted(rows, key=lambda r: (r.seq is None, r.seq or 0)):
            if row.kind == "metadata":
                self._metadata(row)
            elif row.kind == "submit":
                self._submit(row)
            else:
                self._poll(row)

    def _failure(self, row: RawRow, step: str) -> None:
        """A failure the service shared with every call of its run costs no attempt."""
        prev = self.items.get((row.video_key, step))
        attempts = (prev.attempts if prev else 0) + (row.outcome != Outcome.SERVICE_FAULT)
        out_of_attempts = row.outcome == Outcome.PERMANENT or (
            row.outcome == Outcome.RETRYABLE and attempts >= self.max_attempts
        )
        self.items[(row.video_key, step)] = ItemState(
            row.video_key,
            step,
            ItemStatus.FAILED if out_of_attempts else ItemStatus.RETRY,
            attempts,
            row.error_code,
            row.error_message,
            row.received_at,
        )

    def _metadata(self, row: RawRow) -> None:
        if row.outcome != Outcome.OK:
            self._failure(row, "metadata")
            return
        prev = self.items.get((row.video_key, "metadata"))
        self.items[(row.video_key, "metadata")] = ItemState(
            row.video_key,
            "metadata",
            ItemStatus.OK,
            prev.attempts if prev else 0,
            None,
            None,
            row.received_at,
        )

    def _submit(self, row: RawRow) -> None:
        if row.outcome == Outcome.UNCERTAIN:
            prev = self.items.get((row.video_key, "transcript"))
            self.items[(row.video_key, "transcript")] = ItemState(
                row.video_key,
                "transcript",
                ItemStatus.UNCERTAIN,
                (prev.attempts if prev else 0) + 1,
                row.error_code,
                row.error_message,
                row.received_at,
            )
            return
        if row.outcome != Outcome.OK or row.execute_id is None:
            self._failure(row, "transcript")
            return
        if row.execute_id in self.jobs:
            return
        attempt = self.jobs_per_video.get(row.video_key, 0) + 1
        self.jobs_per_video[row.video_key] = attempt
        self.jobs[row.execute_id] = Job(
            execute_id=row.execute_id,
            video_key=row.video_key,
            workflow_id=row.workflow_id,
            status=JobStatus.RUNNING,
            attempt=attempt,
            submitted_at=row.received_at,
            finished_at=None,
            error_code=None,
            error_message=None,
            is_output_trimmed=None,
            logid=row.logid,
            debug_url=_debug_url(row),
            token_count=None,
            poll_count=0,
        )
        prev = self.items.get((row.video_key, "transcript"))
        self.items[(row.video_key, "transcript")] = ItemState(
            row.video_key,
            "transcript",
            ItemStatus.RUNNING,
            prev.attempts + 1 if prev else 1,
            None,
            None,
            row.received_at,
        )

    def _poll(self, row: RawRow) -> None:
        job = self.jobs.get(row.execute_id or "")
        if job is None or job.status != JobStatus.RUNNING:
            return
        job = replace(job, poll_count=job.poll_count + 1, logid=row.logid or job.logid)
        if row.outcome in (Outcome.RETRYABLE, Outcome.SERVICE_FAULT):
            too_old = _utc(row.received_at) - _utc(job.submitted_at) > RUN_LIMIT
            unknown = _state_unknown(row) if too_old else None
            if unknown is None:
                self.jobs[job.execute_id] = job
                return
            job = replace(
                job,
                status=JobStatus.FAIL,
                finished_at=row.received_at,
                error_message=f"{unknown} more than 24 h after its submit, Coze's run limit",
            )
        elif row.outcome == Outcome.PERMANENT:
            job = replace(
                job,
                status=JobStatus.FAIL,
                finished_at=row.received_at,
                error_code=row.error_code,
                error_message=row.error_message,
            )
        else:
            try:
                record = decode_run(row.exchange())
            except CozeError as error:
                record = None
                job = replace(
                    job,
                    status=JobStatus.FAIL,
                    finished_at=row.received_at,
                    error_code=error.code,
                    error_message=str(error),
                )
            if record is not None:
                job = replace(
                    job,
                    status=JobStatus(record.status),
                    finished_at=row.received_at if record.finished else None,
                    error_code=record.error_code or None,
                    error_message=record.error_message or None,
                    is_output_trimmed=record.is_output_trimmed,
                    debug_url=record.debug_url or job.debug_url,
                    token_count=record.token_count,
                    run_seconds=run_seconds(record.create_time, record.update_time)
                    if record.finished
                    else None,
                )
        self.jobs[job.execute_id] = job
        if job.status == JobStatus.RUNNING:
            return
        prev = self.items.get((job.video_key, "transcript"))
        self.items[(job.video_key, "transcript")] = ItemState(
            job.video_key,
            "transcript",
            ItemStatus.OK if job.status == JobStatus.SUCCESS else ItemStatus.FAILED,
            prev.attempts if prev else job.attempt,
            job.error_code,
            job.error_message,
            row.received_at,
        )


def _utc(moment: datetime) -> datetime:
    """Naive UTC, as DuckDB gives back what the client stamped aware."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _state_unknown(row: RawRow) -> JobStateUnknownError | None:
    """The poll's error, when its record said nothing usable (a status outside Running,
    Success and Fail, or no record)."""
    try:
        decode_run(row.exchange())
    except JobStateUnknownError as error:
        return error
    except CozeError:
        return None
    return None


def _debug_url(row: RawRow) -> str | None:
    try:
        return decode_submission(row.exchange()).debug_url
    except CozeError:
        return None
