"""The code location loads in a real dagster-webserver with its assets, sensor and schedule."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def test_code_location_loads_in_the_webserver(dagster_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PIPELINE_DB": str(tmp_path / "w.duckdb")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
            "text_analysis",
        } <= assets
        assert [s["name"] for s in repo["sensors"]] == ["link_files_sensor"]
        assert [s["name"] for s in repo["schedules"]] == ["unfinished_work_schedule"]
        assert "pipeline_job" in {j["name"] for j in repo["jobs"]}
    finally:
        server.terminate()
        server.wait(timeout=30)
