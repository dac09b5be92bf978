"""The emulator's books: its jobs, its counters and when requests arrived; a job's record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.emulator import content

HUGE_TRANSCRIPT_CHARS = 10_000_000
SPACE_ID = "7476805188205182986"
COUNTERS = (
    "requests",
    "metadata_calls",
    "submits",
    "polls",
    "rate_limited",
    "server_errors",
    "auth_failures",
    "transient_errors",
    "dropped_submits",
    "cut_sync_runs",
    "paid_runs",
    "lost_polls",
    "coded_errors",
    "tokens_minted",
    "token_refusals",
    "benefit_reads",
)


@dataclass
class Arrivals:
    """When requests arrived, in unix seconds so that a client on the same machine can lay its
    own clock beside them: how a run used the rate, second by second, when it submitted first
    and last, and when its last metadata run came."""

    first: float | None = None
    last: float = 0.0
    first_submit: float | None = None
    last_submit: float | None = None
    last_metadata: float | None = None
    requests_to_last_submit: int = 0
    per_second: list[int] = field(default_factory=list)

    def add(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.last = now
        second = int(now - self.first)
        self.per_second.extend([0] * (second + 1 - len(self.per_second)))
        self.per_second[second] += 1

    def add_submit(self, now: float, requests_so_far: int) -> None:
        if self.first_submit is None:
            self.first_submit = now
        self.last_submit = now
        self.requests_to_last_submit = requests_so_far


@dataclass
class Job:
    input: str
    workflow_id: str
    created: float
    finish_at: float
    outcome: str  # success | fail | trim
    running_output: str
    lost: bool = False


def debug_url(execute_id: str, workflow_id: str) -> str:
    return (
        f"https://www.coze.cn/work_flow?execute_id={execute_id}&space_id={SPACE_ID}"
        f"&workflow_id={workflow_id}&execute_mode=2"
    )


def finished(job: Job, now: float, hold_jobs: bool) -> bool:
    return now >= job.finish_at and not hold_jobs


def run_record(
    execute_id: str, job: Job, hold_jobs: bool, logid: str, debug_url: str
) -> dict[str, Any]:
    """The record `run_histories` answers for the job now, as the recorded ones look; poison
    inputs bend it (a `Cancelled` status, no output, a 10 MB one)."""

    now = time.time()
    status, output, error_code, error_message, trimmed, tokens = (
        "Running",
        job.running_output,
        "",
        "",
        False,
        0,
    )
    if finished(job, now, hold_jobs):
        if job.outcome == "fail":
            status, output = "Fail", ""
            error_code, error_message = "720702002", "node ASR execution timed out"
        else:
            text, title = content.transcript(job.input)
            trimmed = job.outcome == "trim"
            status, error_code, tokens = "Success", "0", len(text)
            output = (
                content.trimmed_output(text, title)
                if trimmed
                else content.transcript_output(text, title)
            )
    record = {
        "connector_uid": "1519962369294395",
        "logid": logid,
        "bot_id": "0",
        "update_time": int(min(now, job.finish_at)),
        "execute_status": status,
        "error_code": error_code,
        "connector_id": "1024",
        "is_output_trimmed": trimmed,
        "token": "0",
        "run_mode": 2,
        "debug_url": debug_url,
        "node_execute_status": {},
        "error_message": error_message,
        "execute_id": execute_id,
        "create_time": int(job.created),
        "output": output,
        "usage": {"token_count": tokens, "output_count": tokens, "input_count": 0},
    }
    if status != "Running" and "/poison/cancelled/" in job.input:
        record.update(execute_status="Cancelled", output="", error_code="")
    if status == "Success" and "/poison/no-output/" in job.input:
        del record["output"]
    if status == "Success" and "/poison/huge/" in job.input:
        record["output"] = content.transcript_output("字" * HUGE_TRANSCRIPT_CHARS, "huge")
    return record
