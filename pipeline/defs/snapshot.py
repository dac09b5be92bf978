"""The readers' copy of the warehouse, an asset of its own: the run's last step, so the graph
shows when readers see what the steps before it wrote."""

import dagster as dg

from pipeline.defs.assets import coze_calls, normalized_tables
from pipeline.defs.resources import WarehouseResource
from pipeline.defs.text import ANALYSIS, text_analysis


@dg.asset(
    deps=[coze_calls, normalized_tables, text_analysis],
    group_name=ANALYSIS,
    description=(
        "The read-only copy of the warehouse that `sql`, `search`, `export`, notebooks and BI "
        "tools open (`<stem>.read.duckdb` beside the file), published at the end of a run so "
        "that readers never hold the live file. On a DuckLake, whose readers see every commit, "
        "the lake's small files are compacted instead."
    ),
)
def read_snapshot(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Publishes once a run's writing steps are done. A run that stops earlier publishes where
    it stops (a Coze halt, a failing step), since this step will not run then."""
    return dg.MaterializeResult(metadata=warehouse.publish(context.log))
