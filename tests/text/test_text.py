"""Text analysis on the seed's real transcript, in a real DuckDB file and a real tantivy index."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import rjieba
from hypothesis import given
from hypothesis import strategies as st

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse
from pipeline.text import segment as segment_module
from pipeline.text.analysis import segment_transcripts, update_text_tables
from pipeline.text.normalize import nfkc, normalize_lines, normalize_text
from pipeline.text.search import ranked_videos, search
from pipeline.text.segment import (
    STOPWORDS,
    USER_DICT,
    Segmenter,
    dictionary_file,
    query_terms,
    segment,
)
from pipeline.text.sentences import split_sentences
from tests.coze.servers import recorded


def seed_transcript() -> tuple[str, str]:
    record = json.loads(recorded("transcript_run_history_success.json"))["data"][0]
    inner = json.loads(json.loads(record["output"])["Output"])
    return inner["content"], inner["title"]


CONTENT, TITLE = seed_transcript()
DECOY = "今天我们聊聊航海王的动画，克洛克达尔的身份之谜，还有海贼王最新一集的剧情。以太币这个词只出现一次。"


def test_sentences_cover_the_seed_transcript_with_true_offsets():
    sentences = split_sentences(CONTENT)
    assert len(sentences) == 4
    assert sentences[2].text.endswith("我现在不是赚400万美金吗？")
    assert sentences[0].text.startswith("你好，大家现在是 7月17号 啊，韩国时间六点五十三分")
    for sentence in sentences:
        assert CONTENT[sentence.char_start : sentence.char_end] == sentence.text
    assert [s.sentence_no for s in sentences] == list(range(1, len(sentences) + 1))
    assert [s.text for s in split_sentences("价格是3.5美金. Then english! 最后")] == [
        "价格是3.5美金.",
        "Then english!",
        "最后",
    ]


def test_segmentation_uses_the_user_dictionary_and_drops_stop_words():
    tokens = [t for t, _ in segment(normalize_text(CONTENT))]
    assert "以太币" in tokens, "user dictionary word must stay one token"
    assert "盈利" in tokens and "美金" in tokens
    assert "的" not in tokens and "我" not in tokens
    assert all(t.strip() and t not in "，。！？" for t in tokens)
    assert query_terms("以太币 盈利") == ["以太币", "盈利"] == query_terms("以太币盈利")


def test_user_dictionary_words_stay_whole_where_the_plain_dictionary_splits_them():
    plain = rjieba.Jieba()
    assert plain.cut("以太币") == ["以太", "币"] and plain.cut("克洛克达尔") == ["克洛克", "达尔"]
    tokens = segment("克洛克达尔说以太币会涨到400万美金")
    assert ("以太币", "n") in tokens and ("克洛克达尔", "nr") in tokens
    # The user's part of speech wins over the one a known word has in rjieba's dictionary.
    assert rjieba.Jieba().tag("航海王") == [("航海王", "n")]
    assert segment("航海王") == [("航海王", "nz")]
    # `万美金 0`: frequency 0 keeps the characters from ever being one word.
    assert "万美金" not in [t for t, _ in tokens] and ("美金", "n") in tokens
    # A line without part of speech: tagged `x`, as jieba.posseg tags such words.
    assert Segmenter("韩国时间\n".encode(), b"").segment("韩国时间六点") == [
        ("韩国时间", "x"),
        ("六点", "m"),
    ]


def test_stop_words_are_the_stop_word_file():
    assert segment("我的以太币") == [("以太币", "n")]
    own = Segmenter(USER_DICT.read_bytes(), "以太币\n".encode())
    assert [t for t, _ in own.segment("我的以太币")] == ["我", "的"]


def test_a_word_is_tagged_as_where_it_stands_though_alone_it_is_cut_otherwise():
    """Each new word is tagged once and remembered; 下好 alone is two words, so it is learnt by
    tagging the whole sentence."""
    loaded = Segmenter(USER_DICT.read_bytes(), STOPWORDS.read_bytes())
    text = "我感觉很大的可能性下好会直接突破"
    assert loaded.tokenizer.cut("下好") == ["下", "好"]
    first = loaded.segment(text)
    assert first == [("下好", dict(loaded.tokenizer.tag(text))["下好"]), ("突破", "vn")]
    assert loaded.segment(text) == first


def test_the_words_remembered_are_bounded_and_forgetting_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
):
    texts = [normalize_text(s.text) for s in split_sentences(CONTENT + DECOY)] * 2
    unbounded = Segmenter(USER_DICT.read_bytes(), STOPWORDS.read_bytes())
    expected = [unbounded.segment(t) for t in texts]
    monkeypatch.setattr(segment_module, "_SEEN_WORDS", 20)
    bounded = Segmenter(USER_DICT.read_bytes(), STOPWORDS.read_bytes())
    assert [bounded.segment(t) for t in texts] == expected
    assert len(bounded._seen) < len(unbounded._seen)


def test_segmenting_the_seed_matches_the_tagger_word_for_word():
    """What segment() keeps is the tagger's output, filtered: learning words changes nothing."""
    loaded = Segmenter(USER_DICT.read_bytes(), STOPWORDS.read_bytes())
    for sentence in split_sentences(CONTENT + DECOY):
        text = normalize_text(sentence.text)
        expected = [
            (word.lower(), loaded.user_tags.get(word) or tag or "x")
            for word, tag in loaded.tokenizer.tag(text)
            if any(ch.isalnum() for ch in word) and word.lower() not in loaded.stopwords
        ]
        assert loaded.segment(text) == expected == segment(text)


