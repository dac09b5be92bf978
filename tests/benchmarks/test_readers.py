from tests.benchmarks.helpers import run_smoke

FIGURES = {
    "mode",
    "reads",
    "ok",
    "errors",
    "not_yet_published",
    "error_kinds",
    "p50_ms",
    "p95_ms",
    "max_ms",
    "last_transcripts_seen",
    "run_seconds",
    "run_exit_code",
    "run_waited_for_lock",
    "run_lock_warnings",
}


def test_reads_beside_a_run_and_prints_each_modes_figures() -> None:
    (result,) = run_smoke("benchmarks.readers")
    assert result["benchmark"] == "readers"
    assert [run["mode"] for run in result["runs"]] == ["snapshot"]
    for run in result["runs"]:
        assert set(run) == FIGURES, run
        assert run["run_exit_code"] == 0
        assert run["reads"] == run["ok"] + run["errors"] + run["not_yet_published"] > 0
        # The snapshot never fails a reader nor holds the run.
        assert run["errors"] == 0 and not run["run_waited_for_lock"]
