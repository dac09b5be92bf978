"""The service as docs/coze.md describes it, for tests that run `python -m pipeline run` against
it: the fast emulator with a required token, a batch file, one run to its end, and reads of the
warehouse it leaves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.support import PipelineProcess, pipeline_env

TOKEN = "pat_real_service_test_5e4d3c2b1a"
VIDEOS = [f"https://www.douyin.com/video/77{n:017d}" for n in range(12)]


def fast(**switches: object) -> EmulatorConfig:
    return EmulatorConfig(profile="fast", job_seconds=1.0, require_token=TOKEN, **switches)


def write_batch(tmp_path: Path, lines: list[str], name: str = "batch.txt") -> Path:
    links = tmp_path / name
    links.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return links


def run(links: Path, emulator: EmulatorProcess, dagster_home: Path, *args: str, **env: str):
    """One `python -m pipeline run` to its end: (exit status, output)."""
    settings = {"COZE_API_TOKEN": TOKEN, "PIPELINE_POLL_BUDGET": "60", **env}
    environment = pipeline_env(dagster_home, emulator.url, **settings)
    process = PipelineProcess(links, links.with_suffix(".duckdb"), environment, *args)
    status = process.finish()
    assert TOKEN not in process.output
    return status, process.output


def query(links: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(links.with_suffix(".duckdb")), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def statuses(links: Path) -> Counter[tuple[str, str]]:
    return Counter(query(links, "SELECT metadata_status, transcript_status FROM link_status"))


def failed_items(links: Path) -> int:
    return query(links, "SELECT count(*) FROM item_state WHERE status = 'failed'")[0][0]
