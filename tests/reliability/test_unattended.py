"""Months on a schedule against the real service: what Coze answers on its bad days never fails a
video for good unless it is about that video, and never poisons the warehouse.

Each case runs `python -m pipeline run` over real HTTP against the emulator, misbehaving through
its `coded_error` switch (a code on every call of some kind) or a poison input, then lifts the
fault as a top-up or the end of an outage would and runs again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK
from pipeline.settings import PROJECT_ROOT
from tests.support import PipelineProcess, files_containing, pipeline_env

VIDEOS = [f"https://www.douyin.com/video/76{n:017d}" for n in range(6)]
FAST = {"profile": "fast", "job_seconds": 0.5}


def run(links: Path, home: Path, url: str, **env: str) -> tuple[int, str]:
    """One `python -m pipeline run` to its end: (exit status, output)."""
    environment = pipeline_env(home, url, **{"PIPELINE_POLL_BUDGET": "60", **env})
    process = PipelineProcess(links, links.parent / "warehouse.duckdb", environment)
    return process.finish(), process.output


def query(links: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(links.parent / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def batch(folder: Path, lines: list[str], name: str = "batch.txt") -> Path:
    links = folder / name
    links.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return links


def failed_items(links: Path) -> int:
    return query(links, "SELECT count(*) FROM item_state WHERE status = 'failed'")[0][0]


def statuses(links: Path) -> set[tuple[str, str]]:
    return set(query(links, "SELECT metadata_status, transcript_status FROM link_status"))


def test_an_account_in_arrears_on_every_submit_halts_and_the_top_up_finishes_it(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, VIDEOS)
    config = EmulatorConfig(**FAST, coded_error=4019, coded_on="submit")
    with EmulatorProcess(config) as emulator:
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_COZE_HALTED, output
        last = output.strip().splitlines()[-1]
        assert "code 4019" in last and "arrears" in last and "Nothing was marked failed" in last
        assert failed_items(links) == 0
        emulator.set_faults(coded_error=None)
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_OK, output
        paid = emulator.stats()["submits_per_input"]
    assert statuses(links) == {("ok", "ok")}
    assert sorted(paid.values()) == [1] * len(VIDEOS), "a job was paid twice"


def test_sensitive_content_fails_that_video_alone_with_its_reason(
    tmp_path: Path, dagster_home: Path
) -> None:
    sensitive = "https://www.douyin.com/video/7600000000000000099 /poison/sensitive/"
    links = batch(tmp_path, [*VIDEOS, sensitive])
    with EmulatorProcess(EmulatorConfig(**FAST)) as emulator:
        status, output = run(links, dagster_home, emulator.url)
    assert status == EXIT_OK, output
    rows = query(
        links,
        "SELECT l.raw_text, s.metadata_status, s.metadata_error "
        "FROM link_status s JOIN links l USING (video_key)",
    )
    by_line = {line: (state, error) for line, state, error in rows}
    state, error = by_line.pop(sensitive)
    assert state == "failed" and "4105" in error and "敏感信息" in error, error
    assert {state for state, _ in by_line.values()} == {"ok"}


def test_an_unknown_code_on_every_metadata_run_halts_within_a_few_calls(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, VIDEOS * 1 + [v.replace("76", "75", 1) for v in VIDEOS])
    config = EmulatorConfig(**FAST, coded_error=4999, coded_on="metadata")
    with EmulatorProcess(config) as emulator:
        status, output = run(links, dagster_home, emulator.url, COZE_RPS="5")
        assert status == EXIT_COZE_HALTED, output
        last = output.strip().splitlines()[-1]
        assert "code 4999" in last and "3 videos in a row" in last and "error 4999" in last
        assert emulator.stats()["metadata_calls"] == 0
        assert emulator.stats()["coded_errors"] < 10, "the run went on calling"
        assert failed_items(links) == 0
        emulator.set_faults(coded_error=None)
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_OK, output
    assert statuses(links) == {("ok", "ok")}


def test_a_model_in_arrears_on_every_poll_keeps_the_paid_jobs_for_the_next_run(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, VIDEOS)
    config = EmulatorConfig(**FAST, coded_error=4022, coded_on="poll")
    with EmulatorProcess(config) as emulator:
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_COZE_HALTED, output
        assert "code 4022" in output.strip().splitlines()[-1]
        assert failed_items(links) == 0
        assert query(links, "SELECT DISTINCT status FROM transcript_jobs") == [("Running",)]
        emulator.set_faults(coded_error=None)
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_OK, output
        paid = emulator.stats()["submits_per_input"]
    assert statuses(links) == {("ok", "ok")}
    assert sorted(paid.values()) == [1] * len(VIDEOS)


def test_three_runs_in_an_outage_cost_no_attempt_and_the_next_run_finishes(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, VIDEOS)
    with EmulatorProcess(EmulatorConfig(**FAST, coded_error=4013)) as emulator:
        for hour in range(3):
            status, output = run(links, dagster_home, emulator.url, COZE_MAX_ATTEMPTS="2")
            assert status == EXIT_COZE_HALTED, (hour, output)
            assert "failed every call of this run" in output.strip().splitlines()[-1]
            assert failed_items(links) == 0, hour
        charged = query(links, "SELECT max(attempts) FROM item_state")[0][0]
        assert charged == 0, "an outage cost the videos attempts"
        emulator.set_faults(coded_error=None)
        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_OK, output
    assert statuses(links) == {("ok", "ok")}


def test_a_title_ending_in_half_an_emoji_poisons_neither_later_runs_nor_rebuild(
    tmp_path: Path, dagster_home: Path
) -> None:
    half = "https://www.douyin.com/video/7600000000000000077 /poison/half-emoji/"
    first = batch(tmp_path, [half, VIDEOS[0]], "first.txt")
    second = batch(tmp_path, VIDEOS[1:3], "second.txt")
    with EmulatorProcess(EmulatorConfig(**FAST)) as emulator:
        for links in (first, second):
            status, output = run(links, dagster_home, emulator.url)
            assert status == EXIT_OK, output
    rebuilt = subprocess.run(
        [sys.executable, "-m", "pipeline", "rebuild", "--db", str(tmp_path / "warehouse.duckdb")],
        cwd=PROJECT_ROOT,
        env=pipeline_env(dagster_home, "http://127.0.0.1:9"),
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    titles = [t for (t,) in query(first, "SELECT raw_title FROM videos") if t.endswith("\ufffd")]
    assert len(titles) == 1, titles
    nickname = query(first, "SELECT nickname FROM authors WHERE nickname LIKE '%\ufffd'")
    assert len(nickname) == 1
    assert query(first, "SELECT count(*) FROM videos")[0][0] == 4


def test_jobs_whose_records_say_nothing_usable_do_not_hold_the_run(
    tmp_path: Path, dagster_home: Path
) -> None:
    odd = ["https://v.douyin.com/poison/cancelled/", "https://v.douyin.com/poison/no-record/"]
    links = batch(tmp_path, [VIDEOS[0], *odd])  # three jobs: all polled from the start
    with EmulatorProcess(EmulatorConfig(**FAST)) as emulator:
        status, output = run(links, dagster_home, emulator.url, PIPELINE_POLL_BUDGET="600")
        polls = emulator.stats()["polls"]
    assert status == EXIT_OK, output
    assert "2 jobs' records say nothing usable" in output
    assert "'Cancelled'" in output and "no run record" in output
    assert polls < 20, "the odd jobs were polled as if they were about to finish"
    assert query(
        links,
        "SELECT l.raw_text, s.transcript_status FROM link_status s JOIN links l USING (video_key) "
        "ORDER BY 1",
    ) == sorted([(VIDEOS[0], "ok")] + [(o, "pending") for o in odd])


def test_a_server_echoing_the_token_leaves_it_nowhere(tmp_path: Path, dagster_home: Path) -> None:
    token = "pat_echoed_back_0c7f1e2d3a4b5c6d"
    links = batch(tmp_path, VIDEOS)
    config = EmulatorConfig(**FAST, coded_error=5000, echo_authorization=True)
    with EmulatorProcess(config) as emulator:
        status, output = run(
            links, dagster_home, emulator.url, COZE_API_TOKEN=token, COZE_MAX_ATTEMPTS="2"
        )
    assert status == EXIT_COZE_HALTED, output
    assert "Authorization: Bearer ***" in output
    assert token not in output
    assert query(links, "SELECT count(*) FROM raw_responses WHERE body LIKE '%Bearer ***%'")[0][0]
    assert files_containing(token, tmp_path, dagster_home) == []


def test_a_directory_or_fifo_named_txt_says_what_it_is(tmp_path: Path, dagster_home: Path) -> None:
    folder = tmp_path / "links.txt"
    folder.mkdir()
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    for path, what in ((folder, "is a directory"), (fifo, "is a FIFO (named pipe)")):
        for command in (["run", "--links", str(path)], ["plan", "--links", str(path)]):
            done = subprocess.run(
                [sys.executable, "-m", "pipeline", *command],
                cwd=PROJECT_ROOT,
                env=pipeline_env(dagster_home, "http://127.0.0.1:9"),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 2, (command, done.stderr)
            assert (
                done.stderr.strip() == f"{path} {what}, not a link file: give a text file of links"
            )
