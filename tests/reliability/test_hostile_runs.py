"""Unlucky and hostile conditions around `python -m pipeline run`, with real processes: same-named
link files, a run killed while holding the API pool, first runs racing on a fresh instance,
escape sequences in answers, a 3 MB tracking URL. Nothing crashes, nothing is lost or paid twice."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.cli import main
from pipeline.definitions import build_definitions
from pipeline.defs.automation import JOB_NAME, unfinished_work_schedule
from pipeline.defs.resources import WarehouseResource
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import summary
from pipeline.settings import PROJECT_ROOT, Settings
from tests.support import PipelineProcess, new_dagster_home, pipeline_env


def videos(first: int, count: int) -> list[str]:
    return [f"https://www.douyin.com/video/79{n:017d}" for n in range(first, first + count)]


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def query(db: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_same_named_files_in_two_folders_are_two_batches(
    tmp_path: Path, dagster_home: Path
) -> None:
    db = tmp_path / "w.duckdb"
    old = write(tmp_path / "2024" / "list.txt", videos(0, 3))
    new = write(tmp_path / "2025" / "list.txt", videos(10, 2))
    links_dir = tmp_path / "links"  # where the sensor looks, as data/links: neither file is in it
    links_dir.mkdir()
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=1.0)) as emulator:
        env = pipeline_env(dagster_home, emulator.url, PIPELINE_LINKS_DIR=str(links_dir))
        # The first batch's jobs are submitted and left running, as a run out of poll budget.
        first = PipelineProcess(old, db, {**env, "PIPELINE_POLL_BUDGET": "0"})
        assert first.finish() == 0, first.output
        second = PipelineProcess(new, db, env)
        assert second.finish() == 0, second.output

        batches = dict(query(db, "SELECT batch, count(*) FROM links GROUP BY 1"))
        assert len(batches) == 2 and sorted(batches.values()) == [2, 3], batches
        old_key = next(key for key, lines in batches.items() if lines == 3)
        assert f"batch {old_key}" in first.output

        # The schedule (in `dagster dev`, PIPELINE_LINKS_DIR unchanged) re-runs the first batch
        # by its key alone; the key finds its file.
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            requests = unfinished_work_schedule(
                dg.build_schedule_context(
                    instance=instance,
                    resources={"warehouse": WarehouseResource(path=str(db))},
                    scheduled_execution_time=datetime.now(UTC),
                )
            )
            assert [r.partition_key for r in requests] == [old_key]
            settings = Settings.from_env(
                {"PIPELINE_DB": str(db), "PIPELINE_LINKS_DIR": str(links_dir), **env}
            )
            job = build_definitions(settings).resolve_job_def(JOB_NAME)
            assert job.execute_in_process(instance=instance, partition_key=old_key).success

        again = PipelineProcess(old, db, env)
        assert again.finish() == 0, again.output
        stats = emulator.stats()
    assert len(query(db, "SELECT DISTINCT batch FROM links")) == 2, "the same file, the same key"
    assert query(db, "SELECT count(*) FROM transcripts") == [(5,)]
    assert query(db, "SELECT count(*) FROM link_status WHERE transcript_status = 'ok'") == [(5,)]
    assert stats["submits"] == 5 and set(stats["submits_per_input"].values()) == {1}
    assert stats["metadata_calls"] == 5


def test_a_run_killed_holding_the_api_pool_does_not_stall_the_next(
    tmp_path: Path, dagster_home: Path
) -> None:
    db = tmp_path / "w.duckdb"
    holder_links = write(tmp_path / "a.txt", videos(20, 2))
    waiter_links = write(tmp_path / "b.txt", videos(30, 2))
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=60.0)) as emulator:
        env = pipeline_env(dagster_home, emulator.url, PIPELINE_POLL_BUDGET="120")
        holder = PipelineProcess(holder_links, db, env)
        holder.wait_for("transcripts: 2 jobs pending")  # polling: it holds the coze_api slot
        waiter = PipelineProcess(waiter_links, db, env)
        try:
            waiter.wait_for("waiting for the coze_api pool: held by run", timeout=90)
            assert f"(pid {holder.process.pid})" in waiter.output
            emulator.set_faults(job_seconds=0.3)
            holder.kill()
            assert waiter.finish(timeout=90) == 0, waiter.output
        finally:
            for run in (holder, waiter):
                if run.process.poll() is None:
                    run.kill()
        stats = emulator.stats()
    assert "released 1 run(s) whose process had died" in waiter.output
    waiter_keys = [f"douyin:{url.rsplit('/', 1)[1]}" for url in videos(30, 2)]
    assert query(
        db,
        "SELECT count(*) FROM transcripts WHERE list_contains(?, video_key)",
        [waiter_keys],
    ) == [(2,)]
    assert stats["submits"] == 4 and set(stats["submits_per_input"].values()) == {1}


# `python -m pipeline ARGS` once every racer has done its imports, so that the runs open the
# instance within milliseconds of each other rather than wherever import times scatter them.
_AT_ONCE = """
import pathlib, runpy, sys, time
import pipeline.runs
ready, racers = pathlib.Path(sys.argv[1]), int(sys.argv[2])
(ready / sys.argv[3]).touch()
while len(list(ready.iterdir())) < racers:
    time.sleep(0.002)
