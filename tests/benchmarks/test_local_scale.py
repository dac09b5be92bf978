from tests.benchmarks.helpers import run_smoke

FIGURES = {
    "records",
    "distinct_urls",
    "parse_seconds",
    "stage_seconds",
    "parse_lines_per_second",
    "parse_and_stage_lines_per_second",
}


def test_parses_and_stages_both_files_and_prints_their_figures() -> None:
    (result,) = run_smoke("benchmarks.local_scale")
    assert result["benchmark"] == "local_scale"
    assert result["lines"] == 2000
    assert set(result["files"]) == {"distinct", "repeated"}
    for figures in result["files"].values():
        assert set(figures) == FIGURES
        assert 0 < figures["distinct_urls"] <= figures["records"] < result["lines"]
    # 50 videos pasted over and over name fewer URLs than a file of distinct ones.
    assert (
        result["files"]["repeated"]["distinct_urls"] < result["files"]["distinct"]["distinct_urls"]
    )
    assert result["peak_rss_mib"] > 0
