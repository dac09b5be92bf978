import pytest

from benchmarks.text_speed import build_warehouse, transcripts
from pipeline.storage.db import connect
from pipeline.storage.frames import TABLE_BY_NAME
from tests.benchmarks.helpers import run_smoke


def test_segments_and_stores_every_transcript_and_prints_its_figures() -> None:
    (result,) = run_smoke("benchmarks.text_speed")
    assert result["benchmark"] == "text_speed"
    assert result["transcripts"] == result["stored"] == 40
    assert 0 < result["sentences"] < result["tokens"]
    for figure in ("segment_seconds", "update_seconds", "mean_chars", "peak_rss_mib"):
        assert result[figure] >= 0
    assert result["segment_transcripts_per_second"] > 0
    assert result["update_transcripts_per_second"] > 0
    assert set(result["segmenter"]) >= {"rjieba"}


@pytest.mark.parametrize("table", ["videos", "transcripts"])
def test_the_fixture_fills_every_column_the_schema_declares_not_null(tmp_path, table) -> None:
    """The fixture that broke when `transcripts` gained a column is built from the schema."""
    db = tmp_path / "w.duckdb"
    build_warehouse(db, transcripts(3))
    required = [c.name for c in TABLE_BY_NAME[table].columns if not c.nullable]
    with connect(db) as conn:
        rows = conn.execute(f"SELECT {', '.join(required)} FROM {table}").fetchall()
    assert len(rows) == 3
    assert all(value is not None for row in rows for value in row)
