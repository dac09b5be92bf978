"""What the emulator does: one frozen config of timing, faults and account limits.

Every field is also a command-line flag (`argv()` and `add_arguments()` are built from the
fields, so the two cannot drift apart), and `POST /_emulator/config` replaces fields live.
"""

from __future__ import annotations

import argparse
import random
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

AnswerKind = Literal["metadata", "submit", "poll"]
RATE_FIELDS = ("fail_rate", "error_rate", "trim_rate", "transient_rate", "poll_transient_rate")


@dataclass(frozen=True)
class Timing:
    """Uniform (low, high) seconds per kind of answer, and how long a transcript job runs.

    A refused request (an error answer that runs nothing) takes a poll's time."""

    metadata: tuple[float, float]
    submit: tuple[float, float]
    poll: tuple[float, float]
    job: tuple[float, float]


PROFILES: dict[str, Timing] = {
    # docs/coze.md: sync workflows that fetch a page take seconds; the recorded
    # transcript job took 31 s. Submits and polls run nothing, so they answer in well under 1 s.
    "realistic": Timing(metadata=(1.5, 4.5), submit=(0.2, 0.5), poll=(0.05, 0.2), job=(15, 45)),
    # The tests' emulator: no added latency, jobs done in 0.3 s.
    "fast": Timing(metadata=(0, 0), submit=(0, 0), poll=(0, 0), job=(0.3, 0.3)),
}


def _opt(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"help": doc})


