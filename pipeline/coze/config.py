"""Coze settings: the COZE_* part of `pipeline.settings`. Tokens are never part of a repr."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipeline.coze.auth import JwtApp
from pipeline.envvars import ConfigError, env_float, env_int
from pipeline.scrub import add_secret

REAL_SERVICE_HOSTS = ("api.coze.cn", "api.coze.com")
# The most an answer may hold once decompressed; the client stops reading past it, so a gzip
# bomb or an endless body costs this much memory, not gigabytes. Four bytes is the longest UTF-8
# character, so every answer within the decoder's MAX_BODY_CHARS (4,000,000) still fits.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
METADATA_WORKFLOW_ID = "7535017326866415642"
TRANSCRIPT_WORKFLOW_ID = "7535294053631819826"
# The rate when COZE_RPS is not set and the account's plan cannot be read: inside every plan.
DEFAULT_RPS = 5.0
TEXT_ENV = {
    "base_url": "COZE_BASE_URL",
    "api_token": "COZE_API_TOKEN",
    "poll_token": "COZE_POLL_TOKEN",
    "metadata_workflow_id": "COZE_METADATA_WORKFLOW_ID",
    "transcript_workflow_id": "COZE_TRANSCRIPT_WORKFLOW_ID",
}


@dataclass(frozen=True)
class CozeSettings:
    base_url: str = "https://api.coze.cn"
    api_token: str | None = field(default=None, repr=False)
    poll_token: str | None = field(default=None, repr=False)
    # Used when no api_token is set (COZE_JWT_OAUTH_*): the app mints its own access tokens.
    jwt_app: JwtApp | None = field(default=None, repr=False)
    metadata_workflow_id: str = METADATA_WORKFLOW_ID
    transcript_workflow_id: str = TRANSCRIPT_WORKFLOW_ID
    # COZE_RPS; None means the account's plan's workflow QPS, read once per run from the
    # benefits API (`pipeline.coze.plan`), else DEFAULT_RPS.
    rps: float | None = None
    # Requests in flight follow the rate and the observed latency (`RateLimiter`); this only
    # bounds them further.
    max_in_flight: int | None = None
    # Tries per request (COZE_MAX_ATTEMPTS), not PIPELINE_MAX_ATTEMPTS (runs per video).
    http_attempts: int = 5
    connect_timeout: float = 10.0
    # Submits and polls answer in under a second; a wait this long means a sick connection.
    read_timeout: float = 30.0
    # Coze keeps a sync run's connection open for 90 s before it cuts it: wait past that, or a
    # slow run is abandoned while it is still paid for.
    sync_read_timeout: float = 100.0
    # The read timeout is per read: a server trickling a byte at a time would hold a request
    # forever. A whole answer, body included, must arrive within this many read timeouts.
    deadline_factor: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> CozeSettings:
        """The COZE_* variables of `env` (`pipeline.settings` passes the process's), then
        `overrides` where not None."""
        values: dict[str, Any] = {name: env[var] for name, var in TEXT_ENV.items() if env.get(var)}
        if env.get("COZE_RPS", "").strip():
            values["rps"] = env_float(env, "COZE_RPS", DEFAULT_RPS, minimum=0, inclusive=False)
        values["jwt_app"] = JwtApp.from_env(env)
        if env.get("COZE_MAX_IN_FLIGHT"):
            values["max_in_flight"] = env_int(env, "COZE_MAX_IN_FLIGHT", 1, minimum=1)
        values["http_attempts"] = env_int(env, "COZE_MAX_ATTEMPTS", cls.http_attempts, minimum=1)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        """The same rules whether the values came from the environment or the Dagster UI; the
        tokens are masked in every text from now on."""
        add_secret(self.api_token)
        add_secret(self.poll_token)
        if (
            (self.rps is not None and self.rps <= 0)
            or (self.max_in_flight or 1) < 1
            or self.http_attempts < 1
        ):
            raise ConfigError("rps must be > 0, max_in_flight and http_attempts >= 1")
        if self.deadline_factor < 1:
            raise ConfigError("deadline_factor must be >= 1: a deadline cuts before a read does")

    @property
    def shown_base_url(self) -> str:
        """The base URL fit for a log line: without `user:password@` or a query string."""
        parts = urlsplit(self.base_url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))

    @property
    def is_real_service(self) -> bool:
        return any(host in self.base_url for host in REAL_SERVICE_HOSTS)

    @property
    def endpoint_tags(self) -> dict[str, str]:
        """What a run's page shows of whom it talks to: the host, and whether it is Coze."""
        host = urlsplit(self.shown_base_url).netloc
        return {
            "coze/endpoint": host,
            "coze/service": "coze" if self.is_real_service else "emulator or stand-in",
        }
