"""The Coze step's periodic commits and progress lines."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from pipeline.steps import runner
from pipeline.steps.runner import StepProgress, committing
from pipeline.warehouse.recorder import Recorder


def test_progress_lines_are_stored_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Dagster step each log line is an event written to the instance's database, a few ms
    each: written from the event loop, four lines every 5 s held back the request starts due
    meanwhile (0.4 s of the rate over a 64 s batch at 100 requests/s)."""
    monkeypatch.setattr(runner, "FLUSH_EVERY_SECONDS", 0.01)
    monkeypatch.setattr(runner, "PROGRESS_EVERY_SECONDS", 0.0)
    emitted_in: list[threading.Thread] = []

    class Where(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            emitted_in.append(threading.current_thread())

    log = logging.getLogger("test.progress")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(Where())
    recorder = Recorder(tmp_path / "w.duckdb", max_attempts=3, lock_wait_seconds=5, logger=log)

    async def scenario() -> threading.Thread:
        async with committing(recorder, [StepProgress("metadata", 1)], log, lambda: "rate"):
            await asyncio.sleep(0.3)
        return threading.current_thread()

    loop_thread = asyncio.run(scenario())
    periodic = emitted_in[:-2]  # the last two lines are the final report, once the calls ended
    assert periodic, "no periodic progress line"
    assert loop_thread not in periodic
