"""The emulator's media CDN: the files its metadata answers point at, behind signed URLs.

`GET /cdn/<real host>/<real path>`, the URLs `content.metadata` writes:

- play URLs, `…/<32 hex signature>/<8 hex expiry>/video/tos/cn/…/o<id>/`: a 2 s MP4 with the
  video's id in a trailing `free` box, so each video has its own bytes (padded to
  `media_bytes`);
- covers, `…/tos-cn-i-…/o<id>~tplv-….webp?x-expires=…&x-signature=…`: one of six WebP images
  picked by the id, so some videos share a cover and others do not;
- avatars, `…/aweme-avatar/tos-cn-i-0813c001_<id>.jpeg`: unsigned, as on Douyin; one JPEG per
  author (the id in a comment segment), shared by the author's videos.

As the real CDN: a wrong signature or a passed expiry is a 403 page, an unknown path a 404;
Content-Length always; one byte range (`Range: bytes=N-[M]`, `If-Range` with the ETag) is a
206 with Content-Range. Switches (EmulatorConfig): `media_html` (a page instead of the video),
`media_short` (each URL's first answer cut at half its Content-Length), `media_trickle` (a
byte per interval), `media_bytes` (the video's size); `media_expired` and `media_url_seconds`
shape the URLs. `GET /_emulator/cdn` lists the requests it had, with their Range headers.

The files (pipeline/emulator/media/) were made once with ffmpeg's lavfi sources: `testsrc2`
and `sine` (H.264 and AAC, `+faststart`), `testsrc` (JPEG), `color` and `drawgrid` (WebP).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from pipeline.emulator import content
from pipeline.emulator.answers import RAW_SEND
from pipeline.emulator.config import EmulatorConfig

PREFIX = "/cdn"
MEDIA = Path(__file__).parent / "media"
COVERS = 6
_VIDEO = re.compile(r"[^/]+/([0-9a-f]{32})/([0-9a-f]{8})/(video/tos/cn/[^/]+/o([0-9a-f]+)/)")
_COVER = re.compile(r"[^/]+/(tos-cn-i-[^/]+/o([0-9a-f]+)~tplv-[^/]+\.webp)")
_AVATAR = re.compile(r"[^/]+/aweme/100x100/aweme-avatar/tos-cn-i-0813c001_([0-9a-f]+)\.jpeg")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
FORBIDDEN = (
    "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>"
)
CHALLENGE = (
    "<!DOCTYPE html><html><head><meta charset=utf-8><title>验证码中间页</title></head>"
    "<body><div id=captcha>请完成下列验证后继续</div></body></html>"
)
_CHUNK = 64 * 1024


def metadata_with_media(text: str, request: Request, config: EmulatorConfig) -> dict[str, Any]:
    """The metadata answer's data, its media at this server's address as the client used it."""
    base = str(request.base_url).rstrip("/") + PREFIX
    cdn = content.Cdn(base, config.media_url_seconds, config.media_expired)
    return content.metadata(text, int(time.time()), cdn)


@functools.cache
def _file(name: str) -> bytes:
    return (MEDIA / name).read_bytes()


def video_bytes(video_id: str, size: int | None) -> bytes:
    """The MP4 with the id in a `free` box at the end (players skip it), padded to `size`."""
    note = f"emulator video {video_id}".encode()
    base = _file("video.mp4")
    note += b"\0" * max(0, (size or 0) - len(base) - 8 - len(note))
    return base + struct.pack(">I", 8 + len(note)) + b"free" + note


def avatar_bytes(avatar_id: str) -> bytes:
    """The JPEG with the id in a COM segment right after its start marker."""
    note = f"emulator avatar {avatar_id}".encode()
    jpeg = _file("avatar.jpg")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", 2 + len(note)) + note + jpeg[2:]


def cover_bytes(cover_id: str) -> bytes:
    return _file(f"cover-{int(cover_id[:2], 16) % COVERS}.webp")


def _resolve(
    path: str, query: Any, now: float, video_size: int | None
) -> tuple[str, str, bytes] | int:
    """(kind, content type, bytes) a URL is for, or the status refusing it."""
    if match := _AVATAR.fullmatch(path):
        return "avatar", "image/jpeg", avatar_bytes(match[1])
    if match := _VIDEO.fullmatch(path):
        signature, expiry, signed, video_id = match.groups()
        if signature != content.sign(signed, int(expiry, 16))[:32]:
            return 403
        if int(expiry, 16) <= now:
            return 403
        return "video", "video/mp4", video_bytes(video_id, video_size)
    if match := _COVER.fullmatch(path):
        expiry = query.get("x-expires", "")
        if not expiry.isdigit() or query.get("x-signature") != (
            content.sign(match[1], int(expiry))[:27] + "="
        ):
            return 403
        return 403 if int(expiry) <= now else ("cover", "image/webp", cover_bytes(match[2]))
    return 404


class Cdn:
    """The routes' state: the live config (read per request), the request log, the URLs already
    cut short once."""

    def __init__(self, config: Callable[[], EmulatorConfig]) -> None:
        self.config = config
        self.log: list[dict[str, Any]] = []
        self.cut: set[str] = set()

    async def requests(self, request: Request) -> Response:
        return JSONResponse({"requests": self.log})

    async def serve(self, request: Request) -> Response:
        config, path = self.config(), request.path_params["path"]
        entry = {
            "path": path,
            "range": request.headers.get("range"),
            "if_range": request.headers.get("if-range"),
            "referer": request.headers.get("referer"),
            "user_agent": request.headers.get("user-agent"),
        }
        self.log.append(entry)
        resolved = _resolve(path, request.query_params, time.time(), config.media_bytes)
        if isinstance(resolved, int):
            entry["status"] = resolved
            return HTMLResponse(FORBIDDEN if resolved == 403 else "Not Found", resolved)
        kind, content_type, body = resolved
        if kind == "video" and config.media_html:
            entry["status"] = 200
            return HTMLResponse(CHALLENGE)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"content-type": content_type, "accept-ranges": "bytes", "etag": etag}
        status, start, end = 200, 0, len(body)
        asked = _RANGE.fullmatch(entry["range"] or "")
        if asked and entry["if_range"] in (None, etag):
            start = int(asked[1])
            end = min(len(body), int(asked[2]) + 1) if asked[2] else len(body)
            if start >= len(body) or start >= end:
                entry["status"] = 416
                return Response(status_code=416, headers={"content-range": f"bytes */{len(body)}"})
            status = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{len(body)}"
        cut = config.media_short and path not in self.cut
        if cut:
            self.cut.add(path)
        entry["status"] = status
        return Body(status, headers, body[start:end], config.media_trickle, cut)


class Body(Response):
    """A media answer sent by hand: in chunks, or a byte per `trickle` seconds, or cut at half
    its Content-Length by closing the connection (the client sees a short body)."""

    def __init__(
        self, status: int, headers: dict[str, str], payload: bytes, trickle: float | None, cut: bool
    ) -> None:
        super().__init__(
            b"", status, headers={**headers, "content-length": str(len(payload))}, media_type=None
        )
        self.payload = payload[: len(payload) // 2] if cut else payload
        self.trickle = trickle
        self.cut = cut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(scope.get(RAW_SEND), "__self__", None)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        step = 1 if self.trickle else _CHUNK
        for at in range(0, len(self.payload), step):
            if getattr(cycle, "disconnected", False):
                return  # the client gave up (a timeout): stop sending to nobody
            await send(
                {
                    "type": "http.response.body",
                    "body": self.payload[at : at + step],
                    "more_body": True,
                }
            )
            if self.trickle:
                await asyncio.sleep(self.trickle)
        if self.cut and cycle is not None:
            cycle.transport.close()
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
