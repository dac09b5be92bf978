import logging

from benchmarks.fts_scale import COPIED, build_corpus, key
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse
from pipeline.text.analysis import update_text_tables
from pipeline.text.index import indexed_keys
from tests.benchmarks.helpers import run_smoke

# Each figure is rounded to the hundredth of a second: parts that add up to the whole can exceed
# its rounding by half a hundredth each, and the whole fall short of it by as much.
ROUNDING = 0.005


def test_adds_transcripts_to_the_corpus_and_searches_it() -> None:
    """One run at the smoke size: every step is reported, the update with nothing pending does
    nothing, the added transcripts are indexed, and every query finds something."""
    (result,) = run_smoke("benchmarks.fts_scale")
    assert result["benchmark"] == "fts_scale"
    assert (result["documents"], result["added"]) == (300, 20)
    built = result["build"]["index"]
    assert built["documents"] == 300
    assert built["segments"] >= 1
    assert built["peak_rss_mib"] > 0
    idle = result["idle"]
    assert (idle["processed"], idle["indexed"]) == (0, 0)
    assert idle["peak_rss_mib"] > 0
    add = result["add"]
    assert (add["processed"], add["indexed"]) == (20, 20)
    parts = (
        "segmenter_load_seconds",
        "chunks_seconds",
        "keywords_seconds",
        "index_seconds",
        "commit_and_stats_seconds",
    )
    assert sum(add[part] for part in parts) <= add["seconds"] + ROUNDING * (len(parts) + 1)
    assert add["peak_rss_mib"] >= add["peak_rss_before_index_mib"] > 0
    assert add["index_after"]["segments"] >= 1
    assert [q["query"] for q in result["queries"]][:2] == ["比特币", "航海王 穿搭"]
    for query in result["queries"]:
        assert query["hits"] > 0, query
        assert len(query["top_scores"]) == min(query["hits"], 10), query
        assert query["top_scores"] == sorted(query["top_scores"], reverse=True), query


def test_the_copied_corpus_is_analysed_and_indexed_with_nothing_pending(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    build_corpus(db, documents=50, base=20)
    keys = [key(n) for n in range(50)]
    assert sorted(indexed_keys(Warehouse(db).search_index)) == keys
    stats = update_text_tables(lambda: connect(db), logging.getLogger("test"))
    assert (stats.processed, stats.documents_changed, stats.indexed) == (0, False, 0)
    assert stats.transcripts == 50
    with connect(db) as conn:
        for table in COPIED:
            (videos,) = conn.execute(f"SELECT count(DISTINCT video_key) FROM {table}").fetchone()
            assert videos == 50, table
        (differing,) = conn.execute(
            "SELECT count(*) FROM search_documents c JOIN search_documents b "
            "ON b.video_key = 'douyin:76' || lpad(CAST(CAST(substr(c.video_key, 10) AS BIGINT) "
            "% 20 AS VARCHAR), 17, '0') WHERE c.body <> b.body OR c.title <> b.title"
        ).fetchone()
        assert differing == 0
        recounted = conn.execute(
            "SELECT token, count(DISTINCT video_key) FROM transcript_tokens "
            "WHERE length(token) > 1 GROUP BY ALL EXCEPT SELECT * FROM token_documents"
        ).fetchall()
        assert recounted == []
        assert conn.execute("SELECT count(*) FROM token_documents").fetchone()[0] > 0
        (documents,) = conn.execute("SELECT documents FROM keyword_refresh").fetchone()
        assert documents == 50
        assert conn.execute(
            "SELECT count(*) FROM videos WHERE video_key >= ?", [key(50)]
        ).fetchone() == (0,)
