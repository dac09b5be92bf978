"""The Coze workflow client: one pooled HTTP client, shared rate limit, bounded retries."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from pipeline.coze.budget import CallBudget
from pipeline.coze.config import CozeSettings
from pipeline.coze.decode import (
    decode_metadata,
    decode_run,
    decode_submission,
    error_for,
    logid_of,
)
from pipeline.coze.errors import (
    AccountError,
    CozeError,
    RateLimitedError,
    TransportError,
    UncertainError,
)
from pipeline.coze.models import MetadataResult, RawExchange, RunRecord, Submission
from pipeline.coze.ratelimit import RateLimiter

log = logging.getLogger("pipeline.coze")

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RUN_PATH = "/v1/workflow/run"
# The request certainly never reached Coze: safe to send again, even a paid POST.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def backoff_delay(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential with jitter, never shorter than what the service asked for."""
    computed = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)
    return max(computed, retry_after or 0.0)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class CozeClient:
    def __init__(
        self,
        settings: CozeSettings,
        limiter: RateLimiter | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.rps, settings.max_in_flight)
        self.budget = budget or CallBudget(None)
        self._rng = random.Random()
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=None,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_in_flight,
                max_keepalive_connections=settings.max_in_flight,
            ),
            headers={"Content-Type": "application/json"},
        )

    def __repr__(self) -> str:
        return f"CozeClient(base_url={self.settings.base_url!r})"

    async def __aenter__(self) -> CozeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run_metadata(self, input: str) -> MetadataResult:
        workflow_id = self.settings.metadata_workflow_id
        body = {"workflow_id": workflow_id, "parameters": {"input": input}, "is_async": False}
        raw = await self._request(
            "POST", RUN_PATH, workflow_id, input, body, read_timeout=self.settings.sync_read_timeout
        )
        return decode_metadata(raw)

    async def submit_transcript(self, input: str) -> Submission:
        workflow_id = self.settings.transcript_workflow_id
        body = {"workflow_id": workflow_id, "parameters": {"input": input}, "is_async": True}
        raw = await self._request("POST", RUN_PATH, workflow_id, input, body)
        return decode_submission(raw)

    async def get_run(self, workflow_id: str, execute_id: str) -> RunRecord:
        path = f"/v1/workflows/{workflow_id}/run_histories/{execute_id}"
        raw = await self._request("GET", path, workflow_id, execute_id, None)
        return decode_run(raw)

    def _token(self, method: str) -> tuple[str | None, str]:
        """The token a call sends, and how to name it to a person (never its value)."""
        if method == "POST":
            return self.settings.api_token, "submit token (COZE_API_TOKEN)"
        if self.settings.poll_token:
            return self.settings.poll_token, "poll token (COZE_POLL_TOKEN)"
        return self.settings.api_token, "poll token (COZE_API_TOKEN; no COZE_POLL_TOKEN set)"

    def _headers(self, token: str | None) -> dict[str, str]:
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self.settings.is_real_service:
            raise AccountError(
                "COZE_API_TOKEN is not set: the Coze API needs a token. To do: set it, then run "
                "again. Nothing was marked failed; unfinished videos stay pending"
            )
        return {}

    def _no_answer(self, method: str, path: str, exc: httpx.HTTPError) -> CozeError:
        """Whether a request that got no answer may have started a paid run."""
        what = f"no answer from Coze for {method} {path}: {type(exc).__name__}"
        if method == "POST" and not isinstance(exc, NOT_SENT):
            return UncertainError(
                f"{what} after the request was sent; Coze may have started (and billed) the run"
            )
        return TransportError(what)

    async def _request(
        self,
        method: str,
        path: str,
        workflow_id: str,
        request_input: str,
        body: dict[str, Any] | None,
        *,
        read_timeout: float | None = None,
    ) -> RawExchange:
        """Send, retrying only what certainly started no run; return the successful answer or
        raise its classified error."""
        token, token_role = self._token(method)
        headers = self._headers(token)
        timeout = httpx.Timeout(
            connect=self.settings.connect_timeout,
            read=read_timeout or self.settings.read_timeout,
            write=self.settings.read_timeout,
            pool=None,
        )
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with self.limiter.slot():
                    self.budget.take()
                    response = await self._http.request(
                        method, path, json=body, headers=headers, timeout=timeout
                    )
                retry_after = _retry_after(response)
                text = response.text
                raw = RawExchange(
                    method=method,
                    path=path,
                    workflow_id=workflow_id,
                    request_input=request_input,
                    http_status=response.status_code,
                    body=text,
                    logid=logid_of(text, response.headers.get("x-tt-logid")),
                    received_at=datetime.now(UTC),
                )
                error = error_for(raw, retry_after, token_role)
            except httpx.HTTPError as exc:
                error = self._no_answer(method, path, exc)
            if error is None:
                self.limiter.on_success()
                return raw
            if isinstance(error, RateLimitedError):
                self.limiter.on_rate_limited(retry_after)
            if not error.retryable or attempt >= self.settings.max_attempts:
                raise error
            delay = backoff_delay(attempt, retry_after, self._rng)
            log.warning(
                "retrying %s %s in %.2fs (attempt %d of %d): %s",
                method,
                path,
                delay,
                attempt + 1,
                self.settings.max_attempts,
                error,
            )
            await asyncio.sleep(delay)
