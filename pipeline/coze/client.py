"""The Coze workflow client: one pooled HTTP client, shared rate limit, bounded retries, and
answers bounded in time (a deadline per attempt) and in size (`config.MAX_ANSWER_BYTES`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from pipeline.coze.auth import REFUSED_TOKEN_CODES, TokenSource, token_source
from pipeline.coze.budget import CallBudget
from pipeline.coze.config import DEFAULT_RPS, MAX_ANSWER_BYTES, CozeSettings
from pipeline.coze.connections import Connections
from pipeline.coze.decode import (
    decode_metadata,
    decode_run,
    decode_submission,
    endpoint_line,
    error_for,
    logid_of,
    parse_envelope,
)
from pipeline.coze.errors import (
    AccountError,
    AnswerTooLargeError,
    CozeError,
    EndpointError,
    JobEndedError,
    MalformedPayloadError,
    RateLimitedError,
    TransportError,
    UncertainError,
)
from pipeline.coze.models import MetadataResult, RawExchange, RunRecord, Submission
from pipeline.coze.ratelimit import RateLimiter
from pipeline.scrub import scrub, scrub_optional

log = logging.getLogger("pipeline.coze")

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RUN_PATH = "/v1/workflow/run"
# The request certainly never reached Coze: safe to send again, even a paid POST.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Of an answer cut off at MAX_ANSWER_BYTES, the raw layer keeps this much: enough to see what
# it was, not megabytes of it.
KEPT_OF_TOO_LARGE = 4096
# The encodings _read_capped inflates; the client's Accept-Encoding asks for no other.
COMPRESSED = ("gzip", "x-gzip", "deflate")


def backoff_delay(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential with jitter, never shorter than what the service asked for."""
    computed = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)
    return max(computed, retry_after or 0.0)


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """The body, decompressed, and True; or, once it runs past `cap` bytes, its start and False.

    Inflates `cap` bytes at most, rather than letting httpx inflate each network read whole:
    64 KiB of a gzip bomb is 64 MB. An encoding other than gzip or deflate (never asked for)
    is kept as it came, as httpx would."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in COMPRESSED else None
    chunks: list[bytes] = []
    size = 0
    async for data in response.aiter_raw():
        if inflate is not None:
            try:
                data = inflate.decompress(data, cap + 1 - size)
            except zlib.error as exc:
                raise httpx.DecodingError(f"{encoding} body: {exc}") from None
        chunks.append(data)
        size += len(data)
        if size > cap:
            return b"".join(chunks)[:KEPT_OF_TOO_LARGE], False
    return b"".join(chunks), True


def _text(content: bytes, response: httpx.Response) -> str:
    """Bytes as text by the answer's charset, as httpx would; a charset that is no text
    encoding (`charset=rot13`) falls back to UTF-8 instead of raising."""
    try:
        return content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _why(exc: httpx.HTTPError) -> str:
    return scrub(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__


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
        self.limiter = limiter or RateLimiter(settings.rps or DEFAULT_RPS, settings.max_in_flight)
        self.budget = budget or CallBudget(None)
        self._rng = random.Random()
        # One TLS context for every shard: building one loads the CA bundle, 25 ms in which the
        # event loop starts nothing, once per 8 connections while a batch ramps up.
        tls = httpx.create_ssl_context()
        self._connections = Connections(
            lambda limits: httpx.AsyncClient(
                base_url=settings.base_url,
                verify=tls,
                timeout=httpx.Timeout(
                    connect=settings.connect_timeout,
                    read=settings.read_timeout,
                    write=settings.read_timeout,
                    pool=None,
                ),
                limits=limits,
                headers={"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate"},
            )
        )
        self.tokens: TokenSource = token_source(
            settings.api_token,
            settings.poll_token,
            settings.jwt_app,
            settings.base_url,
            settings.shown_base_url,
            self._connections.client,
            attempts=settings.http_attempts,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
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
        await self._connections.aclose()

    async def run_metadata(self, input: str, *, key: float | None = None) -> MetadataResult:
        """`key` orders this request among those waiting for the rate (`RateLimiter.slot`)."""
        workflow_id = self.settings.metadata_workflow_id
        body = {"workflow_id": workflow_id, "parameters": {"input": input}, "is_async": False}
        raw = await self._request(
            "POST",
            RUN_PATH,
            workflow_id,
            input,
            body,
            read_timeout=self.settings.sync_read_timeout,
            key=key,
        )
        return decode_metadata(raw)

    async def submit_transcript(self, input: str, *, key: float | None = None) -> Submission:
        """A success status whose answer cannot be read (not JSON, nested too deep, too large,
        no execute_id) may still be an accepted, paid job: `UncertainError`, never re-sent."""
        workflow_id = self.settings.transcript_workflow_id
        body = {"workflow_id": workflow_id, "parameters": {"input": input}, "is_async": True}
        try:
            return decode_submission(
                await self._request("POST", RUN_PATH, workflow_id, input, body, key=key)
            )
        except MalformedPayloadError as error:
            raise UncertainError(
                f"the submit's answer cannot be read ({error}); Coze may have started (and "
                "billed) the run",
                http_status=error.http_status,
                logid=error.logid,
                raw=error.raw,
            ) from None

    async def get_run(
        self, workflow_id: str, execute_id: str, *, key: float | None = None
    ) -> RunRecord:
        """Only a finished record is that large, and it will never shrink: an answer over
        MAX_ANSWER_BYTES ends the job, as decode_run does for one over MAX_BODY_CHARS."""
        path = f"/v1/workflows/{workflow_id}/run_histories/{execute_id}"
        try:
            raw = await self._request("GET", path, workflow_id, execute_id, None, key=key)
            return decode_run(raw)
        except AnswerTooLargeError as error:
            raise JobEndedError(
                f"the finished job's output cannot be read: {error}",
                http_status=error.http_status,
                logid=error.logid,
                raw=error.raw,
            ) from None

    async def read_once(self, path: str) -> tuple[RawExchange, dict[str, Any] | None]:
        """One GET of an account read (its plan) with the submit token, outside the rate, the
        call budget and the retries: the run goes on without it, so it never waits for it."""
        token, _ = await self.tokens.bearer("POST")
        timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
        async with asyncio.timeout(self.settings.read_timeout * self.settings.deadline_factor):
            raw, envelope, _, _ = await self._exchange(
                "GET", path, "", "", None, self._headers(token), timeout
            )
        return raw, envelope

    def _headers(self, token: str | None) -> dict[str, str]:
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self.settings.is_real_service:
            raise AccountError(
                "COZE_API_TOKEN is not set: the Coze API needs a token. To do: set it, then run "
                "again. Nothing was marked failed; unfinished videos stay pending"
            )
        return {}

    def _no_answer(self, method: str, path: str, why: str, *, sent: bool, last: bool) -> CozeError:
        """What a request that got no whole answer stands for. A POST that may have reached
        Coze may have started a paid run; one that never connected, on its last attempt, says
        nothing is there to answer at all."""
        what = f"no answer from Coze for {method} {path}: {why}"
        if not sent and last:
            tried = f"{self.settings.http_attempts} attempt" + "s" * (
                self.settings.http_attempts > 1
            )
            return EndpointError(
                endpoint_line(
                    self.settings.shown_base_url,
                    f"nothing answered {method} {path} in {tried} ({why})",
                )
            )
        if method == "POST" and sent:
            return UncertainError(
                f"{what} after the request was sent; Coze may have started (and billed) the run"
            )
        return TransportError(what)

    async def _exchange(
        self,
        method: str,
        path: str,
        workflow_id: str,
        request_input: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: httpx.Timeout,
    ) -> tuple[RawExchange, dict[str, Any] | None, float | None, bool]:
        """One request and its answer, read to the end or to MAX_ANSWER_BYTES: the answer, its
        body parsed as a JSON object (or None), its Retry-After, and whether it is whole."""
        sent = time.monotonic()
        async with (
            self._connections.client() as http,
            http.stream(method, path, json=body, headers=headers, timeout=timeout) as response,
        ):
            content, whole = await _read_capped(response, MAX_ANSWER_BYTES)
        # Masked before anything reads it: a server may echo the request's Authorization.
        text = scrub(_text(content, response))
        envelope = parse_envelope(text)
        raw = RawExchange(
            method=method,
            path=path,
            workflow_id=workflow_id,
            request_input=request_input,
            http_status=response.status_code,
            body=text,
            logid=scrub_optional(logid_of(envelope, response.headers.get("x-tt-logid"))),
            received_at=datetime.now(UTC),
            seconds=time.monotonic() - sent,
        )
        return raw, envelope, _retry_after(response), whole

    def _classify(
        self,
        raw: RawExchange,
        envelope: dict[str, Any] | None,
        retry_after: float | None,
        token_role: str,
        whole: bool,
    ) -> CozeError | None:
        """The error an answer stands for; a success cut off at MAX_ANSWER_BYTES is too large
        (an error status is classified by its start, like any other)."""
        if whole or not 200 <= (raw.http_status or 0) < 300:
            return error_for(raw, envelope, retry_after, token_role, self.settings.shown_base_url)
        return AnswerTooLargeError(
            f"malformed Coze answer (over {MAX_ANSWER_BYTES:,} bytes once decompressed, cut off "
            f"unread); body starts: {(raw.body or '')[:200]!r}",
            http_status=raw.http_status,
            logid=raw.logid,
            raw=raw,
        )

    async def _request(
        self,
        method: str,
        path: str,
        workflow_id: str,
        request_input: str,
        body: dict[str, Any] | None,
        *,
        read_timeout: float | None = None,
        key: float | None = None,
    ) -> RawExchange:
        """Send, retrying only what certainly started no run; return the successful answer or
        raise its classified error."""
        read = read_timeout or self.settings.read_timeout
        timeout = httpx.Timeout(
            connect=self.settings.connect_timeout,
            read=read,
            write=self.settings.read_timeout,
            pool=None,
        )
        deadline = read * self.settings.deadline_factor
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            last = attempt >= self.settings.http_attempts
            retry_after: float | None = None
            try:
                async with self.limiter.slot(key):
                    # Asked per attempt, in its turn: a token that expired while the request
                    # waited for the rate is replaced before it is sent.
                    token, token_role = await self.tokens.bearer(method)
                    headers = self._headers(token)
                    self.budget.take()
                    async with asyncio.timeout(deadline):
                        raw, envelope, retry_after, whole = await self._exchange(
                            method, path, workflow_id, request_input, body, headers, timeout
                        )
            except TimeoutError:
                why = f"no whole answer within {deadline:g}s"
                error = self._no_answer(method, path, why, sent=True, last=last)
            except httpx.HTTPError as exc:
                sent = not isinstance(exc, NOT_SENT)
                error = self._no_answer(method, path, _why(exc), sent=sent, last=last)
            else:
                error = self._classify(raw, envelope, retry_after, token_role, whole)
            if error is None:
                self.limiter.on_success()
                return raw
            if error.code in REFUSED_TOKEN_CODES and not renewed and await self.tokens.renew(token):
                renewed = True  # a refused token started no run: sent once more, newly minted
                continue
            if isinstance(error, RateLimitedError):
                self.limiter.on_rate_limited(retry_after)
            if not error.retryable or last:
                raise error
            delay = backoff_delay(attempt, retry_after, self._rng)
            log.warning(
                "retrying %s %s in %.2fs (attempt %d of %d): %s",
                method,
                path,
                delay,
                attempt + 1,
                self.settings.http_attempts,
                error,
            )
            await asyncio.sleep(delay)
