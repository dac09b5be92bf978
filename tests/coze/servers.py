"""Servers for the client tests: a replay of recorded answers, a connection dropper, a proxy
that answers chosen requests itself, and a raw socket for answers no framework would send."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> str:
    """The real answers of the seed calls (copied from tests/coze/recorded)."""
    return (RECORDED / name).read_text(encoding="utf-8")


def listening_socket() -> tuple[socket.socket, str]:
    """A socket listening on a free loopback port, and its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


class ReplayServer:
    """Answers every request with the status and body that `answer(request path)` gives, byte
    for byte, and with `headers` (e.g. `x-tt-logid`) when given."""

    def __init__(
        self,
        answer: Callable[[str], tuple[int, str]],
        headers: dict[str, str] | None = None,
        media_type: str = "application/json",
    ) -> None:
        self.requests = 0

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            status, body = answer(request.url.path)
            return Response(body, status_code=status, media_type=media_type, headers=headers)

        self._serve(Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])]))

    def _serve(self, app: Starlette) -> None:
        self._sock, self.url = listening_socket()
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


Intercept = Callable[[str, dict], tuple[int, str] | None]


class InterceptingProxy(ReplayServer):
    """Relays every request to `target_url`, except those `intercept(method, JSON body)` answers
    itself with (status, body); `intercepted` counts those by the request's input."""

    def __init__(self, target_url: str, intercept: Intercept) -> None:
        self.requests = 0
        self.intercepted: Counter[str] = Counter()
        upstream = httpx.AsyncClient(base_url=target_url, timeout=60)

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            content = await request.body()
            payload = json.loads(content) if content else {}
            answer = intercept(request.method, payload)
            if answer is not None:
                self.intercepted[payload.get("parameters", {}).get("input", "")] += 1
                return Response(answer[1], status_code=answer[0], media_type="application/json")
            relayed = await upstream.request(
                request.method,
                request.url.path,
                content=content,
                headers={k: v for k, v in request.headers.items() if k.lower() == "authorization"},
            )
            kept = {k: v for k, v in relayed.headers.items() if k.lower() == "x-tt-logid"}
            return Response(
                relayed.content,
                status_code=relayed.status_code,
                media_type=relayed.headers.get("content-type"),
                headers=kept,
            )

        self._serve(Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])]))


def nested_json(levels: int) -> str:
    """A JSON array nested `levels` deep: valid JSON no recursive parser can read."""
    return "[" * levels + "]" * levels


def gzip_bomb(decompressed_bytes: int) -> bytes:
    """A gzip body of `decompressed_bytes` zeros (a multiple of 1 MiB) in about 1/1000 of that,
    built in milliseconds: one fully flushed deflate block of 1 MiB of zeros, repeated."""
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    blocks = decompressed_bytes >> 20
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(mib, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    trailer = crc.to_bytes(4, "little") + (decompressed_bytes & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * blocks + end + trailer


class RawServer:
    """Reads each request, then hands the socket to `respond(sock)`, which writes whatever bytes
    it likes: a body trickled a byte at a time, a gzip bomb. `connections` counts requests."""

    def __init__(self, respond: Callable[[socket.socket, threading.Event], None]) -> None:
        self.connections = 0
        self.stopped = threading.Event()
        self._respond = respond
        self._listener, self.url = listening_socket()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            request = b""
            while b"\r\n\r\n" not in request:
                request += client.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += client.recv(65536)
            self._respond(client, self.stopped)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self._listener.close()


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DroppingProxy:
    """Relays TCP to `target`, but slams the first `drop` connections shut unanswered."""

    def __init__(self, target_url: str, drop: int) -> None:
        host, port = target_url.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.remaining_drops = drop
        self.dropped = 0
        self._listener, self.url = listening_socket()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.remaining_drops > 0:
                self.remaining_drops -= 1
                self.dropped += 1
                client.recv(65536)
                client.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._listener.close()
