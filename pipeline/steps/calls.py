"""The Coze step: metadata calls, transcript submits and polls of one run, under one rate limit.

A video's submit is asked for the moment its metadata answers, so its job runs on Coze's side
while the rest of the batch is being resolved, and polls go out when jobs are likely done
(`pipeline.coze.poller`). The three share the client's limiter; among the requests waiting for
the rate, metadata calls go first, then submits, then polls, which fill what the others leave.
Metadata first because the batch's last submit needs every metadata call and every submit before
it (2N requests), and its job then runs up to a long job's time: a metadata call left waiting
behind submits at the end of the batch adds its latency (seconds) to the whole run, while
submits waiting behind metadata calls cost nothing, the rate being used either way. The worker
pool (one video per worker) bounds how far metadata run ahead. Every answer is spooled the
moment it arrives, so a killed run loses nothing and its next run pays nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from pipeline.answers.raw import Kind, RawRow, row_from_error, row_from_result
from pipeline.coze.budget import BudgetSpent
from pipeline.coze.client import CozeClient
from pipeline.coze.durations import JobDurations
from pipeline.coze.errors import CozeError, JobStateUnknownError, ServiceHaltError
from pipeline.coze.health import RunHealth
from pipeline.coze.models import MetadataResult, RunRecord, Submission
from pipeline.coze.poller import JobPoller
from pipeline.coze.ratelimit import LimiterClosed
from pipeline.reads.work import RunningJob, VideoWork
from pipeline.status import JobStatus, Outcome
from pipeline.steps.inputs import metadata_input, transcript_input
from pipeline.steps.runner import StepProgress, StopSignal, committing, for_each
from pipeline.storage.recorder import AnswersNotStoredError, Recorder

# A metadata call waits for the rate ahead of any submit asked less than this long after it.
METADATA_LEAD = 60.0

Logger = logging.Logger | logging.LoggerAdapter


@dataclass
class CallsProgress:
    metadata: StepProgress
    submits: StepProgress
    polls: StepProgress
    poll_calls: int = 0
    budget_spent: bool = False

    @property
    def still_running(self) -> int:
        return self.polls.total - self.polls.done


class _Calls:
    """One run's calls and the shared state their answers update."""

    def __init__(
        self,
        client: CozeClient,
        recorder: Recorder,
        durations: JobDurations,
        log: Logger,
        progress: CallsProgress,
        on_metadata: Callable[[str, MetadataResult], None] | None,
    ) -> None:
        self.client = client
        self.on_metadata = on_metadata
        self.recorder = recorder
        self.log = log
        self.progress = progress
        self.stop = StopSignal(recorder, client.limiter)
        self.health = RunHealth()
        # The jobs being polled, each forgotten when it ends: a batch's jobs are not all held.
        self.workflow_of: dict[str, str] = {}
        self.video_of: dict[str, str] = {}
        self.poller = JobPoller(
            client, durations, on_record=self.on_record, on_error=self.on_poll_error
        )

    def record(self, row: RawRow) -> None:
        try:
            self.recorder.record(row)
        except AnswersNotStoredError as error:
            self.log.error("starting no more calls: %s", error)
            self.stop.stop()

    def halt(self, error: ServiceHaltError) -> None:
        if self.stop.halt is None:
            self.stop.halt = error
            self.log.error(str(error))
        self.stop.stop()

    def failed(self, kind: Kind, video_key: str, error: CozeError) -> bool:
        """Whether the failure counts against the video's attempts; halts the run when it
        shows the service, not the videos, is failing (`RunHealth`)."""
        charged = self.health.charges_failures(kind)
        if (halt := self.health.failure(kind, video_key, error)) is not None:
            self.halt(halt)
        return charged

    async def call(
        self,
        kind: Kind,
        progress: StepProgress,
        workflow_id: str,
        item_key: str,
        text: str,
        send: Callable[[], Awaitable[MetadataResult | Submission]],
    ) -> MetadataResult | Submission | None:
        """One paid call, its answer (or the error standing for it) spooled at once; the answer
        when it is a success."""
        try:
            result = await send()
        except ServiceHaltError as error:
            self.halt(error)
            return None
        except BudgetSpent as spent:
            if not self.stop.budget_spent:
                self.stop.budget_spent = True
                self.log.warning(str(spent))
            self.stop.stop()
            return None
        except LimiterClosed:
            return None
        except CozeError as error:
            charged = self.failed(kind, item_key, error)
            row = row_from_error(kind, item_key, workflow_id, text, error, charged=charged)
            if row.outcome == Outcome.UNCERTAIN:
                progress.uncertain += 1
            else:
                progress.failed += 1
            self.log.warning("%s failed for %s: %s", progress.name, item_key, error)
            progress.done += 1
            self.record(row)
            return None
        progress.done += 1
        self.health.good_answer(kind)
        self.record(row_from_result(kind, item_key, result))
        return result

    async def video(self, work: VideoWork) -> None:
        """Its metadata call if it needs one, then at once its submit if it may have one."""
        item = work.item
        settings = self.client.settings
        if work.needs_metadata:
            text = metadata_input(item)
            resolved = await self.call(
                "metadata",
                self.progress.metadata,
                settings.metadata_workflow_id,
                item.video_key,
                text,
                lambda: self.client.run_metadata(text, key=time.monotonic() - METADATA_LEAD),
            )
            if isinstance(resolved, MetadataResult) and self.on_metadata is not None:
                self.on_metadata(item.video_key, resolved)
            if resolved is None or not work.may_submit:
                return
            self.progress.submits.total += 1
        url = transcript_input(item)
        submitted = await self.call(
            "submit",
            self.progress.submits,
            settings.transcript_workflow_id,
            item.video_key,
            url,
            lambda: self.client.submit_transcript(url),
        )
        if isinstance(submitted, Submission):
            # The job's clock started when the submit arrived at Coze, not when its answer came.
            age = submitted.raw.seconds
            self.follow(submitted.execute_id, submitted.workflow_id, item.video_key, age)

    def follow(self, execute_id: str, workflow_id: str, video_key: str, age: float) -> None:
        self.workflow_of[execute_id] = workflow_id
        self.video_of[execute_id] = video_key
        self.progress.polls.total += 1
        self.poller.add(execute_id, workflow_id, age)

    def forget(self, execute_id: str) -> None:
        """The job ended: the poller never polls it again."""
        del self.workflow_of[execute_id], self.video_of[execute_id]

    def on_record(self, record: RunRecord) -> None:
        self.health.good_answer("poll")
        self.record(row_from_result("poll", self.video_of[record.execute_id], record))
        if record.finished:
            self.forget(record.execute_id)
            self.progress.polls.done += 1
            if record.status == JobStatus.FAIL:
                self.progress.polls.failed += 1

    def on_poll_error(self, execute_id: str, error: CozeError) -> None:
        video_key = self.video_of[execute_id]
        charged = self.failed("poll", video_key, error)
        self.record(
            row_from_error(
                "poll",
                video_key,
                self.workflow_of[execute_id],
                execute_id,
                error,
                execute_id=execute_id,
                charged=charged,
            )
        )
        if error.scope == "job":
            self.forget(execute_id)
            self.progress.polls.done += 1
            self.progress.polls.failed += 1
            self.log.warning("job %s ended without a transcript: %s", execute_id, error)
        elif isinstance(error, JobStateUnknownError):
            self.log.warning(
                "job %s: %s; polled again with backoff, by this run and the next ones",
                execute_id,
                error,
            )
        else:
            self.log.warning("poll of %s failed, polled again later: %s", execute_id, error)

    def rate_line(self) -> str:
        limiter = self.client.limiter
        return (
            f"coze: {self.client.budget.sent} requests, {limiter.in_flight} in flight "
            f"(limit {limiter.in_flight_limit}, peak {limiter.peak_in_flight}), "
            f"{self.poller.polls} polls, {limiter.rate_limited} rate-limited"
        )


