"""The config is the emulator's whole interface: every field a flag, every change checked."""

from __future__ import annotations

import argparse
import dataclasses

import httpx
import pytest

from pipeline.emulator import EmulatorConfig
from pipeline.emulator.config import add_arguments, from_args
from tests.emulator.helpers import emulator

EVERY_FIELD_SET = EmulatorConfig(
    profile="fast",
    rps=12.5,
    latency=0.25,
    job_seconds=4.0,
    hold_jobs=True,
    fail_rate=0.1,
    error_rate=0.2,
    trim_rate=0.3,
    transient_rate=0.05,
    poll_transient_rate=0.15,
    balance_calls=7,
    daily_quota=900,
    async_needs_paid_plan=True,
    require_token="pat_x",
    # A PEM starts with dashes: it must reach the emulator as a value, not as a flag.
    jwt_public_key="-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
    jwt_client_id="1234567890",
    jwt_key_id="kid_x",
    access_token_seconds=12.0,
    benefits_qps=37.0,
    refuse_benefits=True,
    drop_submits=2,
    sync_window=30.0,
    retention_seconds=86400.0,
    coded_error=4019,
    coded_on="submit,poll",
    echo_authorization=True,
    media_url_seconds=30.0,
    media_expired=True,
    media_html=True,
    media_short=True,
    media_trickle=0.01,
    media_bytes=2_000_000,
    seed=9,
)


def _parse(argv: list[str]) -> EmulatorConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(argv))


def test_every_field_survives_the_command_line() -> None:
    """EmulatorProcess passes the config as flags: a field lost there is a fault not injected."""
    defaults = EmulatorConfig()
    changed = [
        f.name
        for f in dataclasses.fields(EmulatorConfig)
        if getattr(EVERY_FIELD_SET, f.name) == getattr(defaults, f.name)
    ]
    assert changed == [], "the sample must change every field"
    assert _parse(EVERY_FIELD_SET.argv()) == EVERY_FIELD_SET
    assert _parse([]) == defaults and defaults.profile == "realistic"


@pytest.mark.parametrize(
    "changes",
    [
        {"profile": "slow"},
        {"fail_rate": 1.5},
        {"fail_rate": 0.6, "trim_rate": 0.6},
        {"rps": -1},
        {"jwt_client_id": "1234567890"},
        {"access_token_seconds": 0},
        {"media_url_seconds": 0},
        {"media_bytes": -1},
        {"media_trickle": -0.5},
    ],
)
def test_a_config_the_emulator_would_misread_is_refused(changes: dict[str, object]) -> None:
    """A typo must fail the test that makes it, not silently test nothing."""
    with pytest.raises(ValueError):
        dataclasses.replace(EmulatorConfig(), **changes)


def test_live_changes_are_checked() -> None:
    """set_faults with an unknown field or a bad value is a 400, and the config stays as it was."""
    with emulator(seed=3) as (process, _):
        for changes in ({"no_such_field": 1}, {"transient_rate": 2}):
            with pytest.raises(httpx.HTTPStatusError):
                process.set_faults(**changes)
        process.set_faults(balance_calls=5)
        config = process.stats()["config"]
    assert config["seed"] == 3 and config["transient_rate"] == 0.0
    assert config["balance_calls"] == 5