sys.argv = ["pipeline", *sys.argv[4:]]
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


def test_first_runs_racing_on_a_fresh_instance_all_succeed(tmp_path: Path) -> None:
    racers = 3
    with EmulatorProcess(EmulatorConfig(profile="fast")) as emulator:
        for attempt in range(2):
            home = new_dagster_home(tmp_path, f"home{attempt}", fresh=True)
            ready = tmp_path / f"ready{attempt}"
            ready.mkdir()
            racer = [sys.executable, "-c", _AT_ONCE, str(ready), str(racers)]
            runs = [
                subprocess.Popen(
                    [
                        *racer,
                        str(n),
                        "run",
                        "--links",
                        str(write(tmp_path / f"{attempt}-{n}.txt", videos(40 + n, 1))),
                        "--db",
                        str(tmp_path / f"w{attempt}-{n}.duckdb"),
                    ],
                    cwd=PROJECT_ROOT,
                    env=pipeline_env(home, emulator.url),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for n in range(racers)
            ]
            for run in runs:
                output, _ = run.communicate(timeout=300)
                assert run.returncode == 0, f"attempt {attempt}:\n{output}"


HOSTILE_TITLE = "\x1b[31m红色警报\x1b[0m \u202eevil\u202c \x1b]0;pwned\x07" + "长" * 500


def test_escape_sequences_from_answers_are_not_printed_but_kept(
    tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    links = write(tmp_path / "hostile.txt", [f"{HOSTILE_TITLE} {videos(50, 1)[0]}"])
    db = tmp_path / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(profile="fast")) as emulator:
        run = PipelineProcess(links, db, pipeline_env(dagster_home, emulator.url))
        assert run.finish() == 0, run.output
    shown = run.output[run.output.index("Warehouse ") :]
    assert "红色警报" in shown and "evil" in shown
    assert not re.search("[\x1b\x07\u202e\u202c]|长{80}", shown), shown
    assert query(db, "SELECT title FROM videos") == [(HOSTILE_TITLE,)], "stored as received"

    # A 1 MB nickname with a terminal-title escape: cut and cleaned on screen, whole in the table.
    nickname = "\x1b]2;owned\x07\u202e" + "名" * 1_000_000
    with duckdb.connect(str(db)) as conn:
        conn.execute("UPDATE videos SET author_nickname = ?", [nickname])
    printed = summary(db)
    assert "名" * 50 in printed and "名" * 80 not in printed
    assert max(map(len, printed.splitlines())) < 300
    assert not re.search("[\x1b\x07\u202e]", printed)
    assert query(db, "SELECT author_nickname FROM videos") == [(nickname,)]

    assert main(["search", "红色警报", "--db", str(db)]) == 0
    found = capsys.readouterr().out
    assert "红色警报" in found and not re.search("[\x1b\x07\u202e]", found), found


def test_a_huge_tracking_url_is_sent_as_its_canonical_url(
    tmp_path: Path, dagster_home: Path
) -> None:
    canonical = videos(60, 1)[0]
    tracking = f"{canonical}?utm_source=feed&x=" + "9" * 3_000_000
    links = write(tmp_path / "tracking.txt", [tracking, videos(61, 1)[0]])
    db = tmp_path / "w.duckdb"
    with EmulatorProcess(EmulatorConfig(profile="fast")) as emulator:
        run = PipelineProcess(links, db, pipeline_env(dagster_home, emulator.url))
        assert run.finish() == 0, run.output
        stats = emulator.stats()
    sent = query(db, "SELECT request_input FROM raw_responses WHERE kind = 'metadata' ORDER BY 1")
    assert sent == [(canonical,), (videos(61, 1)[0],)]
    assert set(stats["submits_per_input"]) == {canonical, videos(61, 1)[0]}
    assert stats["metadata_calls"] == 2
    assert query(db, "SELECT length(raw_text) FROM links ORDER BY 1 DESC LIMIT 1") == [
        (len(tracking),)
    ], "the line itself is stored whole"
    assert query(db, "SELECT count(*) FROM transcripts") == [(2,)]
