"""A Coze-compatible workflow server on loopback, for the demo, the tests and the benchmarks.

It answers the two workflows in exactly the recorded shapes (see shared/coze/responses), with
content derived from the input, and can misbehave on purpose: a rate limit (HTTP 429), latency,
server errors, failed or trimmed jobs, and a required token. Some inputs misbehave on purpose,
so failures can be tested deterministically:

- `/deleted/` or `invalid`: the metadata workflow fails (code 6000);
- `/poison/data-null/`, `/poison/wrong-types/`: a metadata answer with `data: null`, or a title
  that is a number;
- `/poison/no-output/`, `/poison/huge/`: a successful transcript run with no `output`, or with a
  10 MB transcript.

    python -m pipeline.coze.emulator --port 0 [--rps 20 --latency 0.2 --job-seconds 3 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.coze import codes, content
from pipeline.coze.config import METADATA_WORKFLOW_ID, TRANSCRIPT_WORKFLOW_ID

SPACE_ID = "7476805188205182986"
FIRST_EXECUTE_ID = 7535298640308535332
DELETED_MARKERS = ("/deleted/", "invalid")
HUGE_TRANSCRIPT_CHARS = 10_000_000


@dataclass(frozen=True)
class EmulatorConfig:
    rps: float | None = None
    latency: float = 0.0
    job_seconds: float = 0.3
    fail_rate: float = 0.0
    error_rate: float = 0.0
    trim_rate: float = 0.0
    require_token: str | None = None
    seed: int = 0

    def argv(self) -> list[str]:
        args: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                args += [f"--{f.name.replace('_', '-')}", str(value)]
        return args


@dataclass
class Job:
    input: str
    workflow_id: str
    created: float
    finish_at: float
    outcome: str  # success | fail | trim


class Emulator:
    """The server's state: jobs, counters, the rate window, the live config."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.jobs: dict[str, Job] = {}
        self.next_execute_id = FIRST_EXECUTE_ID
        self.counters: collections.Counter[str] = collections.Counter()
        self.submits_per_input: collections.Counter[str] = collections.Counter()
        self.arrivals: collections.deque[float] = collections.deque()
        self.max_per_second = 0
        self.tokens = config.rps or 0.0
        self.refilled = time.monotonic()

    def _logid(self) -> str:
        return time.strftime("%Y%m%d%H%M%S") + f"{self.rng.getrandbits(80):020X}"

    def _debug_url(self, execute_id: str, workflow_id: str) -> str:
        return (
            f"https://www.coze.cn/work_flow?execute_id={execute_id}&space_id={SPACE_ID}"
            f"&workflow_id={workflow_id}&execute_mode=2"
        )

    def _error(self, status: int, code: int, msg: str, **headers: str) -> Response:
        return JSONResponse(
            {"code": code, "msg": msg},
            status_code=status,
            headers={"x-tt-logid": self._logid(), **headers},
        )

    def _ok(self, body: dict[str, Any]) -> Response:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return Response(text, media_type="application/json", headers={"x-tt-logid": self._logid()})

    def _admit(self, request: Request) -> Response | None:
        """Arrival accounting, token check, rate limit and injected 5xx, in the real order."""
        now = time.monotonic()
        self.counters["requests"] += 1
        self.arrivals.append(now)
        while self.arrivals and self.arrivals[0] < now - 1.0:
            self.arrivals.popleft()
        self.max_per_second = max(self.max_per_second, len(self.arrivals))
        token = self.config.require_token
        if token is not None and request.headers.get("authorization") != f"Bearer {token}":
            self.counters["auth_failures"] += 1
            return self._error(401, codes.AUTH_FAILED, "authentication is invalid")
        if self.config.rps:
            self.tokens = min(
                self.config.rps, self.tokens + (now - self.refilled) * self.config.rps
            )
            self.refilled = now
            if self.tokens < 1.0:
                self.counters["rate_limited"] += 1
                wait = (1.0 - self.tokens) / self.config.rps
                return self._error(
                    429,
                    codes.RATE_LIMITED,
                    "request frequency exceeds limit",
                    **{"Retry-After": f"{wait:.3f}"},
                )
            self.tokens -= 1.0
        if self.config.error_rate and self.rng.random() < self.config.error_rate:
            self.counters["server_errors"] += 1
            return self._error(500, codes.INTERNAL_ERROR, "internal error")
        return None

    async def run(self, request: Request) -> Response:
        refused = self._admit(request)
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            workflow_id = body["workflow_id"]
            text = body["parameters"]["input"]
            is_async = bool(body.get("is_async", False))
        except (ValueError, KeyError, TypeError):
            return self._error(
                400,
                codes.BAD_PARAMETER,
                "invalid parameter: workflow_id and parameters.input are required",
            )
        if not isinstance(text, str) or not text:
            return self._error(
                400, codes.BAD_PARAMETER, "invalid parameter: input must be a non-empty string"
            )
        if workflow_id == METADATA_WORKFLOW_ID and not is_async:
            return self._metadata(text)
        if workflow_id == TRANSCRIPT_WORKFLOW_ID and is_async:
            return self._submit(text, workflow_id)
        return self._error(
            200,
            codes.WORKFLOW_NOT_FOUND,
            f"workflow {workflow_id} not found or not published for this mode",
        )

    def _metadata(self, text: str) -> Response:
        self.counters["metadata_calls"] += 1
        execute_id = str(self.next_execute_id)
        self.next_execute_id += 1
        debug_url = self._debug_url(execute_id, METADATA_WORKFLOW_ID)
        if any(marker in text for marker in DELETED_MARKERS):
            return self._ok(
                {
                    "code": codes.WORKFLOW_FAILED,
                    "msg": "workflow execution failed: video not found or deleted",
                    "debug_url": debug_url,
                }
            )
        data: dict[str, Any] = content.metadata(text, int(time.time()))
        if "/poison/wrong-types/" in text:
            data["title"] = 12345
        encoded = (
            None
            if "/poison/data-null/" in text
            else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        )
        return self._ok(
            {
                "code": 0,
                "data": encoded,
                "debug_url": debug_url,
                "msg": "Success",
                "usage": {"input_count": 0, "output_count": 0, "token_count": 0},
            }
        )

    def _submit(self, text: str, workflow_id: str) -> Response:
        self.counters["submits"] += 1
        self.submits_per_input[text] += 1
        execute_id = str(self.next_execute_id)
        self.next_execute_id += 1
        draw = self.rng.random()
        outcome = (
            "fail"
            if draw < self.config.fail_rate
            else "trim"
            if draw < self.config.fail_rate + self.config.trim_rate
            else "success"
        )
        now = time.time()
        self.jobs[execute_id] = Job(text, workflow_id, now, now + self.config.job_seconds, outcome)
        return self._ok(
            {
                "code": 0,
                "debug_url": self._debug_url(execute_id, workflow_id),
                "execute_id": execute_id,
                "msg": "Success",
            }
        )

    async def history(self, request: Request) -> Response:
        refused = self._admit(request)
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        if refused is not None:
            return refused
        self.counters["polls"] += 1
        workflow_id = request.path_params["workflow_id"]
        execute_id = request.path_params["execute_id"]
        job = self.jobs.get(execute_id)
        if job is None or job.workflow_id != workflow_id:
            return self._error(200, codes.BAD_PARAMETER, f"execute_id {execute_id} not found")
        return self._ok(
            {
                "msg": "",
                "data": [self._record(execute_id, job)],
                "detail": {"logid": self._logid()},
                "code": 0,
            }
        )

    def _record(self, execute_id: str, job: Job) -> dict[str, Any]:
        now = time.time()
        status, output, error_code, error_message, trimmed, tokens = (
            "Running",
            "",
            "0",
            "",
            False,
            0,
        )
        if now >= job.finish_at:
            if job.outcome == "fail":
                status, error_code, error_message = (
                    "Fail",
                    "720702002",
                    "node ASR execution timed out",
                )
            else:
                text, title = content.transcript(job.input)
                trimmed = job.outcome == "trim"
                if trimmed:
                    text = text[: max(1, len(text) // 3)]
                status, output, tokens = (
                    "Success",
                    content.transcript_output(text, title),
                    len(text),
                )
        record = {
            "connector_uid": "1519962369294395",
            "logid": self._logid(),
            "bot_id": "0",
            "update_time": int(min(now, job.finish_at)),
            "execute_status": status,
            "error_code": error_code,
            "connector_id": "1024",
            "is_output_trimmed": trimmed,
            "token": "0",
            "run_mode": 2,
            "debug_url": self._debug_url(execute_id, job.workflow_id),
            "node_execute_status": {},
            "error_message": error_message,
            "execute_id": execute_id,
            "create_time": int(job.created),
            "output": output,
            "usage": {"token_count": tokens, "output_count": tokens, "input_count": 0},
        }
        if status == "Success" and "/poison/no-output/" in job.input:
            del record["output"]
        if status == "Success" and "/poison/huge/" in job.input:
            record["output"] = content.transcript_output("字" * HUGE_TRANSCRIPT_CHARS, "huge")
        return record

    async def stats(self, request: Request) -> Response:
        now = time.time()
        return JSONResponse(
            {
                **{
                    k: self.counters[k]
                    for k in (
                        "requests",
                        "metadata_calls",
                        "submits",
                        "polls",
                        "rate_limited",
                        "server_errors",
                        "auth_failures",
                    )
                },
                "max_requests_per_second": self.max_per_second,
                "submits_per_input": dict(self.submits_per_input),
                "jobs": {
                    eid: {
                        "input": job.input,
                        "status": "Running" if now < job.finish_at else job.outcome,
                    }
                    for eid, job in self.jobs.items()
                },
                "config": asdict(self.config),
            }
        )

    async def configure(self, request: Request) -> Response:
        changes = await request.json()
        self.config = replace(self.config, **changes)
        self.rng = random.Random(self.config.seed + self.counters["requests"])
        return JSONResponse(asdict(self.config))


def create_app(config: EmulatorConfig) -> Starlette:
    emulator = Emulator(config)
    return Starlette(
        routes=[
            Route("/v1/workflow/run", emulator.run, methods=["POST"]),
            Route(
                "/v1/workflows/{workflow_id}/run_histories/{execute_id}",
                emulator.history,
                methods=["GET"],
            ),
            Route("/_emulator/stats", emulator.stats, methods=["GET"]),
            Route("/_emulator/config", emulator.configure, methods=["POST"]),
        ]
    )


def serve(config: EmulatorConfig, host: str, port: int) -> None:
    """Bind first, then announce the address: with port 0 the caller learns the free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    print(f"Coze emulator listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", access_log=False, lifespan="off")
    )
    asyncio.run(server.serve(sockets=[sock]))


class EmulatorProcess:
    """The emulator in its own process, so a test can kill the pipeline and keep the server."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.coze.emulator", "--port", "0", *self.config.argv()],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._process.stdout.readline() if self._process.stdout else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"Coze emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_emulator/stats", timeout=30).json()

    def set_faults(self, **changes: Any) -> None:
        httpx.post(f"{self.url}/_emulator/config", json=changes, timeout=30).raise_for_status()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.coze.emulator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--rps", type=float, help="requests per second before HTTP 429 (default: no limit)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--job-seconds", type=float, default=0.3, help="how long a transcript job runs"
    )
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of jobs ending in Fail")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered HTTP 500"
    )
    parser.add_argument(
        "--trim-rate", type=float, default=0.0, help="share of jobs with trimmed output"
    )
    parser.add_argument("--require-token", help="answer 401 unless this bearer token is sent")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        rps=args.rps,
        latency=args.latency,
        job_seconds=args.job_seconds,
        fail_rate=args.fail_rate,
        error_rate=args.error_rate,
        trim_rate=args.trim_rate,
        require_token=args.require_token,
        seed=args.seed,
    )
    serve(config, args.host, args.port)


if __name__ == "__main__":
    main()
