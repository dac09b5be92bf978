"""Every asset check on a real warehouse file: green on a healthy one, and firing on the fault
it exists to catch."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.checks import CHECKS, MAX_FAILURE_RATE, failure_rate_is_low, warehouse_checks
from pipeline.defs.resources import WarehouseResource
from pipeline.storage.db import connect


def _healthy(db: Path) -> None:
    """Two resolved, transcribed videos, in every table a check reads."""
    with connect(db) as conn:
        for n in (1, 2):
            key = f"douyin:{n}"
            conn.execute(
                "INSERT INTO links VALUES ('b.txt', ?, 'x', 'u', 'douyin', ?, 'u', ?, NULL, now(), true)",
                [n, str(n), key],
            )
            conn.execute(
                "INSERT INTO item_state VALUES (?, 'metadata', 'ok', 1, NULL, NULL, now()), "
                "(?, 'transcript', 'ok', 1, NULL, NULL, now())",
                [key, key],
            )
            conn.execute(
                "INSERT INTO transcript_jobs (execute_id, video_key, workflow_id, status, "
                "attempt, submitted_at, poll_count) VALUES (?, ?, 'w', 'Success', 1, now(), 1)",
                [f"e{n}", key],
            )
            conn.execute(
                "INSERT INTO videos (video_key, title, fetched_at) VALUES (?, 't', now())", [key]
            )
            conn.execute(
                "INSERT INTO transcripts (video_key, execute_id, content, char_count, "
                "is_trimmed, fetched_at) VALUES (?, ?, '你好世界', 4, false, now())",
                [key, f"e{n}"],
            )


FAULTS: dict[str, str] = {
    "successful_jobs_have_transcripts": "DELETE FROM transcripts WHERE video_key = 'douyin:2'",
    "transcript_lengths_agree": "UPDATE transcripts SET char_count = 3 WHERE video_key = 'douyin:1'",
    "resolved_links_have_videos": "DELETE FROM videos WHERE video_key = 'douyin:1'",
    "trimmed_transcripts": "UPDATE transcripts SET is_trimmed = true WHERE video_key = 'douyin:2'",
    "failure_rate_is_low": "UPDATE item_state SET status = 'failed' WHERE video_key = 'douyin:2' "
    "AND step = 'transcript'",
}


def run_checks(db: Path) -> dict[str, dg.AssetCheckEvaluation]:
    """The checks' one step, executed by Dagster against the warehouse file."""
    job = dg.define_asset_job("checks", selection=dg.AssetSelection.checks(warehouse_checks))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(name) for name in ("link_status", "videos", "transcripts")],
        asset_checks=[warehouse_checks],
        jobs=[job],
        resources={"warehouse": WarehouseResource(path=str(db))},
    )
    result = defs.resolve_job_def("checks").execute_in_process()
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_every_check_has_a_fault_case_and_runs_in_one_step(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _healthy(db)
    evaluations = run_checks(db)
    assert {spec.name for spec, _ in CHECKS.values()} == set(FAULTS) == set(evaluations)
    assert all(e.passed for e in evaluations.values())


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_check_passes_when_healthy_and_fires_on_its_fault(tmp_path: Path, name: str) -> None:
    db = tmp_path / "w.duckdb"
    _healthy(db)
    with connect(db) as conn:
        conn.execute(FAULTS[name])
    evaluations = run_checks(db)
    assert not evaluations[name].passed, name
    assert [other for other, e in evaluations.items() if not e.passed] == [name]


def test_failure_rate_fires_only_past_its_threshold(tmp_path: Path) -> None:
    assert 0.0 < MAX_FAILURE_RATE < 0.5  # one of two failed is past it
    db = tmp_path / "w.duckdb"
    _healthy(db)
    with connect(db) as conn:
        conn.execute(
            "UPDATE item_state SET status = 'failed' WHERE video_key = 'douyin:1' "
            "AND step = 'metadata'"
        )
    with connect(db, read_only=True) as conn:
        result = failure_rate_is_low(conn)
    assert not result.passed and result.metadata["failure_rate"].value == 0.5
