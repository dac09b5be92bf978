"""The code location as Dagster's own tooling loads it: `workspace.yaml` must validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.settings import PROJECT_ROOT


def test_workspace_validates(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {
        "PATH": str(dagster.parent),
        "DAGSTER_HOME": str(tmp_path),
        "PIPELINE_DB": str(tmp_path / "w.duckdb"),
        "PIPELINE_LINKS_DIR": str(tmp_path / "links"),
    }
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_a_broken_location_fails_validation(tmp_path: Path) -> None:
    """The check above can fail: a workspace naming a module that does not load."""
    dagster = Path(sys.executable).parent / "dagster"
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: pipeline.no_such_module\n"
        f"      working_directory: {PROJECT_ROOT}\n"
    )
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(workspace)],
        cwd=PROJECT_ROOT,
        env={"PATH": str(dagster.parent), "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
