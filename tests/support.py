"""Test helpers shared across folders."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.settings import PROJECT_ROOT

_HOLD = """
import sys, time, duckdb
while True:
    try:
        conn = duckdb.connect(sys.argv[1], read_only=sys.argv[3] == "read_only")
        break
    except duckdb.IOException:
        time.sleep(0.05)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def new_dagster_home(root: Path, name: str = "dagster_home", *, fresh: bool = False) -> Path:
    """A new Dagster home in `root`, configured exactly like the project's own, as a deployment's
    is after its first run opened it: Dagster's SQLite storages created and migrated, no run yet.
    With `fresh`, a never-used home instead (the shipped dagster.yaml alone), for a test about
    that first open.

    The storages are copied from a home of this test process's own that Dagster opened once:
    creating them takes every first run a second or two, which would otherwise be paid again by
    every test."""
    home = root / name
    if fresh:
        home.mkdir()
        shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    else:
        shutil.copytree(_initialised_home(), home)
    return home


@functools.cache
def _initialised_home() -> Path:
    """A home Dagster has opened (and closed) once, in a folder removed when this process ends."""
    folder = Path(tempfile.mkdtemp(prefix="dagster-home-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    home = new_dagster_home(folder, fresh=True)
    dg.DagsterInstance.from_config(str(home)).dispose()
    return home


def sqlite_lake_env(folder: Path) -> dict[str, str]:
    """The settings of a DuckLake in `folder`: its SQLite catalog and its Parquet files."""
    return {
        "PIPELINE_WAREHOUSE": f"ducklake:sqlite:{folder / 'catalog.sqlite'}",
        "PIPELINE_LAKE_DATA": str(folder / "files"),
    }


def hold_database(path: Path, seconds: float, *, read_only: bool = False) -> subprocess.Popen[str]:
    """Another process with the DuckDB file open for writing, as a person's SQL shell would, or
    for reading, as a notebook would.

    It retries until the file is free, as the pipeline only ever holds it briefly."""
    mode = "read_only" if read_only else "write"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


# The emulator answers at once in the tests' profile: 5 requests/s, the shipped default, would
# make every run wait on its own rate. A test about the rate sets COZE_RPS itself.
TEST_RPS = "100"


def pipeline_env(dagster_home: Path, coze_url: str, **settings: str) -> dict[str, str]:
    """This process's environment for a pipeline subprocess: a test instance, the emulator, and
    no token unless `settings` gives one (a developer's own must never reach a test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COZE_")}
    return {
        **env,
        "DAGSTER_HOME": str(dagster_home),
        "COZE_BASE_URL": coze_url,
        "COZE_RPS": TEST_RPS,
        **settings,
    }


class PipelineProcess:
    """`python -m pipeline run` in a subprocess whose output a test can wait on, then kill."""

    def __init__(self, links: Path, db: Path, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self._arrived = threading.Condition()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--links",
                str(links),
                "--db",
                str(db),
                *args,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._arrived:
                self.lines.append(line)
                self._arrived.notify_all()
        with self._arrived:
            self._arrived.notify_all()

    @property
    def output(self) -> str:
        with self._arrived:
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Block until a line containing `text` is printed; fail if the run ends or stalls first."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"never printed {text!r}:\n{''.join(self.lines)}")
                self._arrived.wait(min(left, 1.0))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._reader.join(timeout=10)

    def finish(self, timeout: float = 300) -> int:
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return self.process.returncode


def rsa_key_pair() -> tuple[str, str]:
    """A new RSA key pair as PEM text (private, public), as a Coze JWT app's keys are made."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


def files_containing(secret: str, *roots: Path) -> list[Path]:
    """Every file under `roots` whose bytes hold `secret` (as UTF-8), binary files included."""
    needle = secret.encode()
    found: list[Path] = []
    for root in roots:
        paths = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        found += [path for path in paths if needle in path.read_bytes()]
    return found


def latest_check_results(dagster_home: Path) -> dict[str, bool]:
    """The asset checks of the instance's most recent run, by name."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        evaluations = [r.dagster_event.event_specific_data for r in records if r.dagster_event]
    return {e.check_name: e.passed for e in evaluations}
