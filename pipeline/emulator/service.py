"""The emulated service's endpoints, as docs/coze.md says; its books are in `jobs`.

A request goes through the gate in this order: token (4100), daily quota (4008), rate limit
(HTTP 429), balance (4011), injected HTTP 500, transient codes (4009/4102/5000), `coded_error`;
then the run or poll itself. Some inputs misbehave on purpose, so failures can be tested deterministically:

- `/deleted/` or `invalid`: the metadata workflow fails (code 6000);
- `/poison/data-null/`, `/poison/wrong-types/`: `data: null`, or a title that is a number;
- `/poison/no-output/`, `/poison/huge/`: a successful job with no `output`, or a 10 MB one;
- `/poison/slow-sync/`: a sync run longer than the sync window, so its connection is cut;
- `/poison/lost/`: a job whose record is gone right after submit (4314 on every poll);
- `/poison/slow-job/`: a job that runs an hour (`SLOW_JOB_SECONDS`), a straggler;
- `/poison/sensitive/`: the metadata run answers 4105 (sensitive content);
- `/poison/half-emoji/`: a title and nickname ending in a lone surrogate (`\\ud83d`);
- `/poison/cancelled/`, `/poison/no-record/`: a finished job `Cancelled`, or with no record.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline.coze import codes
from pipeline.coze.config import METADATA_WORKFLOW_ID, TRANSCRIPT_WORKFLOW_ID
from pipeline.emulator.answers import (
    MESSAGES,
    TRANSIENT_CODES,
    Answers,
    benefits_body,
    close_without_answer,
)
from pipeline.emulator.cdn import metadata_with_media
from pipeline.emulator.config import AnswerKind, EmulatorConfig
from pipeline.emulator.jobs import COUNTERS, Arrivals, Job, debug_url, finished, run_record
from pipeline.emulator.oauth import AccessTokens

FIRST_EXECUTE_ID = 7535298640308535332
DELETED_MARKERS = ("/deleted/", "invalid")
SLOW_JOB_SECONDS = 3600.0
RUNNING_OUTPUTS = ("", '{"node_status":"{}","Output":""}')  # both seen while a job runs


class Emulator:
    """The server's state: jobs, counters, the rate window, the live config.

    Three seeded rngs, so cosmetic draws never shift which request gets a fault: `rng` for
    faults and outcomes, `timing` for latencies and job durations, the answers' for logids."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.timing = random.Random(f"timing:{config.seed}")
        self.answers = Answers(random.Random(f"answers:{config.seed}"))
        self.jobs: dict[str, Job] = {}
        self.next_execute_id = FIRST_EXECUTE_ID
        self.counters: collections.Counter[str] = collections.Counter()
        self.account_errors: collections.Counter[int] = collections.Counter()
        self.submits_per_input: collections.Counter[str] = collections.Counter()
        self.arrivals: collections.deque[float] = collections.deque()
        self.max_per_second = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.timeline = Arrivals()
        self.tokens = config.rps or 0.0
        self.refilled = time.monotonic()
        self.access_tokens = AccessTokens()

    def counted(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The handler, counting the requests it holds at once: what a client keeps in
        flight, seen from the server."""

        async def counting(request: Request) -> Response:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1

        return counting

    def _new_execute_id(self) -> str:
        self.next_execute_id += 1
        return str(self.next_execute_id - 1)

    async def _wait(self, kind: AnswerKind) -> None:
        seconds = self.config.latency_for(kind, self.timing)
        if seconds:
            await asyncio.sleep(seconds)

    def _account_error(self, code: int) -> Response:
        self.account_errors[code] += 1
        return self.answers.coded(code)

    def _coded_error(self, request: Request, kind: AnswerKind) -> Response | None:
        """The `coded_error` switch: an account in arrears, an outage, a code nobody knows."""
        code = self.config.coded_error_for(kind)
        if code is None:
            return None
        self.counters["coded_errors"] += 1
        msg = MESSAGES.get(code, f"error {code}")
        if self.config.echo_authorization:
            msg += f" (request had Authorization: {request.headers.get('authorization', '')})"
        return self.answers.coded(code, msg)

    def _broke(self) -> bool:
        limit = self.config.balance_calls
        return limit is not None and self.counters["paid_runs"] >= limit

    def _gate(self, request: Request, poll: bool) -> Response | None:
        """Arrival accounting and every refusal that comes before the run or poll itself."""
        config, now = self.config, time.monotonic()
        self.counters["requests"] += 1
        self.timeline.add(time.time())
        self.arrivals.append(now)
        while self.arrivals and self.arrivals[0] < now - 1.0:
            self.arrivals.popleft()
        self.max_per_second = max(self.max_per_second, len(self.arrivals))
        if not self._authorized(request):
            self.counters["auth_failures"] += 1
            return self._account_error(codes.AUTH_FAILED)
        if config.daily_quota is not None and self.counters["requests"] > config.daily_quota:
            return self._account_error(codes.DAILY_QUOTA)
        if config.rps:
            self.tokens = min(config.rps, self.tokens + (now - self.refilled) * config.rps)
            self.refilled = now
            if self.tokens < 1.0:
                self.counters["rate_limited"] += 1
                wait = (1.0 - self.tokens) / config.rps
                return self.answers.http_error(
                    429, codes.MODEL_ERROR, "Too Many Requests", **{"Retry-After": f"{wait:.3f}"}
                )
            self.tokens -= 1.0
        if self._broke():
            return self._account_error(codes.BALANCE_INSUFFICIENT)
        if config.error_rate and self.rng.random() < config.error_rate:
            self.counters["server_errors"] += 1
            return self.answers.http_error(500, codes.INTERNAL_ERROR, "internal error")
        rates = (config.transient_rate, config.poll_transient_rate if poll else 0.0)
        if any(rate and self.rng.random() < rate for rate in rates):
            self.counters["transient_errors"] += 1
            return self.answers.coded(self.rng.choice(TRANSIENT_CODES))
        return None

    def _authorized(self, request: Request) -> bool:
        """The required static token, and with a JWT app a live access token it minted."""
        authorization = request.headers.get("authorization")
        token = self.config.require_token
        if token is not None and authorization != f"Bearer {token}":
            return False
        return self.config.jwt_public_key is None or self.access_tokens.live(authorization)

    async def oauth_token(self, request: Request) -> Response:
        """The JWT app's token exchange (`pipeline.emulator.oauth`); a refused JWT is code 4100
        with what was wrong."""
        await self._wait("poll")
        try:
            body = await request.json()
        except ValueError:
            body = None
        answer = self.access_tokens.exchange(
            self.config, request.headers.get("authorization"), request.url.netloc, body
        )
        if isinstance(answer, str):
            self.counters["token_refusals"] += 1
            return self.answers.coded(codes.AUTH_FAILED, answer)
        self.counters["tokens_minted"] += 1
        return self.answers.json(answer, headers={"x-tt-logid": self.answers.logid()})

    async def benefits(self, request: Request) -> Response:
        """The account's plan, as coze-py's `benefits.retrieve` reads it: the workflow QPS in
        `effective.item_info.total`; code 4101 for a token without the permission."""
        self.counters["benefit_reads"] += 1
        await self._wait("poll")
        if not self._authorized(request):
            return self._account_error(codes.AUTH_FAILED)
        if self.config.refuse_benefits:
            return self._account_error(codes.PERMISSION_DENIED)
        resource = request.query_params.get("resource_id", "workflow")
        body = benefits_body(self.config.benefits_qps, resource, self.answers.logid())
        return self.answers.ok(body)

    async def run(self, request: Request) -> Response:
        refused = self._gate(request, poll=False)
        if refused is not None:
            await self._wait("poll")
            return refused
        try:
            body = await request.json()
            workflow_id = body["workflow_id"]
            text = body["parameters"]["input"]
            is_async = bool(body.get("is_async", False))
        except (ValueError, KeyError, TypeError):
            await self._wait("poll")
            return self.answers.coded(
                codes.BAD_PARAMETER,
                "invalid parameter: workflow_id and parameters.input are required",
            )
        if not isinstance(text, str) or not text:
            await self._wait("poll")
            return self.answers.coded(
                codes.BAD_PARAMETER, "invalid parameter: input must be a non-empty string"
            )
        if is_async and self.config.async_needs_paid_plan:
            await self._wait("poll")
            return self._account_error(codes.ASYNC_NEEDS_PAID_PLAN)
        if self._broke():  # again: runs that passed the gate together may have spent it
            await self._wait("poll")
            return self._account_error(codes.BALANCE_INSUFFICIENT)
        coded = self._coded_error(request, "submit" if is_async else "metadata")
        if coded is not None:
            await self._wait("poll")
            return coded
        if workflow_id == METADATA_WORKFLOW_ID and not is_async:
            return await self._metadata(request, text)
        if workflow_id == TRANSCRIPT_WORKFLOW_ID and is_async:
            return await self._submit(request, text, workflow_id)
        await self._wait("poll")
        return self.answers.coded(
            codes.WORKFLOW_NOT_FOUND,
            f"workflow {workflow_id} not found or not published for this mode",
        )

    async def _metadata(self, request: Request, text: str) -> Response:
        """A paid sync run; cut at the sync window like the real service's connection."""
        self.counters["metadata_calls"] += 1
        self.timeline.last_metadata = time.time()
        self.counters["paid_runs"] += 1
        execute_id = self._new_execute_id()
        window = self.config.sync_window
        seconds = self.config.latency_for("metadata", self.timing)
        if "/poison/slow-sync/" in text:
            seconds = window + 5.0
        if seconds > window:
            self.counters["cut_sync_runs"] += 1
            await asyncio.sleep(window)
            return await close_without_answer(request)
        await asyncio.sleep(seconds)
        link = debug_url(execute_id, METADATA_WORKFLOW_ID)
        if any(marker in text for marker in DELETED_MARKERS):
            return self.answers.coded(
                codes.WORKFLOW_FAILED,
                "workflow execution failed: video not found or deleted",
                debug_url=link,
            )
        if "/poison/sensitive/" in text:
            return self.answers.coded(codes.SENSITIVE_CONTENT, debug_url=link)
        data: dict[str, Any] = metadata_with_media(text, request, self.config)
        if "/poison/wrong-types/" in text:
            data["title"] = 12345
        half_emoji = "/poison/half-emoji/" in text
        if half_emoji:  # as JavaScript's substring leaves an emoji cut in two
            data["title"] += "\ud83d"
            data["nickname"] += "\ud83d"
        encoded = (
            None
            if "/poison/data-null/" in text
            # ASCII escapes: a lone surrogate can only travel as `\\ud83d`
            else json.dumps(data, ensure_ascii=half_emoji, separators=(",", ":"))
        )
        return self.answers.ok(
            {
                "code": 0,
                "data": encoded,
                "debug_url": link,
                "msg": "Success",
                "usage": {"input_count": 0, "output_count": 0, "token_count": 0},
            }
        )

    async def _submit(self, request: Request, text: str, workflow_id: str) -> Response:
        """A paid async run: the job exists from here on, whether or not the answer arrives."""
        self.counters["submits"] += 1
        self.timeline.add_submit(time.time(), self.counters["requests"])
        self.counters["paid_runs"] += 1
        self.submits_per_input[text] += 1
        execute_id = self._new_execute_id()
        draw = self.rng.random()
        fail, trim = self.config.fail_rate, self.config.trim_rate
        outcome = "fail" if draw < fail else "trim" if draw < fail + trim else "success"
        now = time.time()
        duration = self.config.job_duration(self.timing)
        self.jobs[execute_id] = Job(
            input=text,
            workflow_id=workflow_id,
            created=now,
            finish_at=now + (SLOW_JOB_SECONDS if "/poison/slow-job/" in text else duration),
            outcome=outcome,
            running_output=self.answers.rng.choice(RUNNING_OUTPUTS),
            lost="/poison/lost/" in text,
        )
        drop = self.config.drop_submits > 0
        if drop:
            self.config = replace(self.config, drop_submits=self.config.drop_submits - 1)
            self.counters["dropped_submits"] += 1
        await self._wait("submit")
        if drop:
            return await close_without_answer(request)
        return self.answers.ok(
            {
                "code": 0,
                "debug_url": debug_url(execute_id, workflow_id),
                "execute_id": execute_id,
                "msg": "Success",
            }
        )

    def _gone(self, job: Job | None, workflow_id: str) -> bool:
        """No record: never made, another workflow's, lost, or older than the retention."""
        return (
            job is None
            or job.workflow_id != workflow_id
            or job.lost
            or time.time() - job.created > self.config.retention_seconds
        )

    async def history(self, request: Request) -> Response:
        refused = self._gate(request, poll=True) or self._coded_error(request, "poll")
        await self._wait("poll")
        if refused is not None:
            return refused
        self.counters["polls"] += 1
        workflow_id = request.path_params["workflow_id"]
        execute_id = request.path_params["execute_id"]
        job = self.jobs.get(execute_id)
        if job is None or self._gone(job, workflow_id):
            self.counters["lost_polls"] += 1
            return self.answers.coded(codes.RECORD_NOT_FOUND)
        no_record = "/poison/no-record/" in job.input and finished(
            job, time.time(), self.config.hold_jobs
        )
        return self.answers.ok(
            {
                "msg": "",
                "data": []
                if no_record
                else [
                    run_record(
                        execute_id,
                        job,
                        self.config.hold_jobs,
                        self.answers.logid(),
                        debug_url(execute_id, job.workflow_id),
                    )
                ],
                "detail": {"logid": self.answers.logid()},
                "code": 0,
            }
        )

    async def stats(self, request: Request) -> Response:
        now = time.time()
        return JSONResponse(
            {
                **{key: self.counters[key] for key in COUNTERS},
                "account_errors": {str(code): n for code, n in self.account_errors.items()},
                "max_requests_per_second": self.max_per_second,
                "peak_in_flight": self.peak_in_flight,
                "busy_seconds": self.timeline.last - (self.timeline.first or self.timeline.last),
                "arrivals": asdict(self.timeline),
                "submits_per_input": dict(self.submits_per_input),
                "access_tokens": list(self.access_tokens.expiry),
                "jobs": {
                    eid: {
                        "input": job.input,
                        "status": job.outcome
                        if finished(job, now, self.config.hold_jobs)
                        else "Running",
                        "created": job.created,
                        "seconds": round(job.finish_at - job.created, 3),
                        "lost": self._gone(job, job.workflow_id),
                    }
                    for eid, job in self.jobs.items()
                },
                "config": asdict(self.config),
            }
        )

    async def configure(self, request: Request) -> Response:
        """Replace config fields live (a revoked token, a top-up); a bad field is a 400."""
        before = self.config
        try:
            self.config = replace(before, **await request.json())
        except (TypeError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        self.rng = random.Random(self.config.seed + self.counters["requests"])
        if self.config.rps and not before.rps:
            self.tokens = self.config.rps
        return JSONResponse(asdict(self.config))