def test_the_fingerprint_names_the_segmenter_and_its_release(monkeypatch: pytest.MonkeyPatch):
    loaded = Segmenter(b"", b"")
    assert isinstance(loaded.tokenizer, rjieba.Jieba)
    assert "rjieba" in segment_module.SEGMENTING_PACKAGES
    current = loaded.fingerprint
    real = importlib.metadata.version
    versions = {"rjieba": "0.1.0", "jieba": "0.42.1"}
    monkeypatch.setattr(importlib.metadata, "version", lambda p: versions.get(p) or real(p))
    older = Segmenter(b"", b"").fingerprint
    monkeypatch.setattr(segment_module, "SEGMENTING_PACKAGES", ("jieba", "opencc"))
    other = Segmenter(b"", b"").fingerprint
    assert len({current, older, other}) == 3


@given(st.text())
def test_nfkc_is_unicode_nfkc(text: str):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


@given(
    st.lists(
        st.text(alphabet=st.sampled_from("以太幣币，。！！ＡＢ１ \t\n\u3000é\u0301a~~")) | st.text()
    )
)
def test_normalizing_lines_at_once_is_normalizing_each(texts: list[str]):
    assert normalize_lines(texts) == [normalize_text(text) for text in texts]


def test_normalization_folds_full_width_forms_and_traditional_characters():
    assert normalize_text("ＡＢＣ１２３，　好！！") == "ABC123, 好!"
    assert normalize_text("结束。") == "结束。"
    assert normalize_text("以太幣今晚能不能突破？航海王動畫") == "以太币今晚能不能突破?航海王动画"


def opener(db: Path):
    """What the asset passes: a fresh connection each time, so the file is closed between."""
    return lambda: connect(db)


def _warehouse(path: Path) -> None:
    with connect(path) as conn:
        conn.execute(
            "INSERT INTO videos (video_key, title, author_nickname, fetched_at) VALUES "
            "('bilibili:BV1XRgNzjEF7', ?, '币圈老王', now()), ('douyin:1', '航海王的秘密', '午夜屠虎男', now())",
            [TITLE],
        )
        conn.execute(
            "INSERT INTO transcripts VALUES ('bilibili:BV1XRgNzjEF7', '1', ?, ?, ?, false, now(), NULL), "
            "('douyin:1', '2', '航海王的秘密', ?, ?, false, now(), NULL)",
            [TITLE, CONTENT, len(CONTENT), DECOY, len(DECOY)],
        )
        conn.execute(
            "INSERT INTO video_hashtags VALUES ('douyin:1', '航海王'), ('douyin:1', '海贼王动画')"
        )


