import pytest

from tests.benchmarks.helpers import run_smoke

BEYOND_FLOOR = {"start_up", "ramp_up", "dips", "tail", "extra_requests", "after_last_request"}


def test_runs_the_whole_command_and_prints_its_figures() -> None:
    (result,) = run_smoke("benchmarks.throughput")
    assert result["benchmark"] == "throughput"
    assert (result["run"], result["variant"], result["profile"]) == (
        "realistic",
        "baseline",
        "fast",
    )
    assert result["links"] == 6 and result["rps_limit"] == 50
    assert result["floor_seconds"] == pytest.approx(3 * 6 / 50, abs=0.05)
    assert set(result["beyond_floor"]) == BEYOND_FLOOR
    assert set(result["clock"]) == {"last_submit", "last_job_done", "last_request"}
    assert {"links", "coze_calls", "normalized_tables", "text_analysis"} <= set(result["steps"])
    # Every link: one metadata call, one submit, and at least one poll.
    assert result["requests"] >= 3 * 6 and result["polls_per_job"] >= 1
    assert result["http_429"] == 0
    assert 0 < result["share_of_floor"] < 1
