"""The service as docs/coze.md describes it, through `python -m pipeline run` over real HTTP: account-
wide errors end the run with nothing failed, a paid job ends only by its record, a POST that
may have reached Coze is never re-sent blindly, and a call budget stops a run cleanly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.emulator import EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK
from tests.reliability.helpers import (
    VIDEOS,
    failed_items,
    fast,
    query,
    run,
    statuses,
    write_batch,
)


def test_balance_runs_out_mid_run_then_a_top_up_finishes_with_nothing_paid_twice(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, VIDEOS)
    paid_before_empty = len(VIDEOS) + 4  # every metadata run and four submits
    with EmulatorProcess(fast(balance_calls=paid_before_empty)) as emulator:
        status, output = run(links, emulator, dagster_home, COZE_MAX_IN_FLIGHT="2")
        assert status == EXIT_COZE_HALTED, output
        last = output.strip().splitlines()[-1]
        assert "code 4011 (balance insufficient)" in last
        assert "submit token (COZE_API_TOKEN)" in last and "recharge" in last
        assert "Nothing was marked failed" in last
        assert failed_items(links) == 0
        assert query(links, "SELECT scope, code FROM service_halts") == [("account", 4011)]

        emulator.set_faults(balance_calls=None)
        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_OK, output
        stats = emulator.stats()
    assert statuses(links) == Counter({("ok", "ok"): len(VIDEOS)})
    assert set(stats["submits_per_input"].values()) == {1}, "a job was paid twice"
    assert stats["metadata_calls"] == len(VIDEOS)
    assert query(links, "SELECT count(*) FROM service_halts") == [(0,)]


def test_a_plan_without_async_runs_stops_before_paying_again(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, VIDEOS)
    with EmulatorProcess(fast(async_needs_paid_plan=True)) as emulator:
        status, output = run(links, emulator, dagster_home, COZE_MAX_IN_FLIGHT="2")
        stats = emulator.stats()
    assert status == EXIT_COZE_HALTED, output
    assert "code 6003" in output and "upgrade the Coze plan" in output
    refused = stats["account_errors"]["6003"]
    assert 1 <= refused <= 2, "only the submits already in flight"
    assert stats["submits"] == 0
    assert failed_items(links) == 0
    assert set(statuses(links)) <= {("ok", "pending"), ("pending", "pending")}


def test_transient_errors_on_a_third_of_polls_lose_no_finished_transcript(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, VIDEOS)
    with EmulatorProcess(fast(poll_transient_rate=0.34, seed=5)) as emulator:
        status, output = run(links, emulator, dagster_home)
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert stats["transient_errors"] > 0
    assert statuses(links) == Counter({("ok", "ok"): len(VIDEOS)})
    assert query(links, "SELECT count(*) FROM transcripts") == [(len(VIDEOS),)]


def test_a_dropped_submit_is_uncertain_and_paid_again_only_on_request(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, VIDEOS)
    with EmulatorProcess(fast(drop_submits=1)) as emulator:
        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_OK, output
        assert "uncertain: 1" in output and "--resubmit-uncertain" in output
        assert emulator.stats()["submits"] == len(VIDEOS), "the dropped submit was re-sent"
        assert statuses(links)[("ok", "uncertain")] == 1

        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_OK, output
        assert emulator.stats()["submits"] == len(VIDEOS), "an uncertain submit was re-sent"

        status, output = run(links, emulator, dagster_home, "--resubmit-uncertain")
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert stats["submits"] == len(VIDEOS) + 1
    assert sorted(stats["submits_per_input"].values()) == [1] * (len(VIDEOS) - 1) + [2]
    assert statuses(links) == Counter({("ok", "ok"): len(VIDEOS)})


def test_a_lost_job_fails_with_its_reason_and_a_cut_sync_run_waits_for_a_later_run(
    tmp_path: Path, dagster_home: Path
) -> None:
    lost = "https://www.douyin.com/poison/lost/7700000000000000099"
    slow = "https://www.douyin.com/video/7700000000000000098 /poison/slow-sync/"
    links = write_batch(tmp_path, [*VIDEOS[:3], lost, slow])
    with EmulatorProcess(fast(sync_window=1.0)) as emulator:
        status, output = run(links, emulator, dagster_home)
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert stats["cut_sync_runs"] == 1 and stats["metadata_calls"] == 5, "a cut run was re-sent"
    rows = dict(
        (url, (meta, transcript, reason))
        for url, meta, transcript, reason in query(
            links,
            "SELECT url, metadata_status, transcript_status, "
            "coalesce(metadata_error, transcript_error) FROM link_status",
        )
    )
    meta, transcript, reason = rows[lost]
    assert (meta, transcript) == ("ok", "failed") and "no record of this job" in reason
    meta, transcript, reason = rows["https://www.douyin.com/video/7700000000000000098"]
    assert (meta, transcript) == ("pending", "pending") and "may have" in reason
    assert query(
        links,
        "SELECT status, attempts FROM item_state WHERE video_key = 'douyin:7700000000000000098'",
    ) == [("retry", 1)]


@pytest.mark.parametrize("how", ["environment", "flag"])
def test_a_call_budget_stops_the_run_cleanly_and_the_next_run_finishes(
    tmp_path: Path, dagster_home: Path, how: str
) -> None:
    links = write_batch(tmp_path, VIDEOS)
    budget = len(VIDEOS) + 5
    with EmulatorProcess(fast()) as emulator:
        if how == "flag":
            status, output = run(links, emulator, dagster_home, "--max-calls", str(budget))
        else:
            status, output = run(links, emulator, dagster_home, PIPELINE_MAX_CALLS=str(budget))
        assert status == EXIT_OK, output
        assert f"PIPELINE_MAX_CALLS={budget} reached" in output
        assert emulator.stats()["requests"] == budget
        assert failed_items(links) == 0
        assert statuses(links)[("ok", "pending")] >= len(VIDEOS) - 5

        status, output = run(links, emulator, dagster_home)
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert set(stats["submits_per_input"].values()) == {1}
    assert statuses(links) == Counter({("ok", "ok"): len(VIDEOS)})
