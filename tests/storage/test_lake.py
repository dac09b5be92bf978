"""The DuckLake warehouse next to the file: the same writes keep the same guarantees.

Every test runs on the DuckDB file and on real lakes (a SQLite catalog, a PostgreSQL catalog
on the suite's own server), with real processes where locking is the point.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.derive.tables import _merge_authors, refresh_normalized
from pipeline.envvars import ConfigError
from pipeline.object_store import ObjectStoreCredentials
from pipeline.settings import Settings
from pipeline.storage import lake as lakes
from pipeline.storage.db import CONFIG, WarehouseLockedError, WarehouseUnreadableError, connect
from pipeline.storage.frames import frame, upsert
from pipeline.storage.location import Warehouse, warehouse_from_env
from tests.postgres import PostgresServer
from tests.s3 import object_keys

KINDS = ("file", "sqlite", "postgres")


def make_warehouse(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Warehouse:
    """`kind` as `PIPELINE_WAREHOUSE` would give it; a PostgreSQL catalog gets its own database."""
    if kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return lake_warehouse(tmp_path, f"postgres:{server.create_database('lake').conninfo}")
    if kind == "sqlite":
        return lake_warehouse(tmp_path, f"sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}")
    return Warehouse(tmp_path / "warehouse.duckdb")


def lake_warehouse(tmp_path: Path, catalog: str) -> Warehouse:
    choice = f"ducklake:{catalog}"
    env = {"PIPELINE_WAREHOUSE": choice, "PIPELINE_LAKE_DATA": str(tmp_path / "lake" / "files")}
    return warehouse_from_env(env, tmp_path / "warehouse.duckdb", tmp_path)


@pytest.fixture(params=KINDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    return make_warehouse(request.param, tmp_path, request)


def test_choice_of_warehouse_is_read_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert warehouse_from_env({}, db, tmp_path) == Warehouse(db)
    lake = warehouse_from_env(
        {"PIPELINE_WAREHOUSE": "ducklake:postgres:dbname=lake host=db.internal user=etl"},
        db,
        tmp_path,
    ).lake
    assert lake is not None
    assert (lake.backend, lake.catalog) == ("postgres", "dbname=lake host=db.internal user=etl")
    assert lake.data_path == f"{tmp_path / 'lake'}/"
    remote = warehouse_from_env(
        {"PIPELINE_WAREHOUSE": "ducklake:sqlite:c.sqlite", "PIPELINE_LAKE_DATA": "s3://b/lake"},
        db,
        tmp_path,
    ).lake
    assert remote is not None and remote.remote_data and remote.data_path == "s3://b/lake/"
    for wrong in ("lake", "ducklake:mysql:x", "ducklake:sqlite:"):
        with pytest.raises(ConfigError, match="PIPELINE_WAREHOUSE"):
            warehouse_from_env({"PIPELINE_WAREHOUSE": wrong}, db, tmp_path)
    with pytest.raises(ConfigError, match="PGPASSWORD") as refused:
        warehouse_from_env(
            {"PIPELINE_WAREHOUSE": "ducklake:postgres:dbname=l password=hunter2"}, db, tmp_path
        )
    assert "hunter2" not in str(refused.value)


def video(key: str, title: str) -> dict[str, object]:
    return {
        "video_key": key,
        "platform": "douyin",
        "title": title,
        "fetched_at": datetime(2026, 11, 1),
    }


def test_upsert_keeps_one_row_per_key_with_the_latest_values(warehouse: Warehouse) -> None:
    with connect(warehouse) as conn:
        upsert(conn, "videos", frame("videos", [video("k1", "old"), video("k2", "two")]))
    with connect(warehouse) as conn:
        upsert(conn, "videos", frame("videos", [video("k1", "new"), video("k1", "newest")]))
        rows = conn.execute("SELECT video_key, title FROM videos ORDER BY 1").fetchall()
    assert rows == [("k1", "newest"), ("k2", "two")]


def test_authors_keep_the_first_sighting_and_the_latest_avatar(warehouse: Warehouse) -> None:
    early, late = datetime(2026, 1, 1), datetime(2026, 6, 1)
    authors = pl.DataFrame(
        {
            "platform": ["douyin"],
            "nickname": ["n"],
            "avatar_url": ["https://a/1"],
            "first_seen_at": [late],
        }
    )
    with connect(warehouse) as conn:
        _merge_authors(conn, authors.with_columns(first_seen_at=pl.lit(early)))
        _merge_authors(conn, authors.with_columns(avatar_url=pl.lit("https://a/2")))
        rows = conn.execute("SELECT avatar_url, first_seen_at FROM authors").fetchall()
    assert rows == [("https://a/2", early)]


def test_rebuilding_normalized_tables_twice_changes_nothing(warehouse: Warehouse) -> None:
    with connect(warehouse) as conn:
        first = refresh_normalized(conn, None)
        second = refresh_normalized(conn, None)
    assert first == second


HOLD_WRITER = """
import sys, time
from pipeline.storage.location import warehouse_from_env
from pathlib import Path
from pipeline.storage.db import connect
env = {{"PIPELINE_WAREHOUSE": {choice!r}, "PIPELINE_LAKE_DATA": {data!r}}}
warehouse = warehouse_from_env(env, Path({db!r}), Path({data!r}))
with connect(warehouse) as conn:
    print("holding", flush=True)
    time.sleep({seconds})
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_one_writer_at_a_time_and_readers_never_wait(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    warehouse = make_warehouse(kind, tmp_path, request)
    assert warehouse.lake is not None
    with connect(warehouse) as conn:
        upsert(conn, "videos", frame("videos", [video("k1", "t")]))
    choice = f"ducklake:{warehouse.lake.backend}:{warehouse.lake.catalog}"
    script = HOLD_WRITER.format(
        choice=choice, data=warehouse.lake.data_path, db=str(warehouse.path), seconds=3
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with connect(warehouse, read_only=True, wait_seconds=0) as reader:
            assert reader.execute("SELECT count(*) FROM videos").fetchone() == (1,)
        with (
            pytest.raises(WarehouseLockedError, match="being written by another run"),
            connect(warehouse, wait_seconds=0.5),
        ):
            pass
    finally:
        holder.wait(timeout=30)
    with connect(warehouse, wait_seconds=5) as conn:  # free again once the holder is done
        assert conn.execute("SELECT count(*) FROM videos").fetchone() == (1,)


def test_compaction_merges_the_small_files_short_writes_leave(tmp_path: Path) -> None:
    warehouse = lake_warehouse(tmp_path, f"sqlite:{tmp_path / 'catalog.sqlite'}")
    for n in range(8):
        with connect(warehouse) as conn:
            rows = [video(f"k{n}-{i}", "t" * 50) for i in range(200)]
            upsert(conn, "videos", frame("videos", rows))
    with connect(warehouse) as conn:
        before = lakes.data_files(conn)
        after = lakes.compact(conn, logging.getLogger("test"))
        assert lakes.data_files(conn) == after
        assert conn.execute("SELECT count(*) FROM videos").fetchone() == (1600,)
    assert before >= 8
    assert after < before


def test_lake_data_on_object_storage(tmp_path: Path, s3_bucket: dict[str, str]) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}",
        "PIPELINE_LAKE_DATA": "s3://team-lake/warehouse",
        **s3_bucket,
    }
    warehouse = Settings.from_env(env, db=tmp_path / "w.duckdb").warehouse
    with connect(warehouse) as conn:
        upsert(conn, "videos", frame("videos", [video(f"k{i}", "t") for i in range(500)]))
    with connect(warehouse, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM videos").fetchone() == (500,)
    keys = object_keys(s3_bucket)
    assert any(k.startswith("warehouse/") and k.endswith(".parquet") for k in keys)
    assert not list(tmp_path.rglob("*.parquet"))  # nothing of the data stayed local


def test_an_unreachable_catalog_is_one_line_for_readers_and_writers(tmp_path: Path) -> None:
    warehouse = lake_warehouse(
        tmp_path, f"postgres:dbname=lake host={tmp_path / 'no-server'} user=postgres"
    )
    for read_only in (True, False):
        with (
            pytest.raises(WarehouseUnreadableError, match="DuckLake \\(postgres catalog") as error,
            connect(warehouse, read_only=read_only, wait_seconds=0),
        ):
            pass
        assert "\n" not in str(error.value)


def test_refused_object_store_credentials_never_show_the_secret() -> None:
    conn = duckdb.connect(config=CONFIG)  # no httpfs loaded: DuckDB refuses the s3 secret
    env = {"AWS_ACCESS_KEY_ID": "key-id", "AWS_SECRET_ACCESS_KEY": "very-secret-value"}
    with pytest.raises(RuntimeError, match="AWS_SECRET_ACCESS_KEY") as refused:
        lakes._object_store_secret(conn, ObjectStoreCredentials.from_env(env))
    assert "very-secret-value" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_key_column_refuses_null(warehouse: Warehouse) -> None:
    """The file's primary key refuses a NULL key; a lake's NOT NULL does the same."""
    with connect(warehouse) as conn, pytest.raises(duckdb.ConstraintException):
        conn.execute("INSERT INTO videos (video_key, fetched_at) VALUES (NULL, now())")
