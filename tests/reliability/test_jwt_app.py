"""An OAuth JWT app through `python -m pipeline run` over real HTTP: access tokens that expire
while the batch's jobs run are renewed and the batch finishes; a token refused again after its
renewal halts the run (exit 3) naming the app; a half-configured app is a usage error (exit 2).
Neither the private key nor any access token reaches the output, the warehouse's folder or
Dagster's storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK, EXIT_USAGE
from pipeline.settings import PROJECT_ROOT
from tests.support import PipelineProcess, files_containing, pipeline_env, rsa_key_pair

CLIENT_ID = "1198765432101"
KEY_ID = "kid_reliability_app_key"
PRIVATE_KEY, PUBLIC_KEY = rsa_key_pair()
VIDEOS = [f"https://www.douyin.com/video/76{n:017d}" for n in range(4)]


def app_emulator(**switches: object) -> EmulatorProcess:
    config = EmulatorConfig(
        profile="fast",
        jwt_public_key=PUBLIC_KEY,
        jwt_client_id=CLIENT_ID,
        jwt_key_id=KEY_ID,
        **switches,  # type: ignore[arg-type]
    )
    return EmulatorProcess(config)


def run_with_app(folder: Path, dagster_home: Path, url: str, **env: str) -> tuple[int, str]:
    """One run of the batch in `folder` with the JWT app's settings and no other token."""
    links = folder / "batch.txt"
    links.write_text("\n".join(VIDEOS) + "\n", encoding="utf-8")
    environment = pipeline_env(
        dagster_home,
        url,
        COZE_JWT_OAUTH_CLIENT_ID=CLIENT_ID,
        COZE_JWT_OAUTH_PUBLIC_KEY_ID=KEY_ID,
        COZE_JWT_OAUTH_PRIVATE_KEY=PRIVATE_KEY,
        PIPELINE_POLL_BUDGET="120",
        **env,
    )
    process = PipelineProcess(links, folder / "batch.duckdb", environment)
    return process.finish(), process.output


def assert_no_secret_anywhere(output: str, access_tokens: list[str], *roots: Path) -> None:
    key_lines = [line for line in PRIVATE_KEY.splitlines() if not line.startswith("-----")]
    for secret in [PRIVATE_KEY, *key_lines, *access_tokens]:
        assert secret not in output
        assert files_containing(secret, *roots) == []


def test_access_tokens_that_expire_mid_batch_are_renewed_and_the_batch_finishes(
    tmp_path: Path, dagster_home: Path
) -> None:
    """12 s access tokens, 20 s jobs: the polls outlive the first token. No COZE_RPS either:
    the rate is the plan's, read with the app's token."""
    folder = tmp_path / "warehouse"
    folder.mkdir()
    with app_emulator(job_seconds=20, access_token_seconds=12, benefits_qps=37) as emulator:
        status, output = run_with_app(folder, dagster_home, emulator.url, COZE_RPS="")
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert "rate 37 req/s from the account's plan (benefits API)" in output
    with duckdb.connect(str(folder / "batch.duckdb"), read_only=True) as conn:
        statuses = conn.execute("SELECT transcript_status FROM link_status").fetchall()
    assert statuses == [("ok",)] * len(VIDEOS), output
    assert stats["tokens_minted"] > 1, "the first access token expired during the batch"
    assert stats["token_refusals"] == 0
    assert_no_secret_anywhere(output, stats["access_tokens"], folder, dagster_home)


def test_an_access_token_refused_again_after_renewal_halts_the_run(
    tmp_path: Path, dagster_home: Path
) -> None:
    folder = tmp_path / "warehouse"
    folder.mkdir()
    # Every request also needs a static token the app does not have: each access token is 4100.
    with app_emulator(job_seconds=1, require_token="pat_not_the_apps_token_000") as emulator:
        status, output = run_with_app(folder, dagster_home, emulator.url)
        stats = emulator.stats()
    assert status == EXIT_COZE_HALTED, output
    last = output.strip().splitlines()[-1]
    assert "code 4100" in last, last
    assert f"JWT app access token (COZE_JWT_OAUTH_CLIENT_ID={CLIENT_ID})" in last
    assert "Nothing was marked failed" in last
    assert stats["tokens_minted"] >= 2 and stats["paid_runs"] == 0
    with duckdb.connect(str(folder / "batch.duckdb"), read_only=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM item_state WHERE status = 'failed'"
        ).fetchall() == [(0,)]
    assert_no_secret_anywhere(output, stats["access_tokens"], folder, dagster_home)


def test_a_half_configured_app_is_a_usage_error(tmp_path: Path, dagster_home: Path) -> None:
    links = tmp_path / "batch.txt"
    links.write_text(VIDEOS[0] + "\n", encoding="utf-8")
    env = pipeline_env(dagster_home, "http://127.0.0.1:9", COZE_JWT_OAUTH_CLIENT_ID=CLIENT_ID)
    finished = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--links", str(links)],
        cwd=PROJECT_ROOT,
        env={**env, "PIPELINE_DB": str(tmp_path / "batch.duckdb")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == EXIT_USAGE, finished.stderr
    [line] = finished.stderr.strip().splitlines()
    assert line.startswith("COZE_JWT_OAUTH_CLIENT_ID set but not COZE_JWT_OAUTH_PUBLIC_KEY_ID")
