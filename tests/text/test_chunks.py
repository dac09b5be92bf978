"""Text analysis a chunk at a time, killed midway (SIGKILL of a real child process): the next
run finishes it without segmenting again what was committed, and every row equals a run done
in one go."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from pipeline.settings import Settings
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse
from pipeline.text import analysis
from pipeline.text import segment as segment_module
from pipeline.text.analysis import Frames, Pending, segment_transcripts, update_text_tables
from pipeline.text.index import indexed_keys
from pipeline.text.search import search
from pipeline.text.segment import Segmenter
from pipeline.text.sentences import split_sentences
from tests.text.test_text import CONTENT, DECOY

SENTENCES = [s.text for s in split_sentences(CONTENT + DECOY)]
# What a run of the text analysis leaves; compared whole between a killed run and one in one go.
TABLES = (
    "transcript_sentences",
    "transcript_tokens",
    "search_documents",
    "text_state",
    "video_keywords",
    "token_documents",
    "keyword_refresh",
    "keyword_stats",
    "text_unfinished",
    "index_unfinished",
)
QUERY = "以太币 盈利"

# The child: one text analysis with a small chunk size, killed by SIGKILL right after its Nth
# chunk has committed (`store N`), as it begins to score keywords (`finish`), or after the
# warehouse handed the changed documents to the index, before the index commits them
# (`upsert`) or after it did, before the warehouse forgets them (`forget`).
CHILD = """
import os, signal, sys
from pathlib import Path
from pipeline.storage.db import connect
from pipeline.text import analysis, index

db, chunk, where, count, own = sys.argv[1:]
store, stored = analysis._store, []

def store_then_die(*args, **kwargs):
    done = store(*args, **kwargs)
    stored.append(done)
    if len(stored) == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
    return done

def die(conn, log):
    os.kill(os.getpid(), signal.SIGKILL)

def upsert_then_die(index_, conn):
    if where == "forget":
        upsert(index_, conn)
    os.kill(os.getpid(), signal.SIGKILL)

upsert = index._upsert
if where == "store":
    analysis._store = store_then_die
elif where == "finish":
    analysis._finish = die
else:
    index._upsert = upsert_then_die
analysis.update_text_tables(
    lambda: connect(Path(db)), chunk=int(chunk), dictionary_dir=Path(own) if own else None
)
"""


def add_videos(db: Path, first: int, count: int) -> None:
    """Videos saying different pairs of sentences, so document frequencies differ."""
    with connect(db) as conn:
        for n in range(first, first + count):
            content = SENTENCES[n % len(SENTENCES)] + SENTENCES[(n * 3 + 1) % len(SENTENCES)]
            conn.execute(
                "INSERT INTO videos (video_key, title, author_nickname, fetched_at) "
                "VALUES (?, ?, ?, now())",
                [f"douyin:{n}", f"视频{n}", f"作者{n % 3}"],
            )
            conn.execute(
                "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, false, now(), NULL)",
                [f"douyin:{n}", str(n), f"视频{n}", content, len(content)],
            )


def killed_run(db: Path, chunk: int, where: str, count: int = 0, own: Path | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), str(chunk), where, str(count), str(own or "")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def rows(db: Path) -> dict[str, object]:
    """Every row, and what a search finds, best first. Not its scores: tantivy's BM25 counts a
    replaced document's words until its segment is merged, so an index that replaced documents
    in other commits scores a little differently."""
    with connect(db, read_only=True) as conn:
        tables = {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
        found = [hit.video_key for hit in search(Warehouse(db).search_index, conn, QUERY, 50)]
    return {**tables, "search": found}


def stored_keys(db: Path) -> set[str]:
    with connect(db, read_only=True) as conn:
        return {key for (key,) in conn.execute("SELECT video_key FROM text_state").fetchall()}


@pytest.fixture
def segmented(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys this process segments, in order."""
    keys: list[str] = []

    def spy(pending: list[Pending], loaded: Segmenter) -> Frames:
        keys.extend(key for key, *_ in pending)
        return segment_transcripts(pending, loaded)

    monkeypatch.setattr(analysis, "segment_transcripts", spy)
    return keys


@pytest.fixture
def fresh_segmenter():
    segment_module.segmenter.cache_clear()
    yield
    segment_module.segmenter.cache_clear()


def test_a_resegmentation_killed_between_chunks_resumes_where_it_stopped(
    tmp_path: Path, segmented: list[str], fresh_segmenter: None
) -> None:
    """A dictionary edit makes every transcript pending (a full keyword refresh); killed after
    two of five chunks."""
    own = tmp_path / "dictionary"
    own.mkdir()
    (own / "user_dict.txt").write_text(
        segment_module.USER_DICT.read_text(encoding="utf-8") + "韩国时间 2000 n\n",
        encoding="utf-8",
    )
    dictionary = Settings.from_env({"PIPELINE_DICTIONARY_DIR": str(own)}).dictionary_dir
    killed, whole = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"
    for db in (killed, whole):
        add_videos(db, 0, 15)
        assert update_text_tables(lambda db=db: connect(db)).processed == 15
    assert update_text_tables(lambda: connect(whole), dictionary_dir=dictionary).processed == 15

    segmented.clear()
    before = rows(killed)
    killed_run(killed, chunk=3, where="store", count=2, own=dictionary)
    with connect(killed, read_only=True) as conn:
        current = conn.execute("SELECT count(*) FROM text_unfinished").fetchone()
        assert current == (6,), "two chunks of three committed, their keywords owed"
        assert conn.execute("SELECT count(*) FROM keyword_refresh").fetchone() == (0,)
    assert rows(killed)["search"] == before["search"], "the index waits for the end"

    with connect(killed, read_only=True) as conn:
        first = {key for (key,) in conn.execute("SELECT * FROM text_unfinished").fetchall()}
    resumed = update_text_tables(lambda: connect(killed), dictionary_dir=dictionary, chunk=3)
    assert resumed.processed == 9 and resumed.documents_changed
    assert len(segmented) == 9 and not first & set(segmented)
    assert rows(killed) == rows(whole)
    assert rows(whole)["search"] and rows(whole)["video_keywords"]


