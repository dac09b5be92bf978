import logging

from benchmarks.fts_scale import COPIED, build_corpus, key
from pipeline.schema import FTS_SCHEMA
from pipeline.storage.db import connect
from pipeline.text.analysis import update_text_tables
from tests.benchmarks.helpers import run_smoke


def test_adds_transcripts_to_the_corpus_and_compares_fts_with_tantivy() -> None:
    """One run with `--engine tantivy`, which measures DuckDB's fts too: every part is
    reported, and tantivy, fed the same tokens, finds the same hits on every query with BM25
    scores within its rounding of document lengths (one byte each)."""
    (result,) = run_smoke("benchmarks.fts_scale", "--engine", "tantivy")
    assert result["benchmark"] == "fts_scale"
    assert (result["documents"], result["added"]) == (300, 20)
    add = result["duckdb_add"]
    assert add["stored"] == 20
    parts = ("segmenter_load_seconds", "chunks_seconds", "keywords_seconds", "index_seconds")
    assert result["duckdb_idle"]["stored"] == 0
    assert sum(add[part] for part in parts) <= add["seconds"]
    assert add["peak_rss_mib"] >= add["peak_rss_before_index_mib"] > 0
    assert result["tantivy_build"]["documents"] == 300
    assert (result["tantivy_add"]["upserted"], result["tantivy_add"]["documents"]) == (20, 320)
    assert [q["query"] for q in result["queries"]][:2] == ["比特币", "航海王 穿搭"]
    for query in result["queries"]:
        assert query["tantivy"]["hits"] == query["duckdb"]["hits"] > 0, query["query"]
        assert query["max_score_difference"] < 0.02, query


def test_the_copied_corpus_is_analysed_and_indexed_with_nothing_pending(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    build_corpus(db, documents=50, base=20)
    stats = update_text_tables(lambda: connect(db), logging.getLogger("test"))
    assert (stats.processed, stats.index_rebuilt, stats.transcripts) == (0, False, 50)
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
        (indexed,) = conn.execute(f"SELECT count(*) FROM {FTS_SCHEMA}.docs").fetchone()
        assert indexed == 50
        assert conn.execute(
            "SELECT count(*) FROM videos WHERE video_key >= ?", [key(50)]
        ).fetchone() == (0,)