def test_search_ranks_the_seed_above_a_decoy_and_reruns_recompute_nothing(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    with connect(db) as conn:
        first = update_text_tables(opener(db))
        assert first.processed == 2 and first.documents_changed
        assert first.sentences == 4 + 2 and first.tokens > 50
        index = Warehouse(db).search_index
        hits = search(index, conn, "以太币 盈利")
        assert [h.video_key for h in hits] == ["bilibili:BV1XRgNzjEF7", "douyin:1"]
        assert [h.video_key for h in search(index, conn, "以太幣 盈利")] == [
            h.video_key for h in hits
        ]
        assert hits[0].score > hits[1].score
        assert "【盈利】" in hits[0].snippet or "【以太币】" in hits[0].snippet
        keywords = [
            k
            for (k,) in conn.execute(
                "SELECT keyword FROM video_keywords WHERE video_key = 'bilibili:BV1XRgNzjEF7' ORDER BY score DESC"
            ).fetchall()
        ]
        assert "美金" in keywords[:5]
        assert conn.execute(
            "SELECT videos FROM hashtag_stats WHERE hashtag = '航海王'"
        ).fetchone() == (1,)

        again = update_text_tables(opener(db))
        assert again.processed == 0 and not again.documents_changed
        assert (again.sentences, again.tokens) == (first.sentences, first.tokens)

        conn.execute(
            "UPDATE transcripts SET content = content || '以太币。' WHERE video_key = 'douyin:1'"
        )
        third = update_text_tables(opener(db))
        assert third.processed == 1

    ranked = pl.DataFrame(
        ranked_videos(Warehouse(db).search_index, "以太币 盈利"),
        schema=["video_key", "score"],
        orient="row",
    )
    with duckdb.connect(str(db), read_only=True) as conn:
        conn.register("ranked", ranked)
        sql_hits = conn.execute(
            "SELECT r.video_key, d.title FROM ranked r JOIN search_documents d USING (video_key) "
            "ORDER BY r.score DESC"
        ).fetchall()
    assert sql_hits[0] == ("bilibili:BV1XRgNzjEF7", TITLE)


def test_search_command_prints_ranked_hits(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    update_text_tables(opener(db))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "search",
            "以太币 盈利",
            "--limit",
            "1",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert out.startswith("1. [") and TITLE in out and "币圈老王" in out
    assert "2. [" not in out


@pytest.mark.parametrize("query", ["", "的 了", "，。"])
def test_queries_of_only_stop_words_find_nothing(tmp_path: Path, query: str):
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    with connect(db) as conn:
        update_text_tables(opener(db))
        assert search(Warehouse(db).search_index, conn, query) == []


def _add_transcripts(conn: duckdb.DuckDBPyConnection, first: int, count: int) -> None:
    sentences = split_sentences(CONTENT + DECOY)
    for n in range(first, first + count):
        # Each video says a different pair of sentences, so document frequencies differ.
        content = sentences[n % len(sentences)].text + sentences[(n * 3 + 1) % len(sentences)].text
        conn.execute(
            "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, false, now(), NULL)",
            [f"douyin:{n}", str(n), f"视频{n}", content, len(content)],
        )


def _keywords(conn: duckdb.DuckDBPyConnection, where: str = "TRUE") -> list[tuple]:
    return conn.execute(
        f"SELECT video_key, keyword, score FROM video_keywords WHERE {where} ORDER BY ALL"
    ).fetchall()


def test_keywords_update_incrementally_and_refresh_fully_past_the_threshold(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    with connect(db) as conn:
        _add_transcripts(conn, 100, 30)
        update_text_tables(opener(db))
        # Three changes, not over 10% of 30 documents: incremental.
        _add_transcripts(conn, 200, 2)
        conn.execute(
            "UPDATE transcripts SET content = '以太币盈利。' WHERE video_key = 'douyin:101'"
        )
        assert update_text_tables(opener(db)).processed == 3
        assert conn.execute("SELECT changed_since FROM keyword_refresh").fetchone() == (3,)
        changed = "video_key IN ('douyin:200', 'douyin:201', 'douyin:101')"
        incremental = {
            "documents": conn.execute("SELECT * FROM token_documents ORDER BY ALL").fetchall(),
            "changed": _keywords(conn, changed),
        }
        # What a full refresh gives, for comparison: the counts and the new videos' scores agree.
        conn.execute("DELETE FROM keyword_refresh")
        conn.execute("DELETE FROM text_state WHERE video_key = 'douyin:200'")
        update_text_tables(opener(db))
        assert conn.execute("SELECT changed_since FROM keyword_refresh").fetchone() == (0,)
        assert (
            conn.execute("SELECT * FROM token_documents ORDER BY ALL").fetchall()
            == (incremental["documents"])
        )
        assert _keywords(conn, changed) == incremental["changed"]

        _add_transcripts(conn, 300, 4)  # over 10% of 32: a full refresh, every score current
        update_text_tables(opener(db))
        assert conn.execute("SELECT changed_since FROM keyword_refresh").fetchone() == (0,)
        refreshed = _keywords(conn)
        conn.execute("DELETE FROM keyword_refresh")
        conn.execute("DELETE FROM text_state WHERE video_key = 'douyin:100'")
        update_text_tables(opener(db))
        assert _keywords(conn) == refreshed


@pytest.fixture
def fresh_segmenter():
    """Tests that change what the segmenter loads must not leave it loaded for the others."""
    segment_module.segmenter.cache_clear()
    yield
    segment_module.segmenter.cache_clear()


def _tokens(db: Path, video_key: str) -> list[str]:
    with connect(db, read_only=True) as conn:
        rows = conn.execute(
            "SELECT token FROM transcript_tokens WHERE video_key = ? ORDER BY sentence_no, token_no",
            [video_key],
        ).fetchall()
    return [token for (token,) in rows]


def test_editing_the_user_dictionary_resegments_every_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_segmenter: None
):
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    assert update_text_tables(opener(db)).processed == 2
    assert "韩国时间" not in _tokens(db, "bilibili:BV1XRgNzjEF7")

    user_dict = tmp_path / "user_dict.txt"
    user_dict.write_text(
        segment_module.USER_DICT.read_text(encoding="utf-8") + "韩国时间 2000 n\n",
        encoding="utf-8",
    )
    own = Settings.from_env({"PIPELINE_DICTIONARY_DIR": str(tmp_path)}).dictionary_dir

    assert update_text_tables(opener(db), dictionary_dir=own).processed == 2
    assert "韩国时间" in _tokens(db, "bilibili:BV1XRgNzjEF7")
    assert update_text_tables(opener(db), dictionary_dir=own).processed == 0


def test_another_segmenter_release_resegments_every_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_segmenter: None
):
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    assert update_text_tables(opener(db)).processed == 2
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda p: "0.2.99" if p == "rjieba" else real(p)
    )
    segment_module.segmenter.cache_clear()  # a new run is a new process
    assert update_text_tables(opener(db)).processed == 2
    assert update_text_tables(opener(db)).processed == 0