async def call_coze(
    client: CozeClient,
    recorder: Recorder,
    work: Iterable[VideoWork],
    running: Sequence[RunningJob],
    durations: JobDurations,
    *,
    poll_budget_seconds: float,
    log: Logger,
    on_metadata: Callable[[str, MetadataResult], None] | None = None,
) -> CallsProgress:
    """`work` is read twice, for the progress totals and then for the calls, a video at a time
    (a `WorkList` is read from its file, never held whole). Jobs still running
    `poll_budget_seconds` after the last submit, or when Coze halts the run or the call budget
    ends, stay `Running` for the next run: never resubmitted.
    `on_metadata` hears of each metadata answer once it is recorded (the media fetcher)."""
    metadata = submits = 0
    for w in work:
        metadata += w.needs_metadata
        submits += w.may_submit and not w.needs_metadata
    progress = CallsProgress(
        metadata=StepProgress("metadata", metadata),
        submits=StepProgress("transcript submits", submits),
        polls=StepProgress("transcript polls", 0),
    )
    calls = _Calls(client, recorder, durations, log, progress, on_metadata)
    for job in running:
        calls.follow(job.execute_id, job.workflow_id, job.video_key, job.age_seconds)

    async def videos_then_close() -> None:
        try:
            await for_each(work, client.limiter.ceiling, calls.video, calls.stop)
        finally:
            calls.poller.close()
        log.info(f"transcripts: {progress.still_running} jobs pending, no submit left")

    parts = (progress.metadata, progress.submits, progress.polls)
    async with committing(recorder, parts, log, calls.rate_line):
        await asyncio.gather(
            videos_then_close(), calls.poller.run(budget_seconds=poll_budget_seconds)
        )
    progress.poll_calls = calls.poller.polls
    if calls.poller.stragglers:
        log.info(
            f"{calls.poller.stragglers} jobs have run over {durations.straggler_after():.0f}s, "
            "far longer than recent jobs: the batch does not wait for them, the next run "
            "collects them"
        )
    if calls.poller.unknown_state:
        log.info(
            f"{calls.poller.unknown_state} jobs' records say nothing usable (an unknown status, "
            "or no record): the batch does not wait for them; later runs poll them again, and "
            "a job still so 24 h after its submit ends failed"
        )
    progress.budget_spent = calls.stop.budget_spent or calls.poller.budget_spent
    halt = calls.stop.halt or calls.poller.halt
    if halt is not None:
        raise halt
    return progress
