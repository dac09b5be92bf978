"""One media file from its URL into the store: checked while it streams, resumed when cut.

Async over httpx, as the Coze client is: downloads are waits on the network, so they run as
tasks in the same event loop as the Coze calls would, or in a loop of their own, without a
thread per connection. `asyncio.Semaphore`s cap the connections per media host
(`connections_per_host`): the hosts, not the Coze rate limit, set the pace.

A download is staged in `store.staging` as `<key hash>.part`, beside a `.json` note of the
answer's ETag and type, so the next attempt resumes it with `Range` (and `If-Range`, so a
changed file is sent whole: 200 starts over). The sha256 is computed as the bytes arrive; the
first bytes decide whether the body fits its kind (`content.judge`). Only a whole, checked file
goes to the store. Outcomes:

- `ok`: stored; `pending`: worth another try (5xx, 408/429, timeouts, a dropped connection,
  a body shorter than its Content-Length), the partial file kept;
- `expired`: 403/404/410 on a URL whose own expiry (`expiry.py`) has passed;
- `failed`: anything else, for good; the reason in `error`, nothing kept.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from pipeline.media.content import HEAD_BYTES, Accepted, Kind, judge
from pipeline.media.expiry import expired
from pipeline.media.store import MediaStore
from pipeline.status import MediaStatus as Status

# Media hosts refuse clients that do not look like their own web player: a browser's
# User-Agent everywhere, and the platform's page as Referer where its CDN checks it.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
REFERERS: dict[str, str] = {
    "douyin.com": "https://www.douyin.com/",
    "douyinpic.com": "https://www.douyin.com/",
    "douyinvod.com": "https://www.douyin.com/",
    "bilivideo.com": "https://www.bilibili.com/",
    "bilivideo.cn": "https://www.bilibili.com/",
    "hdslb.com": "https://www.bilibili.com/",
}
_RETRYABLE = {408, 425, 429}
_GONE = {403, 404, 410}
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def request_headers(url: str) -> dict[str, str]:
    """What a download sends: a browser's User-Agent, the Referer its host wants, no
    compression (a byte range must count the file's own bytes)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
    host = (urlsplit(url).hostname or "").lower()
    for domain, referer in REFERERS.items():
        if host == domain or host.endswith("." + domain):
            headers["Referer"] = referer
    return headers


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 1 << 30
    idle_seconds: float = 30.0
    """Longest wait for the next bytes (and for a connection)."""
    total_seconds: float = 1800.0
    """Longest one download may take, however steadily bytes trickle in."""
    connections_per_host: int = 4


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    path: str | None = None
    """Relative to the store's root."""
    error: str | None = None


class _Stop(Exception):
    """Ends a download early with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _stop(status: Status, error: str) -> _Stop:
    return _Stop(Outcome(status, error=error))


class Downloader:
    """Downloads into one store, over one connection pool; `async with` it."""

    def __init__(
        self,
        store: MediaStore,
        limits: Limits = Limits(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock
        self._slots: collections.defaultdict[str, asyncio.Semaphore] = collections.defaultdict(
            lambda: asyncio.Semaphore(limits.connections_per_host)
        )
        self._client = httpx.AsyncClient(
            follow_redirects=True,
            timeout=httpx.Timeout(limits.idle_seconds),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    def partial(self, key: str) -> Path:
        """Where the download of `key` (e.g. a video's key and kind) is staged."""
        return self.store.staging / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.part"

    async def fetch(self, url: str, kind: Kind, key: str) -> Outcome:
        """Download `url` as a `kind` file; `key` names its partial file across attempts."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Outcome(Status.FAILED, error="not an http(s) URL")
        staged = self.partial(key)
        async with self._slots[parts.netloc]:
            try:
                async with asyncio.timeout(self.limits.total_seconds):
                    return await self._fetch(url, kind, staged)
            except _Stop as stop:
                if stop.outcome.status != Status.PENDING:
                    _discard(staged)
                return stop.outcome
            except TimeoutError:
                return Outcome(
                    Status.PENDING, error=f"timed out after {self.limits.total_seconds:g} s"
                )
            except httpx.TimeoutException:
                return Outcome(Status.PENDING, error=f"no byte for {self.limits.idle_seconds:g} s")
            except httpx.TransportError as error:  # a dropped connection, a short body
                return Outcome(Status.PENDING, error=f"connection: {type(error).__name__}")

    async def _fetch(self, url: str, kind: Kind, staged: Path) -> Outcome:
        note = staged.with_suffix(".json")
        saved = json.loads(note.read_text()) if note.is_file() and staged.is_file() else None
        have = staged.stat().st_size if saved else 0
        headers = request_headers(url)
        if have:
            headers["Range"] = f"bytes={have}-"
            if saved and saved.get("etag"):
                headers["If-Range"] = saved["etag"]
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 416 and have:  # the partial no longer fits the file: start over
                _discard(staged)
                raise _stop(Status.PENDING, "range refused: starting over")
            self._check_status(url, status)
            if status == 206 and not (have and _resumes_at(response, have)):
                _discard(staged)
                raise _stop(Status.PENDING, "a range that does not fit the partial: starting over")
            if status == 200:
                have, saved = 0, _note(response)
                self.store.staging.mkdir(parents=True, exist_ok=True)
                note.write_text(json.dumps(saved))
            declared = response.headers.get("content-length")
            expected = have + int(declared) if declared and declared.isdigit() else None
            if expected is not None and expected > self.limits.max_bytes:
                raise _stop(
                    Status.FAILED,
                    f"too large: {expected} bytes, the cap is {self.limits.max_bytes}",
                )
            return await self._stream(response, kind, staged, have, expected, saved)

    def _check_status(self, url: str, status: int) -> None:
        if status in (200, 206):
            return
        if status in _GONE and expired(url, self.clock()):
            raise _stop(Status.EXPIRED, f"HTTP {status} after the URL expired")
        if status >= 500 or status in _RETRYABLE:
            raise _stop(Status.PENDING, f"HTTP {status}")
        raise _stop(Status.FAILED, f"HTTP {status}")

    async def _stream(
        self,
        response: httpx.Response,
        kind: Kind,
        staged: Path,
        have: int,
        expected: int | None,
        saved: dict[str, str],
    ) -> Outcome:
        digest, head = hashlib.sha256(), b""
        if have:  # the partial's bytes count in the hash, and its start decides the content
            with staged.open("rb") as earlier:
                head = earlier.read(HEAD_BYTES)
                earlier.seek(0)
                while chunk := earlier.read(1 << 20):
                    digest.update(chunk)
        verdict = None
        size = have
        with staged.open("ab" if have else "wb") as out:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.limits.max_bytes:
                    raise _stop(
                        "failed", f"too large: over the cap of {self.limits.max_bytes} bytes"
                    )
                if verdict is None and len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                if verdict is None and len(head) >= HEAD_BYTES:
                    verdict = _accepted(kind, saved.get("content_type"), head)
                digest.update(chunk)
                out.write(chunk)
        if expected is not None and size < expected:
            raise _stop(Status.PENDING, f"body short: {size} of {expected} bytes")
        verdict = verdict or _accepted(kind, saved.get("content_type"), head)
        sha = digest.hexdigest()
        path = await asyncio.to_thread(self.store.put, staged, sha, verdict.extension)
        staged.with_suffix(".json").unlink(missing_ok=True)
        return Outcome(Status.OK, sha, size, verdict.content_type, path)


def _accepted(kind: Kind, declared: str | None, head: bytes) -> Accepted:
    verdict = judge(kind, declared, head)
    if not isinstance(verdict, Accepted):
        raise _stop(Status.FAILED, verdict.reason)
    return verdict


def _note(response: httpx.Response) -> dict[str, str]:
    """What a later resume needs of this answer: its validator and its declared type."""
    validator = response.headers.get("etag") or response.headers.get("last-modified") or ""
    return {"etag": validator, "content_type": response.headers.get("content-type", "")}


def _resumes_at(response: httpx.Response, have: int) -> bool:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
    return match is not None and int(match[1]) == have


def _discard(staged: Path) -> None:
    staged.unlink(missing_ok=True)
    staged.with_suffix(".json").unlink(missing_ok=True)
