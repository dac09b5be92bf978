"""Every deployment setting, read from the environment and checked once per process.

The command line and the Dagster definitions both start from `Settings.from_env` and hand the
one object on (`pipeline.defs.resources` builds the resources from it); no other module reads
`os.environ`. A value that cannot be used is a `ConfigError` naming the variable, which the
command line prints as one line with exit status 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.alerts.send import webhook_url
from pipeline.coze.auth import ENV_CLIENT_ID
from pipeline.coze.config import CozeSettings
from pipeline.envvars import ConfigError, env_float, env_int
from pipeline.media.content import Kind
from pipeline.media.files import MEDIA_CHOICES
from pipeline.media.store import PARTIAL_DIR
from pipeline.object_store import ObjectStoreCredentials
from pipeline.storage.location import Warehouse, warehouse_from_env

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Any of these names a Coze service (or a stand-in someone runs); none starts the emulator.
EMULATOR_UNLESS = ("COZE_API_TOKEN", "COZE_BASE_URL", ENV_CLIENT_ID)


@dataclass(frozen=True)
class MediaSettings:
    """What the media archive saves, where, and how hard it pulls on the media hosts."""

    kinds: tuple[Kind, ...]
    """PIPELINE_MEDIA: none, images (cover and avatar) or all (and the video)."""
    location: str
    """PIPELINE_MEDIA_DIR: an absolute folder, or `s3://bucket/prefix/`."""
    staging: Path
    """Partial downloads, kept for resuming: the folder store's hidden `.partial/`, or a local
    folder beside the warehouse for object storage."""
    max_bytes: int
    connections: int
    """PIPELINE_MEDIA_CONNECTIONS: at once per media host."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], db_path: Path, data: Path) -> MediaSettings:
        choice = (env.get("PIPELINE_MEDIA") or "images").strip()
        if choice not in MEDIA_CHOICES:
            raise ConfigError(f"PIPELINE_MEDIA must be none, images or all, got {choice!r}")
        location = (env.get("PIPELINE_MEDIA_DIR") or "").strip() or str(data / "media")
        if location.startswith("s3://"):
            staging = db_path.with_name(db_path.name + ".media-partial")
        elif "://" in location:
            raise ConfigError("PIPELINE_MEDIA_DIR must be a folder or s3://bucket/prefix/")
        else:
            location = str(Path(location).expanduser().resolve())
            staging = Path(location) / PARTIAL_DIR
        return cls(
            kinds=MEDIA_CHOICES[choice],
            location=location,
            staging=staging,
            max_bytes=env_int(env, "PIPELINE_MEDIA_MAX_BYTES", 1 << 30, minimum=1),
            connections=env_int(env, "PIPELINE_MEDIA_CONNECTIONS", 4, minimum=1),
        )


@dataclass(frozen=True)
class Settings:
    db_path: Path
    warehouse: Warehouse
    """The file at `db_path`, or the DuckLake `PIPELINE_WAREHOUSE` names."""
    links_dir: Path
    max_attempts: int
    poll_budget_seconds: float
    lock_wait_seconds: float
    max_calls: int | None
    """API calls one run may send (PIPELINE_MAX_CALLS); None: no cap."""
    coze: CozeSettings
    dictionary_dir: Path
    """PIPELINE_DICTIONARY_DIR: the deployment's user dictionary and stop words, where present."""
    alert_webhook: str | None = field(repr=False)
    object_store: ObjectStoreCredentials | None = field(repr=False)
    """The AWS_* variables, for a lake's data on object storage."""
    media: MediaSettings
    dagster_home: Path
    """DAGSTER_HOME: the instance `run` and `ui` use, by default the project's `.dagster/`."""
    builtin_emulator: bool
    """No token, JWT app or COZE_BASE_URL: `run` and `ui` start the built-in emulator."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, db: str | Path | None = None
    ) -> Settings:
        """`db` is a command's `--db`, which wins over PIPELINE_DB."""
        env = os.environ if environ is None else environ
        db_path = Path(db or env.get("PIPELINE_DB") or PROJECT_ROOT / "data" / "warehouse.duckdb")
        data = PROJECT_ROOT / "data"
        object_store = ObjectStoreCredentials.from_env(env)
        return cls(
            db_path=db_path,
            warehouse=warehouse_from_env(env, db_path, data, object_store),
            links_dir=Path(env.get("PIPELINE_LINKS_DIR") or data / "links"),
            max_attempts=env_int(env, "PIPELINE_MAX_ATTEMPTS", 3, minimum=1),
            poll_budget_seconds=env_float(env, "PIPELINE_POLL_BUDGET", 900.0, minimum=0),
            lock_wait_seconds=env_float(env, "PIPELINE_LOCK_WAIT", 600.0, minimum=0),
            max_calls=env_int(env, "PIPELINE_MAX_CALLS", 0, minimum=1) or None,
            coze=CozeSettings.from_env(env),
            dictionary_dir=Path(env.get("PIPELINE_DICTIONARY_DIR") or data / "dictionary"),
            alert_webhook=webhook_url(env),
            object_store=object_store,
            media=MediaSettings.from_env(env, db_path, data),
            dagster_home=Path(env.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster"),
            builtin_emulator=not any(env.get(name) for name in EMULATOR_UNLESS),
        )
