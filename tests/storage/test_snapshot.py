"""The read-only snapshot: published atomically, never half a file, never at the cost of the
writer's lock; `python -m pipeline sql` prints what readers see."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from functools import partial
from pathlib import Path

import duckdb
import pytest

from pipeline.answers.raw import RawRow
from pipeline.reads.sql import Result, to_csv, to_json, to_table
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from pipeline.storage.recorder import Recorder
from pipeline.storage.snapshot import publish, snapshot_path
from tests.support import hold_database

_PROBE = """
import sys, duckdb
try:
    duckdb.connect(sys.argv[1], read_only=True).close()
    print("opened")
except duckdb.IOException as error:
    print("locked" if "lock" in str(error) else error)
"""

# A copy that runs out of room, as on a full disk: the file size limit is inherited by the copy.
_PUBLISH_WITHOUT_ROOM = """
import logging, resource, signal, sys
from pathlib import Path
from pipeline.storage.db import connect
from pipeline.storage.snapshot import publish
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
db = Path(sys.argv[1])
with connect(db) as conn:
    conn.execute("CHECKPOINT")
    resource.setrlimit(resource.RLIMIT_FSIZE, (db.stat().st_size // 2, resource.RLIM_INFINITY))
    print(publish(conn, db) is None)
"""


def _add_links(db: Path, first: int, count: int) -> None:
    with connect(db) as conn:
        for n in range(first, first + count):
            conn.execute(
                "INSERT INTO links VALUES ('b.txt', ?, 'x', 'u', 'douyin', ?, 'u', ?, NULL, now(), true)",
                [n, str(n), f"douyin:{n}"],
            )


def _publish(db: Path) -> None:
    with connect(db) as conn:
        assert publish(conn, db) is not None


def _count(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT count(*) FROM links").fetchone()
    assert row is not None
    return row[0]


def sql(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline sql ARGS` in its own process, as a script would run it."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "sql", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_the_snapshot_is_named_after_the_warehouse() -> None:
    assert snapshot_path(Path("data/warehouse.duckdb")) == Path("data/warehouse.read.duckdb")


def test_a_reader_keeps_its_snapshot_and_a_new_one_sees_the_next(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 3)
    _publish(db)
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as old:
        assert _count(old) == 3
        _add_links(db, 3, 4)
        _publish(db)
        assert _count(old) == 3, "a reader that had the old snapshot open keeps reading it"
        fresh = sql("SELECT count(*) AS n FROM links", "--format", "json", "--db", db)
        assert json.loads(fresh.stdout) == [{"n": 7}], fresh.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb", "w.read.duckdb"]


def test_publishing_keeps_the_writers_lock(tmp_path: Path) -> None:
    """Reading the warehouse in the writer's own process would drop its POSIX lock."""
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 1)
    with connect(db) as conn:
        assert publish(conn, db) is not None
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, str(db)], capture_output=True, text=True, timeout=60
        )
    assert probe.stdout.strip() == "locked", probe.stdout + probe.stderr


def test_a_copy_that_runs_out_of_room_warns_and_keeps_the_previous_snapshot(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 2)
    _publish(db)
    _add_links(db, 2, 5_000)
    failed = subprocess.run(
        [sys.executable, "-c", _PUBLISH_WITHOUT_ROOM, str(db)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 0 and failed.stdout.strip() == "True", failed.stderr
    warnings = [line for line in failed.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "could not publish" in warnings[0], failed.stderr
    assert "File too large" in warnings[0], warnings
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as conn:
        assert _count(conn) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb", "w.read.duckdb"]


def test_a_snapshot_folder_that_is_a_file_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 1)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with connect(db) as conn:
        assert publish(conn, blocker / "w.duckdb") is None
    assert "could not publish the read-only snapshot" in caplog.text
    assert blocker.read_text(encoding="utf-8") == "x"


def test_sql_prints_a_table_csv_and_json(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 2)
    query = "SELECT line_no, video_key, TIMESTAMP '2024-05-01 08:00:00' AS at FROM links ORDER BY 1"

    table = sql(query, "--db", db)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["line_no", "|", "video_key", "|", "at"]
    assert "douyin:1" in table.stdout and table.stdout.rstrip().endswith("(2 rows)")

    csv = sql(query, "--format", "csv", "--db", db)
    assert csv.stdout.splitlines() == [
        "line_no,video_key,at",
        "0,douyin:0,2024-05-01T08:00:00",
        "1,douyin:1,2024-05-01T08:00:00",
    ]
    records = json.loads(sql(query, "--format", "json", "--db", db).stdout)
    assert records[1] == {"line_no": 1, "video_key": "douyin:1", "at": "2024-05-01T08:00:00"}


@pytest.mark.parametrize(
    ("query", "starts"),
    [("SELEC 1", "Parser Error: "), ("SELECT nope FROM links", "Binder Error: ")],
)
def test_a_bad_query_is_one_line_and_exit_2(tmp_path: Path, query: str, starts: str) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 1)
    done = sql(query, "--db", db)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(starts)


def test_writing_through_sql_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 1)
    done = sql("DELETE FROM links", "--db", db)
    assert done.returncode == 2 and "read-only" in done.stderr
    with duckdb.connect(str(db), read_only=True) as conn:
        assert _count(conn) == 1


