"""Migrations run once per warehouse, gated by `schema_version`, not on every writable open."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.schema.migrations import LATEST, schema_version
from pipeline.storage.db import connect


def views(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {r[0] for r in conn.execute("SELECT view_name FROM duckdb_views()").fetchall()}


def test_a_new_warehouse_records_every_migration(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
        rows = conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert rows == [(n,) for n in range(1, LATEST + 1)]


def test_a_current_warehouse_runs_no_migration_and_an_older_one_runs_what_it_lacks(
    tmp_path: Path,
) -> None:
    """Dropping a view that migration 1 makes: a writable open of a current warehouse leaves it
    gone (nothing ran); once the warehouse says it predates migration 1, the next open makes it
    again."""
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        conn.execute("DROP VIEW link_status")
    with connect(db):
        pass
    assert "link_status" not in views(db)
    with duckdb.connect(str(db)) as conn:
        conn.execute("DELETE FROM schema_version")
    with connect(db) as conn:
        assert schema_version(conn) == LATEST
    assert "link_status" in views(db)
