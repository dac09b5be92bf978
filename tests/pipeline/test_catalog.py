"""The Dagster catalog shows every warehouse table as an asset, described from the schema."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.definitions import build_definitions
from pipeline.schema import BOOKKEEPING, TABLES, VIEWS
from pipeline.settings import Settings


def test_every_table_is_an_asset_with_its_columns_and_name(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"PIPELINE_DB": str(tmp_path / "w.duckdb")}))
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for item in (*TABLES, *VIEWS):
        if item.name in BOOKKEEPING:
            assert item.name not in specs, "bookkeeping is no asset"
            continue
        spec: dg.AssetSpec = specs[item.name]
        schema = spec.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c.name for c in item.columns], item.name
        assert [c.description for c in schema.columns] == [c.doc for c in item.columns]
        assert spec.metadata["dagster/table_name"] == f"warehouse.main.{item.name}"
        assert item.doc in (spec.description or ""), item.name
