"""`python -m pipeline ui` (what `make ui` runs) serves the code location with its assets, sensor
and schedule, and starts the emulator for its runs when no token is set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.settings import PROJECT_ROOT

QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              assetNodes { assetKey { path } }
              sensors { name }
              schedules { name }
              jobs { name }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_serves_the_code_location(dagster_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "links").mkdir()
    env = {
        **os.environ,
        "PIPELINE_DB": str(tmp_path / "w.duckdb"),
        "PIPELINE_LINKS_DIR": str(tmp_path / "links"),
    }
    env.pop("COZE_API_TOKEN", None)
    env.pop("COZE_BASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "ui", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        deadline = time.monotonic() + 120
        location = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.post(url, json={"query": QUERY}, timeout=10).json()
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                location = entries[0]["locationOrLoadError"] if entries else None
                if location is not None:
                    break
            except (httpx.HTTPError, KeyError, TypeError):
                pass
            time.sleep(1)
        assert location is not None, "webserver never answered"
        assert location["__typename"] == "RepositoryLocation", location
        repo = location["repositories"][0]
        assets = {"/".join(node["assetKey"]["path"]) for node in repo["assetNodes"]}
        assert {
            "links",
            "metadata_responses",
            "transcript_jobs",
            "transcript_responses",
            "videos",
            "transcripts",
            "link_status",
            "raw_responses",
            "item_state",
            "transcript_tokens",
            "search_documents",
        } <= assets
        assert sorted(s["name"] for s in repo["sensors"]) == [
            "failed_run_alert",
            "link_files_sensor",
        ]
        assert [s["name"] for s in repo["schedules"]] == ["unfinished_work_schedule"]
        assert "pipeline_job" in {j["name"] for j in repo["jobs"]}
        assert server.stdout is not None
        announced = server.stdout.readline()
        assert "using the built-in Coze emulator at " in announced
        emulator_url = announced.rsplit(" ", 1)[-1].strip()
        assert httpx.get(f"{emulator_url}/_emulator/stats", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=60)
    with pytest.raises(httpx.ConnectError):  # stopping the UI stops its emulator too
        httpx.get(f"{emulator_url}/_emulator/stats", timeout=10)