@dataclass(frozen=True)
class EmulatorConfig:
    profile: str = _opt("realistic", "timing: realistic (seconds, as the service) or fast")
    rps: float | None = _opt(None, "requests per second before HTTP 429 (default: no limit)")
    latency: float | None = _opt(None, "fixed seconds for every answer, overriding the profile")
    job_seconds: float | None = _opt(None, "fixed transcript job duration, overriding the profile")
    hold_jobs: bool = _opt(False, "every job stays Running while set, as on a slow day at Coze")
    fail_rate: float = _opt(0.0, "share of transcript jobs ending in Fail")
    error_rate: float = _opt(0.0, "share of requests answered HTTP 500")
    trim_rate: float = _opt(0.0, "share of transcript jobs with a cut (trimmed) output")
    transient_rate: float = _opt(0.0, "share of runs and polls answered code 4009/4102/5000")
    poll_transient_rate: float = _opt(0.0, "share of polls answered code 4009/4102/5000")
    balance_calls: int | None = _opt(None, "paid runs before every run and poll gets code 4011")
    daily_quota: int | None = _opt(None, "requests before everything gets code 4008")
    async_needs_paid_plan: bool = _opt(False, "answer code 6003 to every is_async run")
    require_token: str | None = _opt(None, "answer code 4100 unless this bearer token is sent")
    jwt_public_key: str | None = _opt(
        None,
        "PEM of an OAuth JWT app's public key, or a path to it: then every run and poll needs "
        "an access token minted by POST /api/permission/oauth2/token, else code 4100",
    )
    jwt_client_id: str | None = _opt(None, "the JWT app's client id (the JWT's iss)")
    jwt_key_id: str | None = _opt(None, "the JWT app's public key id (the JWT's kid)")
    access_token_seconds: float = _opt(900.0, "life of a minted access token, at most as asked")
    benefits_qps: float = _opt(50.0, "workflow QPS the benefits API answers (the free plan's)")
    refuse_benefits: bool = _opt(False, "answer code 4101 to the benefits API (no getBenefit)")
    drop_submits: int = _opt(0, "accept (and bill) the next N submits, then close without answer")
    sync_window: float = _opt(90.0, "seconds after which a sync run's connection is closed")
    retention_seconds: float = _opt(7 * 86400.0, "age after which a job's record is gone (4314)")
    coded_error: int | None = _opt(None, "answer this code (HTTP 200) to every call of coded_on")
    coded_on: str = _opt("metadata,submit,poll", "the kinds of call coded_error answers")
    echo_authorization: bool = _opt(
        False, "coded errors' msg repeats the request's Authorization header, as a careless proxy"
    )
    media_url_seconds: float | None = _opt(
        None, "life of the media URLs in answers (default: 1-3 h for videos, weeks for images)"
    )
    media_expired: bool = _opt(False, "answers' signed media URLs expired a minute ago (403)")
    media_html: bool = _opt(False, "the CDN answers play URLs with an HTML page, HTTP 200")
    media_short: bool = _opt(False, "the CDN cuts each media URL's first answer at half its length")
    media_trickle: float | None = _opt(None, "the CDN sends media a byte per this many seconds")
    media_bytes: int | None = _opt(None, "size of every video the CDN serves (padded MP4)")
    seed: int = _opt(0, "seed of every random draw")

    def __post_init__(self) -> None:
        """Refuse a config the emulator would misread, before a test relies on it."""
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, not {self.profile!r}")
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if self.fail_rate + self.trim_rate > 1.0:
            raise ValueError("fail_rate + trim_rate must not exceed 1")
        for name in (
            "rps",
            "latency",
            "job_seconds",
            "balance_calls",
            "daily_quota",
            "media_trickle",
            "media_bytes",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        jwt = (self.jwt_public_key, self.jwt_client_id, self.jwt_key_id)
        if any(jwt) and not all(jwt):
            raise ValueError("jwt_public_key, jwt_client_id and jwt_key_id go together")
        if self.access_token_seconds <= 0 or self.benefits_qps <= 0:
            raise ValueError("access_token_seconds and benefits_qps must be > 0")
        if self.drop_submits < 0 or self.retention_seconds < 0 or self.sync_window <= 0:
            raise ValueError("drop_submits, retention_seconds >= 0 and sync_window > 0 needed")
        if self.media_url_seconds is not None and self.media_url_seconds <= 0:
            raise ValueError("media_url_seconds must be > 0 (media_expired issues dead URLs)")
        unknown_kinds = set(self.coded_on.split(",")) - set(typing.get_args(AnswerKind))
        if unknown_kinds:
            raise ValueError(f"coded_on takes metadata, submit and poll, not {unknown_kinds}")

    def coded_error_for(self, kind: AnswerKind) -> int | None:
        """The code `coded_error` answers this kind of call with, if any."""
        return self.coded_error if kind in self.coded_on.split(",") else None

    @property
    def timing(self) -> Timing:
        return PROFILES[self.profile]

    def latency_for(self, kind: AnswerKind, rng: random.Random) -> float:
        """Seconds this answer takes: the fixed latency if set, else a draw from the profile."""
        if self.latency is not None:
            return self.latency
        low, high = getattr(self.timing, kind)
        return rng.uniform(low, high) if high > low else low

    def job_duration(self, rng: random.Random) -> float:
        if self.job_seconds is not None:
            return self.job_seconds
        low, high = self.timing.job
        return rng.uniform(low, high) if high > low else low

    def argv(self) -> list[str]:
        """The command-line flags that make `python -m pipeline.emulator` use this config."""
        args: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            flag = f"--{f.name.replace('_', '-')}"
            if value is None or value is False:
                continue
            # `--flag=value`: a value that starts with "-" (a PEM) is not taken for a flag.
            args += [flag] if value is True else [f"{flag}={value}"]
        return args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, with the field's default and help."""
    hints = typing.get_type_hints(EmulatorConfig)
    for f in fields(EmulatorConfig):
        flag = f"--{f.name.replace('_', '-')}"
        kind = next((a for a in typing.get_args(hints[f.name]) if a is not type(None)), None)
        kind = kind or hints[f.name]
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=f.metadata["help"])
        else:
            choices = sorted(PROFILES) if f.name == "profile" else None
            parser.add_argument(
                flag, type=kind, default=f.default, choices=choices, help=f.metadata["help"]
            )


def from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(**{f.name: getattr(args, f.name) for f in fields(EmulatorConfig)})
