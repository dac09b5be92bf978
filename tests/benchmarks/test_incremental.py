from tests.benchmarks.helpers import run_smoke


def test_a_known_batch_costs_no_call_and_prints_both_runs_figures() -> None:
    (result,) = run_smoke("benchmarks.incremental")
    assert result["benchmark"] == "incremental"
    (run,) = result["runs"]
    assert run["warehouse"] == "file"
    assert run["warehouse_videos"] == 3
    assert run["batch_links"] == 4 and run["known_links"] == 2
    # Only the two new links cost calls: a metadata call, a submit and a poll each.
    assert run["first_run_calls_by_kind"] == {"metadata_calls": 2, "submits": 2, "polls": 2}
    assert run["first_run_api_calls"] == 6
    assert run["rerun_api_calls"] == 0
    assert run["first_run_seconds"] > 0 and run["rerun_seconds"] > 0
