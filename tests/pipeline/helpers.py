"""Running the real job in-process against a temp warehouse and the emulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipeline.definitions import build_definitions
from pipeline.defs.automation import JOB_NAME
from pipeline.defs.partitions import batches
from pipeline.emulator import EmulatorProcess
from pipeline.settings import Settings
from pipeline.storage.db import connect
from pipeline.storage.location import Warehouse, warehouse_from_env
from tests.support import TEST_RPS, sqlite_lake_env


@dataclass
class Project:
    """A links folder, a warehouse (the DuckDB file, or a DuckLake with a SQLite catalog when
    `lake`) and the environment a deployment would have."""

    root: Path
    emulator: EmulatorProcess
    lake: bool = False

    @property
    def links_dir(self) -> Path:
        return self.root / "links"

    @property
    def db(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def warehouse(self) -> Warehouse:
        return warehouse_from_env(self.env(), self.db, self.root)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **(
                sqlite_lake_env(self.root / "lake") if self.lake else {"PIPELINE_WAREHOUSE": "file"}
            ),
            "PIPELINE_DB": str(self.db),
            "PIPELINE_LINKS_DIR": str(self.links_dir),
            "COZE_BASE_URL": self.emulator.url,
            "PIPELINE_POLL_BUDGET": "60",
            "PIPELINE_MEDIA_DIR": str(self.media_dir),
            "COZE_RPS": TEST_RPS,
            **extra,
        }

    def write_batch(self, name: str, lines: Sequence[str]) -> str:
        self.links_dir.mkdir(parents=True, exist_ok=True)
        (self.links_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return name

    def run(
        self,
        instance: dg.DagsterInstance,
        *partitions: str,
        run_config: dict | None = None,
        **env: str,
    ) -> dg.ExecuteInProcessResult:
        defs = build_definitions(Settings.from_env(self.env(**env)))
        instance.add_dynamic_partitions(batches.name, list(partitions))
        job = defs.resolve_job_def(JOB_NAME)
        if len(partitions) == 1:
            return job.execute_in_process(
                instance=instance, partition_key=partitions[0], run_config=run_config
            )
        return job.execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={
                "dagster/asset_partition_range_start": partitions[0],
                "dagster/asset_partition_range_end": partitions[-1],
            },
        )

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with connect(self.warehouse, read_only=True) as conn:
            return conn.execute(sql, list(params)).fetchall()

    def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        return self.query(sql, params)[0][0]
