"""Servers for the client tests: a replay of recorded answers and a connection dropper."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> str:
    """The real answers of the seed calls (copied from shared/coze/responses)."""
    return (RECORDED / name).read_text(encoding="utf-8")


class ReplayServer:
    """Answers every request with the status and body that `answer(request path)` gives, byte
    for byte, and with `headers` (e.g. `x-tt-logid`) when given."""

    def __init__(
        self, answer: Callable[[str], tuple[int, str]], headers: dict[str, str] | None = None
    ) -> None:
        self.requests = 0

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            status, body = answer(request.url.path)
            return Response(
                body, status_code=status, media_type="application/json", headers=headers
            )

        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
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


class DroppingProxy:
    """Relays TCP to `target`, but slams the first `drop` connections shut unanswered."""

    def __init__(self, target_url: str, drop: int) -> None:
        host, port = target_url.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.remaining_drops = drop
        self.dropped = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
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
