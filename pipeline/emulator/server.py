"""A Coze-compatible workflow server on loopback, for the demo, the tests and the benchmarks.

It answers the two workflows in exactly the recorded shapes (see tests/coze/recorded), with
content derived from the input, at the service's pace (`--profile realistic`, the default) or
at once (`--profile fast`), and misbehaves on demand as docs/coze.md says the service
does: rate limits, coded account and transient errors, dropped and cut connections, lost
records. Its answers' media URLs lead to its own CDN (`/cdn/`, pipeline/emulator/cdn.py).
See docs/emulator.md.

    python -m pipeline.emulator --port 8765 [--profile fast --rps 20 --balance-calls 100 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from pipeline.emulator.answers import KeepRawSend
from pipeline.emulator.cdn import PREFIX as CDN_PREFIX
from pipeline.emulator.cdn import Cdn
from pipeline.emulator.config import EmulatorConfig, add_arguments, from_args
from pipeline.emulator.service import Emulator

OAUTH_TOKEN_PATH = "/api/permission/oauth2/token"
BENEFITS_PATH = "/v1/commerce/benefit/benefits/get"

__all__ = ["EmulatorConfig", "create_app", "main", "serve"]


def create_app(config: EmulatorConfig) -> KeepRawSend:
    emulator = Emulator(config)
    cdn = Cdn(lambda: emulator.config)
    app = Starlette(
        routes=[
            Route("/v1/workflow/run", emulator.counted(emulator.run), methods=["POST"]),
            Route(
                "/v1/workflows/{workflow_id}/run_histories/{execute_id}",
                emulator.counted(emulator.history),
                methods=["GET"],
            ),
            Route(OAUTH_TOKEN_PATH, emulator.oauth_token, methods=["POST"]),
            Route(BENEFITS_PATH, emulator.benefits, methods=["GET"]),
            Route("/_emulator/stats", emulator.stats, methods=["GET"]),
            Route("/_emulator/config", emulator.configure, methods=["POST"]),
            Route(f"{CDN_PREFIX}/{{path:path}}", cdn.serve, methods=["GET"]),
            Route("/_emulator/cdn", cdn.requests, methods=["GET"]),
        ]
    )
    return KeepRawSend(app)


def serve(config: EmulatorConfig, host: str, port: int) -> None:
    """Bind first, then announce the address: with port 0 the caller learns the free port.

    The socket says IPPROTO_TCP so asyncio sets TCP_NODELAY on every connection: without it
    an answer's header and body writes meet Nagle and a delayed ACK, 40 ms per request."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    print(f"Coze emulator listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", access_log=False, lifespan="off")
    )
    asyncio.run(server.serve(sockets=[sock]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.emulator", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve(from_args(args), args.host, args.port)


if __name__ == "__main__":
    main()