def test_an_incremental_update_killed_between_chunks_scores_as_one_pass(
    tmp_path: Path, segmented: list[str]
) -> None:
    """Four new videos of forty: keywords updated incrementally; killed after two chunks of
    one. The new videos are scored at the end against the counts of all four."""
    killed, whole = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"
    for db in (killed, whole):
        add_videos(db, 0, 40)
        update_text_tables(lambda db=db: connect(db))
        add_videos(db, 100, 4)
    assert update_text_tables(lambda: connect(whole)).processed == 4

    killed_run(killed, chunk=1, where="store", count=2)
    committed = stored_keys(killed)
    assert len(committed) == 42
    segmented.clear()
    assert update_text_tables(lambda: connect(killed), chunk=1).processed == 2
    assert sorted(segmented) == sorted({f"douyin:{n}" for n in range(100, 104)} - committed)
    with connect(killed, read_only=True) as conn:
        assert conn.execute("SELECT changed_since FROM keyword_refresh").fetchone() == (4,)
    assert rows(killed) == rows(whole)


def three_changed_of_ten(tmp_path: Path) -> tuple[Path, Path]:
    """Two warehouses of ten analysed videos, three of them changed since: `whole` analysed
    again in one go, `killed` left for a run to kill."""
    killed, whole = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"
    for db in (killed, whole):
        add_videos(db, 0, 10)
        update_text_tables(lambda db=db: connect(db))
        with connect(db) as conn:
            conn.execute(
                "UPDATE transcripts SET content = content || '克洛克达尔盈利。' "
                "WHERE video_key IN ('douyin:1', 'douyin:4', 'douyin:8')"
            )
    update_text_tables(lambda: connect(whole))
    return killed, whole


def test_a_kill_after_the_last_chunk_leaves_the_index_to_the_next_run(
    tmp_path: Path, segmented: list[str]
) -> None:
    killed, whole = three_changed_of_ten(tmp_path)

    killed_run(killed, chunk=2, where="finish")
    assert stored_keys(killed) == stored_keys(whole)
    with duckdb.connect(str(killed), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM text_unfinished").fetchone() == (3,)
    assert rows(killed)["search"] != rows(whole)["search"], "the index is behind"

    segmented.clear()
    resumed = update_text_tables(lambda: connect(killed))
    assert resumed.processed == 0 and resumed.documents_changed and segmented == []
    assert rows(killed) == rows(whole)
    again = update_text_tables(lambda: connect(killed))
    assert not again.documents_changed


@pytest.mark.parametrize("where", ["upsert", "forget"])
def test_a_kill_between_the_warehouse_and_the_index_commits_is_mended_by_the_next_run(
    tmp_path: Path, segmented: list[str], where: str
) -> None:
    """Killed after the warehouse handed three changed documents to the index: before the index
    committed them, or after it did but before the warehouse forgot them. The next run writes
    them again (a replace by key, so no document is doubled) and segments nothing."""
    killed, whole = three_changed_of_ten(tmp_path)

    killed_run(killed, chunk=2, where=where)
    with duckdb.connect(str(killed), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM text_unfinished").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM index_unfinished").fetchone() == (3,)
    behind = rows(killed)["search"] != rows(whole)["search"]
    assert behind == (where == "upsert"), "the index holds the new documents once committed"

    segmented.clear()
    resumed = update_text_tables(lambda: connect(killed))
    assert (resumed.processed, resumed.indexed, segmented) == (0, 3, [])
    assert rows(killed) == rows(whole)
    assert len(indexed_keys(Warehouse(killed).search_index)) == 10


def test_a_chunk_is_segmented_while_the_one_before_it_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing a chunk waits until the next chunk's segmenting has begun: that happens only if
    the two overlap (a deadline, not a time, ends the wait where they do not)."""
    db = tmp_path / "w.duckdb"
    add_videos(db, 0, 6)
    began = [threading.Event() for _ in range(3)]
    overlapped: list[bool] = []
    segment, store = analysis.segment_transcripts, analysis._store

    def segment_spy(pending: list[Pending], loaded: Segmenter) -> Frames:
        began[sum(event.is_set() for event in began)].set()
        return segment(pending, loaded)

    def store_when_next_began(
        conn: duckdb.DuckDBPyConnection, frames: Frames, *args: object, **kwargs: object
    ) -> int:
        stored = len(overlapped) + 1
        if stored < len(began):
            overlapped.append(began[stored].wait(timeout=60))
        return store(conn, frames, *args, **kwargs)

    monkeypatch.setattr(analysis, "segment_transcripts", segment_spy)
    monkeypatch.setattr(analysis, "_store", store_when_next_began)
    assert update_text_tables(lambda: connect(db), chunk=2).processed == 6
    assert overlapped == [True, True]
