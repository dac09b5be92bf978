"""The commands a person types, on a DuckLake warehouse: what works on the file works on the lake.

One real run of the example batch with `PIPELINE_WAREHOUSE=ducklake:sqlite:…`, then `plan`,
`sql`, `search`, `export`, `check` and `rebuild` as separate processes, and `check` firing when
this host's search index is gone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.location import warehouse_from_env
from tests.support import PipelineProcess, pipeline_env, sqlite_lake_env


def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def lake_env(tmp_path: Path) -> dict[str, str]:
    return {
        **sqlite_lake_env(tmp_path / "lake"),
        "PIPELINE_DB": str(tmp_path / "local" / "warehouse.duckdb"),
    }


def test_every_command_works_on_the_lake(
    tmp_path: Path, dagster_home: Path, lake_env: dict[str, str]
) -> None:
    links = tmp_path / "example.txt"
    shutil.copy(PROJECT_ROOT / "data" / "links" / "example.txt", links)
    db = Path(lake_env["PIPELINE_DB"])
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.3)) as emulator:
        env = pipeline_env(dagster_home, emulator.url, **lake_env)
        run = PipelineProcess(links, db, env)
        assert run.finish() == 0, run.output
        assert "Warehouse DuckLake (sqlite catalog" in run.output
        assert "transcripts ok: 8" in run.output

        plan = command(env, "plan", "--links", str(links), "--format", "json")
        assert plan.returncode == 0, plan.stderr
        planned = json.loads(plan.stdout)
        assert planned["warehouse_exists"] and planned["transcripts_ok"] == 8
        assert planned["metadata_calls"] == planned["submits"] == 0

    sql = command(env, "sql", "SELECT count(*) AS n FROM transcripts", "--format", "json")
    assert (sql.returncode, json.loads(sql.stdout)) == (0, [{"n": 8}]), sql.stderr
    assert not (db.parent / "warehouse.read.duckdb").exists(), "a lake needs no snapshot"

    found = command(env, "search", "航海王")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("1. [")

    exported = command(env, "export", "--to", str(tmp_path / "out"), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "out" / "transcripts.csv").read_text().splitlines()) == 9

    checked = command(env, "check")
    assert checked.returncode == 0, checked.stdout
    assert "search index: 8 documents" in checked.stdout

    warehouse = warehouse_from_env(env, db, tmp_path)
    shutil.rmtree(warehouse.search_index)  # this host's index lost: check says so, rebuild makes it
    missing = command(env, "check")
    assert missing.returncode == 1
    assert f"search index {warehouse.search_index} is missing" in missing.stdout
    rebuilt = command(env, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "8 transcripts" in rebuilt.stdout
    assert command(env, "check").returncode == 0
    assert command(env, "search", "航海王").stdout.startswith("1. [")