def test_segmenting_a_chunk_at_a_time_gives_the_rows_of_one_pass():
    """Chunks only bound the memory: their rows, joined, are those of one pass."""
    pending = [(f"douyin:{n}", TITLE, None, CONTENT, f"digest{n}") for n in range(5)]
    whole = segment_transcripts(pending, segment_module.segmenter())
    parts = [segment_transcripts(pending[n : n + 2], segment_module.segmenter()) for n in (0, 2, 4)]
    chunked = {table: pl.concat([part[table] for part in parts]) for table in whole}
    assert whole["text_state"]["video_key"].to_list() == [key for key, *_ in pending]
    for table, frame in whole.items():
        assert frame.height > 0 and chunked[table].equals(frame), table


class _OnMessage(logging.Handler):
    def __init__(self, start: str, action) -> None:
        super().__init__()
        self.start, self.action = start, action

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.start):
            self.action()


def test_the_warehouse_is_free_while_transcripts_are_segmented(tmp_path: Path):
    """Another process writes during segmentation: it gets the file, and the transcript it
    changed is left for the next call instead of being stored with stale tokens."""
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    writer = (
        "import duckdb, sys\n"
        "c = duckdb.connect(sys.argv[1])\n"
        "c.execute(\"UPDATE transcripts SET content = '海贼王。' WHERE video_key = 'douyin:1'\")\n"
        "c.close()\n"
    )
    log = logging.getLogger("test.text.segmenting")
    log.addHandler(
        _OnMessage(
            "text analysis: segmenting",
            lambda: subprocess.run([sys.executable, "-c", writer, str(db)], check=True, timeout=60),
        )
    )
    log.setLevel(logging.INFO)

    assert update_text_tables(opener(db), log).processed == 1
    assert _tokens(db, "douyin:1") == []
    again = update_text_tables(opener(db))
    assert again.processed == 1
    assert _tokens(db, "douyin:1") == ["海贼王"]


def test_a_deployments_own_dictionary_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "stopwords.txt").write_text("以太币\n", encoding="utf-8")
    own = Settings.from_env({"PIPELINE_DICTIONARY_DIR": str(tmp_path)}).dictionary_dir
    assert dictionary_file("stopwords.txt", own) == "以太币\n".encode()
    assert dictionary_file("user_dict.txt", own) == USER_DICT.read_bytes(), "no own file: shipped"
    assert dictionary_file("stopwords.txt", None) == STOPWORDS.read_bytes()


def test_the_wheel_ships_the_default_dictionary(tmp_path: Path) -> None:
    """An installed package finds its dictionary without the repository around it. Built from a
    copy, so the build leaves nothing in the repository."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    shutil.copytree(
        PROJECT_ROOT / "pipeline", source / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "pipeline/text/dictionary/user_dict.txt",
        "pipeline/text/dictionary/stopwords.txt",
    } <= names
