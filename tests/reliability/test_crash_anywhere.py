"""SIGKILL at seeded moments of every step, resume each time: nothing lost, nothing paid twice.

The emulator runs with faults on (5xx, failed and trimmed jobs, a rate limit), so the kills land
among retries too. The one duplicate the design admits is a submit whose answer was still on the
wire when the process died (Coze has no idempotency key): at most one per request in flight.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from pipeline.derive.tables import rebuild_all
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.storage.recorder import spool_dir_for
from pipeline.storage.spool import read_spool
from tests.support import PipelineProcess, files_containing, latest_check_results, pipeline_env

LINKS = [f"https://www.douyin.com/video/75{n:017d}" for n in range(40)] + [
    f"【视频{n}-哔哩哔哩】 https://b23.tv/crash{n:03d}" for n in range(8)
]
TOKEN = "pat_crash_test_secret_0f9a8b7c6d5e"
MAX_IN_FLIGHT = 4
SEED = 20261125

# (line that opens the window, earliest and latest delay after it): metadata and submits (they
# overlap: three kills), polls alone, normalization, and one kill at an arbitrary moment after
# the process starts.
KILL_POINTS = [
    ("videos to resolve", 0.2, 1.2),
    ("videos to resolve", 1.0, 3.0),
    ("videos to resolve", 1.0, 3.0),
    ("jobs pending", 0.2, 1.5),
    ("normalizing", 0.0, 0.3),
    (None, 2.0, 12.0),
]
KILLS_THAT_MAY_HIT_SUBMITS = sum(
    1 for line, *_ in KILL_POINTS if line in ("videos to resolve", None)
)
EMULATOR_STATUS = {"success": "Success", "trim": "Success", "fail": "Fail"}
TABLES = {
    "item_state": "video_key, step",
    "transcript_jobs": "execute_id",
    "videos": "video_key",
    "transcripts": "video_key",
    "video_hashtags": "video_key, hashtag",
}


def _snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        for table, order in TABLES.items()
    }


@pytest.fixture
def environment(tmp_path: Path, dagster_home: Path):
    config = EmulatorConfig(
        profile="fast",
        rps=25,
        latency=0.05,
        job_seconds=3.0,
        error_rate=0.1,
        fail_rate=0.05,
        trim_rate=0.05,
        require_token=TOKEN,
        seed=SEED,
    )
    with EmulatorProcess(config) as emulator:
        env = pipeline_env(
            dagster_home,
            emulator.url,
            COZE_API_TOKEN=TOKEN,
            COZE_RPS="20",
            COZE_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
            PIPELINE_POLL_BUDGET="60",
        )
        yield emulator, env


def test_seeded_kills_then_resume(tmp_path: Path, dagster_home: Path, environment) -> None:
    emulator, env = environment
    links = tmp_path / "crash.txt"
    links.write_text("\n".join(LINKS) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    rng = random.Random(SEED)
    outputs: list[str] = []
    spooled: set[str] = set()

    for trigger, earliest, latest in KILL_POINTS:
        run = PipelineProcess(links, db, env)
        if trigger is not None:
            run.wait_for(trigger)
        time.sleep(rng.uniform(earliest, latest))
        run.kill()
        outputs.append(run.output)
        for path in spool_dir_for(db).glob("spool-*.jsonl"):
            spooled |= {row.response_id for row in read_spool(path)}

    final = PipelineProcess(links, db, env)
    assert final.finish() == 0, final.output
    outputs.append(final.output)

    stats = emulator.stats()
    with duckdb.connect(str(db), read_only=True) as conn:
        known = dict(conn.execute("SELECT execute_id, status FROM transcript_jobs").fetchall())
        jobs_per_video = dict(
            conn.execute("SELECT video_key, count(*) FROM transcript_jobs GROUP BY 1").fetchall()
        )
        raw_ids = {r[0] for r in conn.execute("SELECT response_id FROM raw_responses").fetchall()}
        raw_submits = {
            r[0]
            for r in conn.execute(
                "SELECT execute_id FROM raw_responses WHERE kind = 'submit' AND outcome = 'ok'"
            ).fetchall()
        }
        raw_final_polls = {
            r[0]
            for r in conn.execute(
                "SELECT execute_id FROM raw_responses WHERE kind = 'poll' AND outcome = 'ok' "
                "AND json_extract_string(body, '$.data[0].execute_status') <> 'Running'"
            ).fetchall()
        }
        unfinished = conn.execute(
            "SELECT count(*) FROM link_status "
            "WHERE metadata_status = 'pending' OR transcript_status = 'pending'"
        ).fetchone()[0]
        usable = conn.execute(
            "SELECT count(DISTINCT video_key) FROM links WHERE error IS NULL"
        ).fetchone()[0]
        status_rows = conn.execute("SELECT count(*) FROM link_status").fetchone()[0]

    accepted = stats["jobs"]
    # The warehouse knows only jobs the emulator accepted, and knows each with its final status.
    assert set(known) <= set(accepted)
    for execute_id, status in known.items():
        assert status == EMULATOR_STATUS[accepted[execute_id]["status"]], execute_id
    # One job per video; accepted jobs the warehouse never heard of are in-flight submits at a kill.
    assert max(jobs_per_video.values()) == 1
    lost_in_flight = set(accepted) - set(known)
    assert len(lost_in_flight) <= KILLS_THAT_MAY_HIT_SUBMITS * MAX_IN_FLIGHT
    per_input: dict[str, int] = defaultdict(int)
    for job in accepted.values():
        per_input[job["input"]] += 1
    assert sum(n - 1 for n in per_input.values()) == len(lost_in_flight)
    # Every paid answer is in the raw layer, those a killed process had only spooled included.
    assert spooled <= raw_ids
    assert set(known) == raw_submits
    assert set(known) == raw_final_polls
    # link_status is complete: every usable link has a row, none still pending.
    assert status_rows == usable == len(LINKS)
    assert unfinished == 0

    checks = latest_check_results(dagster_home)
    assert checks["successful_jobs_have_transcripts"] and checks["resolved_links_have_videos"]

    copy = tmp_path / "rebuilt.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(db), read_only=True) as conn:
        before = _snapshot(conn)
    with duckdb.connect(str(copy)) as conn:
        rebuild_all(conn, max_attempts=3)
        assert _snapshot(conn) == before

    assert files_containing(TOKEN, db.parent, dagster_home) == []
    assert all(TOKEN not in out for out in outputs)
