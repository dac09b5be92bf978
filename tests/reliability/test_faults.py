"""A misbehaving service: 5xx, failed and trimmed jobs, a rate limit below ours, a token revoked
mid-run. The run stops with a clear message, loses nothing, and the warehouse agrees with the
emulator's own books once the token works again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED
from tests.support import PipelineProcess, files_containing, pipeline_env

TOKEN = "pat_faults_test_secret_7d6c5b4a3f2e"
VIDEOS = [f"https://www.douyin.com/video/76{n:017d}" for n in range(60)]
DELETED = ["https://www.douyin.com/deleted/7600000000000000001"]


def test_faults_and_a_revoked_token(tmp_path: Path, dagster_home: Path) -> None:
    links = tmp_path / "faults.txt"
    links.write_text("\n".join(VIDEOS + DELETED) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    config = EmulatorConfig(
        profile="fast",
        rps=8,
        latency=0.02,
        job_seconds=1.0,
        error_rate=0.1,
        fail_rate=0.05,
        trim_rate=0.05,
        require_token=TOKEN,
        seed=7,
    )
    with EmulatorProcess(config) as emulator:
        env = pipeline_env(
            dagster_home,
            emulator.url,
            COZE_API_TOKEN=TOKEN,
            COZE_RPS="16",
            PIPELINE_POLL_BUDGET="120",
        )
        first = PipelineProcess(links, db, env)
        first.wait_for("transcript submits: ")  # the first progress line: calls under way
        emulator.set_faults(require_token="a-token-rotated-elsewhere")
        assert first.finish() == EXIT_COZE_HALTED
        last_line = first.output.strip().splitlines()[-1]
        assert last_line.startswith("Coze refused the account: code 4100")
        assert "token (COZE_API_TOKEN" in last_line  # the submit or the poll token: the same one
        with duckdb.connect(str(db), read_only=True) as conn:
            resolved = conn.execute(
                "SELECT count(*) FROM item_state WHERE step = 'metadata' AND status = 'ok'"
            ).fetchone()[0]
            auth_failed_items = conn.execute(
                "SELECT count(*) FROM item_state WHERE error_code = 4100 OR status = 'failed' "
                "AND error_message LIKE '%4100%'"
            ).fetchone()[0]
        assert resolved > 0
        assert auth_failed_items == 0, "a revoked token is the deployment's failure, not a video's"

        emulator.set_faults(require_token=TOKEN)
        second = PipelineProcess(links, db, env)
        assert second.finish() == 0, second.output
        stats = emulator.stats()

    assert stats["rate_limited"] > 0 and stats["server_errors"] > 0 and stats["auth_failures"] > 0
    assert stats["metadata_calls"] == len(VIDEOS) + len(DELETED), "a metadata answer was lost"
    assert set(stats["submits_per_input"].values()) == {1}, "a job was submitted twice"
    outcomes = Counter(job["status"] for job in stats["jobs"].values())

    with duckdb.connect(str(db), read_only=True) as conn:
        status = Counter(
            conn.execute("SELECT metadata_status, transcript_status FROM link_status").fetchall()
        )
        trimmed = conn.execute("SELECT count(*) FROM transcripts WHERE is_trimmed").fetchone()[0]
        collected = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
        known_jobs = conn.execute("SELECT count(*) FROM transcript_jobs").fetchone()[0]

    assert known_jobs == len(stats["jobs"]) == len(VIDEOS)
    expected = Counter(
        {
            ("ok", "ok"): outcomes["success"] + outcomes["trim"],
            ("ok", "failed"): outcomes["fail"],
            ("failed", "failed"): len(DELETED),
        }
    )
    assert status == +expected  # unary + drops zero counts, which rows never produce
    assert collected == outcomes["success"] + outcomes["trim"]
    assert trimmed == outcomes["trim"]
    assert files_containing(TOKEN, db.parent, dagster_home) == []
    assert TOKEN not in first.output + second.output
