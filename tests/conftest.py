"""Fixtures shared by the pipeline tests: a real emulator over loopback, real DuckDB, real Dagster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.pipeline.helpers import Project
from tests.support import new_dagster_home

pytest_plugins = ["tests.postgres", "tests.s3"]  # the `postgres_server` and `s3_bucket` fixtures


@contextmanager
def environ_set(name: str, value: str) -> Iterator[None]:
    """`name` set for this test process (and the subprocesses its tests start), then restored."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


@pytest.fixture(autouse=True, scope="session")
def worker_dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Dagster instance of this test process's own (each xdist worker has one), for the tests
    that take no `dagster_home`: none writes to the repository's .dagster or shares storage."""
    home = new_dagster_home(tmp_path_factory.mktemp("worker"))
    with environ_set("DAGSTER_HOME", str(home)):
        yield home


@pytest.fixture(autouse=True, scope="session")
def worker_media_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Media saved by any test (and the subprocesses it starts) goes to this worker's own
    folder, never into the repository's data/media."""
    folder = tmp_path_factory.mktemp("media")
    with environ_set("PIPELINE_MEDIA_DIR", str(folder)):
        yield folder


@pytest.fixture
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.3)) as process:
        yield process


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh instance configured exactly like the project's own."""
    home = new_dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def project(tmp_path: Path, emulator: EmulatorProcess) -> Project:
    return Project(tmp_path, emulator)
