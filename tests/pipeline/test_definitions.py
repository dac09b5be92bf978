"""The code location as Dagster's own tooling loads it: `workspace.yaml` must validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.coze.auth import JwtApp
from pipeline.definitions import build_definitions
from pipeline.defs.resources import CozeResource
from pipeline.settings import PROJECT_ROOT, Settings
from tests.support import rsa_key_pair


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


def test_a_jwt_app_reaches_the_coze_resource_as_names_never_as_its_key(tmp_path: Path) -> None:
    """Dagster stores a resource's config: the key is an `EnvVar` (its name) or a file's path,
    and a resolved resource masks its secrets in repr."""
    private_key, _ = rsa_key_pair()
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key, encoding="utf-8")
    app = {"COZE_JWT_OAUTH_CLIENT_ID": "1234567", "COZE_JWT_OAUTH_PUBLIC_KEY_ID": "kid_1"}
    env = {"PIPELINE_DB": str(tmp_path / "w.duckdb"), "PIPELINE_LINKS_DIR": str(tmp_path), **app}
    by_text = build_definitions(
        Settings.from_env({**env, "COZE_JWT_OAUTH_PRIVATE_KEY": private_key})
    )
    by_file = build_definitions(
        Settings.from_env({**env, "COZE_JWT_OAUTH_PRIVATE_KEY_FILE": str(key_file)})
    )
    text_coze, file_coze = by_text.resources["coze"], by_file.resources["coze"]
    assert text_coze.jwt_private_key == "COZE_JWT_OAUTH_PRIVATE_KEY"
    assert text_coze.jwt_private_key_file is None
    assert file_coze.jwt_private_key is None and file_coze.jwt_private_key_file == str(key_file)
    assert file_coze.settings().jwt_app == JwtApp("1234567", "kid_1", private_key)
    resolved = CozeResource(**{**file_coze.model_dump(), "jwt_private_key": private_key})
    key_line = private_key.splitlines()[2]
    assert key_line not in repr(resolved) and key_line not in str(resolved)