def test_sql_on_a_locked_warehouse_never_published_runs_on_the_empty_schema(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    _add_links(db, 0, 1)
    holder = hold_database(db, 120)
    try:
        done = sql("SELECT count(*) AS n FROM links", "--format", "json", "--db", db)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0 and json.loads(done.stdout) == [{"n": 0}]
    assert done.stderr.strip() == (
        f"nothing has been published from {db} yet: the query ran on the empty schema"
    )
    assert not snapshot_path(db).exists()


def test_sql_without_a_warehouse_says_nothing_is_published(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    done = sql("SELECT count(*) AS n FROM videos", "--format", "csv", "--db", db)
    assert done.returncode == 0 and done.stdout.splitlines() == ["n", "0"]
    assert "nothing has been published" in done.stderr
    assert not db.exists()


RESULT = Result(
    ["title", "chars", "at", "tags"],
    [
        ("以太币今晚", 229, dt.datetime(2024, 5, 1, 8, 0, 0), ["币", "eth"]),
        ("\x1b[31mred\x1b[0m", None, None, []),
    ],
)


def test_the_table_aligns_wide_characters_and_cleans_escapes() -> None:
    lines = to_table(RESULT).splitlines()
    assert lines[0] == "title      | chars | at                  | tags"
    assert lines[2] == '以太币今晚 |   229 | 2024-05-01T08:00:00 | ["币", "eth"]'
    assert lines[3] == "red        |  NULL | NULL                | []"
    assert lines[-1] == "(2 rows)"


def test_csv_and_json_keep_nulls_and_nested_values() -> None:
    assert to_csv(RESULT).splitlines()[1:] == [
        '以太币今晚,229,2024-05-01T08:00:00,"[""币"", ""eth""]"',
        "\x1b[31mred\x1b[0m,,,[]",
    ]
    assert json.loads(to_json(RESULT)) == [
        {"title": "以太币今晚", "chars": 229, "at": "2024-05-01T08:00:00", "tags": ["币", "eth"]},
        {"title": "\x1b[31mred\x1b[0m", "chars": None, "at": None, "tags": []},
    ]


def answer(n: int) -> RawRow:
    return RawRow(
        response_id=f"r{n}",
        kind="metadata",
        video_key=f"douyin:{n}",
        workflow_id="w",
        request_input="{}",
        execute_id=None,
        http_status=200,
        outcome="permanent",
        error_code=4000,
        error_message="bad input",
        logid=None,
        received_at=dt.datetime(2026, 11, 1),
        body=None,
    )


@pytest.mark.parametrize(("every", "published"), [(0.0, 2), (3600.0, 0)])
def test_a_long_step_refreshes_the_snapshot_at_most_every_interval(
    tmp_path: Path, every: float, published: int
) -> None:
    """The Coze step's commits refresh the readers' snapshot every `every` seconds, with the
    writer's own connection, so a run of hours shows its progress before its step ends."""
    db = tmp_path / "w.duckdb"
    log = logging.getLogger("test")
    recorder = Recorder(
        db,
        max_attempts=3,
        lock_wait_seconds=5,
        logger=log,
        publish=partial(publish, warehouse=db, logger=log),
        publish_every=every,
    )
    for n in range(2):
        recorder.record(answer(n))
        assert recorder.flush(wait=True)
    snapshot = snapshot_path(db)
    if published:
        with duckdb.connect(str(snapshot), read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM raw_responses").fetchone() == (published,)
    else:
        assert not snapshot.exists()
