"""What the Dagster catalog shows of each warehouse table: its description and columns, from
`pipeline.schema`, the same source docs/schema.md is generated from."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pipeline.schema import SCHEMA_BY_NAME, Table

TABLE_DOCS = {name: item.doc for name, item in SCHEMA_BY_NAME.items()}


def table_metadata(name: str) -> dict[str, object]:
    """`dagster/column_schema` and `dagster/table_name` of a warehouse table or view."""
    item = SCHEMA_BY_NAME[name]
    key = item.primary_key if isinstance(item, Table) else ()
    columns = [
        dg.TableColumn(
            column.name,
            column.type,
            description=column.doc,
            constraints=dg.TableColumnConstraints(
                nullable=column.nullable and column.name not in key,
                unique=key == (column.name,),
            ),
        )
        for column in item.columns
    ]
    return {
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": f"warehouse.main.{name}",
    }


def table_spec(name: str, *, deps: Sequence[str], group: str) -> dg.AssetSpec:
    """An asset standing for one table, described by the schema."""
    return dg.AssetSpec(
        name,
        deps=deps,
        group_name=group,
        kinds={"duckdb"},
        description=TABLE_DOCS[name],
        metadata=table_metadata(name),
    )
