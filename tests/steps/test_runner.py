"""The Coze step's periodic commits and progress lines."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.steps import runner
from pipeline.steps.runner import StepProgress, committing
from pipeline.storage.recorder import Recorder


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


def progress_lines(
    tmp_path: Path, quiet_seconds: float, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The periodic lines of a step whose one video is done after five ticks, and then five
    more ticks, a tick (a commit, then progress) every 10 ms: the final report left out."""
    monkeypatch.setattr(runner, "FLUSH_EVERY_SECONDS", 0.01)
    monkeypatch.setattr(runner, "PROGRESS_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(runner, "QUIET_PROGRESS_SECONDS", quiet_seconds)
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.getLogger(f"test.quiet.{quiet_seconds}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(Lines())
    recorder = Recorder(tmp_path / "w.duckdb", max_attempts=3, lock_wait_seconds=5, logger=log)
    flushes = 0
    flush = recorder.flush

    def counted(*, wait: bool) -> bool:
        nonlocal flushes
        flushes += 1
        return flush(wait=wait)

    monkeypatch.setattr(recorder, "flush", counted)
    metadata = StepProgress("metadata", 1)

    async def ticks(count: int) -> None:
        until = flushes + count
        while flushes < until:
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        async with committing(recorder, [metadata], log, lambda: "rate"):
            await ticks(5)
            metadata.done = 1
            await ticks(5)

    asyncio.run(scenario())
    return [line.split(" done")[0] for line in lines[:-2]]


def test_progress_is_said_when_it_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said = progress_lines(tmp_path, 3600.0, monkeypatch)
    assert said == ["metadata: 0/1", "rate", "metadata: 1/1", "rate"]


def test_a_quiet_step_still_says_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the quiet interval has passed, the unchanged lines again (a minute in a run)."""
    said = progress_lines(tmp_path, 0.0, monkeypatch)
    assert said.count("metadata: 1/1") > 1


def test_workers_draw_the_next_item_only_when_free() -> None:
    """A hundred items, four workers: when an item's work starts, no more than four items have
    been drawn past it, so a work list read lazily is never held whole (all hundred were
    copied into a queue before the first call started)."""
    drawn = 0
    ahead: list[int] = []
    done: list[int] = []

    def items() -> Iterator[int]:
        nonlocal drawn
        for n in range(100):
            drawn += 1
            yield n

    async def work(n: int) -> None:
        ahead.append(drawn - n)
        await asyncio.sleep(0)
        done.append(n)

    asyncio.run(runner.for_each(items(), 4, work))
    assert sorted(done) == list(range(100))
    assert max(ahead) <= 4
