"""Resources: where the warehouse and link files live, and how to reach Coze."""

import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg

from pipeline.coze.auth import ENV_KEY, JwtApp
from pipeline.coze.budget import CallBudget
from pipeline.coze.client import CozeClient
from pipeline.coze.config import TEXT_ENV, CozeSettings
from pipeline.defs.partitions import batch_file
from pipeline.links import link_file_problem
from pipeline.media.content import KINDS, Kind
from pipeline.media.download import Limits
from pipeline.media.store import MediaStore, open_store
from pipeline.object_store import ObjectStoreCredentials
from pipeline.scrub import MASK
from pipeline.settings import Settings
from pipeline.steps.media import MediaFetcher
from pipeline.storage.db import connect
from pipeline.storage.location import DEFAULT_DUCKDB_MEMORY, Lake, Warehouse
from pipeline.storage.media_rows import MediaRecorder
from pipeline.storage.recorder import Recorder
from pipeline.storage.snapshot import after_write, publish


class ObjectStoreConfig(dg.Config):
    """The AWS_* credentials of object storage; the secret parts as `EnvVar`s, so neither run
    config nor the UI holds them."""

    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def of(cls, credentials: ObjectStoreCredentials | None) -> "ObjectStoreConfig | None":
        if credentials is None:
            return None
        return cls(
            access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
            region=credentials.region,
            session_token=dg.EnvVar("AWS_SESSION_TOKEN") if credentials.session_token else None,
            endpoint_url=credentials.endpoint_url,
        )

    def credentials(self) -> ObjectStoreCredentials:
        return ObjectStoreCredentials(
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            region=self.region,
            session_token=self.session_token,
            endpoint_url=self.endpoint_url,
        )


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file, or a DuckLake (`lake_backend` set; `path` then anchors the spool and the
    local search index). Connections are opened per short transaction, never held across API
    work."""

    path: str
    lake_backend: str = ""
    lake_catalog: str = ""
    lake_data_path: str = ""
    object_store: ObjectStoreConfig | None = None
    lock_wait_seconds: float = 600.0
    max_attempts: int = 3
    duckdb_memory: str = DEFAULT_DUCKDB_MEMORY

    @classmethod
    def of(cls, settings: Settings) -> "WarehouseResource":
        lake = settings.warehouse.lake
        return cls(
            path=str(settings.warehouse.path),
            lake_backend=lake.backend if lake else "",
            lake_catalog=lake.catalog if lake else "",
            lake_data_path=lake.data_path if lake else "",
            object_store=ObjectStoreConfig.of(lake.credentials if lake else None),
            lock_wait_seconds=settings.lock_wait_seconds,
            max_attempts=settings.max_attempts,
            duckdb_memory=settings.warehouse.duckdb_memory,
        )

    @property
    def location(self) -> Warehouse:
        credentials = self.object_store.credentials() if self.object_store else None
        lake = (
            Lake(self.lake_backend, self.lake_catalog, self.lake_data_path, credentials)
            if self.lake_backend
            else None
        )
        return Warehouse(Path(self.path), lake, self.duckdb_memory)

    def connect(
        self,
        *,
        read_only: bool = False,
        wait: bool = True,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        return connect(
            self.location,
            read_only=read_only,
            wait_seconds=self.lock_wait_seconds if wait else 0.0,
            logger=logger,
        )

    def publish(
        self, logger: logging.Logger | logging.LoggerAdapter, *, wait: bool = True
    ) -> dict[str, object]:
        """At the end of a step that wrote: a new read-only snapshot of the file, or the lake's
        small files compacted (`pipeline.storage.snapshot.after_write`), as the step's
        metadata. Never fails the step."""
        done = after_write(self.location, self.lock_wait_seconds if wait else 0.0, logger)
        return {
            name: dg.MetadataValue.path(str(value)) if isinstance(value, Path) else value
            for name, value in done.items()
        }

    @contextmanager
    def published_on_failure(
        self, logger: logging.Logger | logging.LoggerAdapter
    ) -> Iterator[None]:
        """A writing step that fails publishes what the run stored so far, as `read_snapshot`
        will not run; at once or not at all, so a step that failed waiting for a locked
        warehouse does not wait for it again."""
        try:
            yield
        except BaseException:
            self.publish(logger, wait=False)
            raise

    def recorder(self, logger: logging.Logger | logging.LoggerAdapter) -> Recorder:
        """On the file, a long Coze step also refreshes the readers' snapshot now and then; a
        lake's readers see every commit as it lands."""
        location = self.location
        return Recorder(
            location,
            max_attempts=self.max_attempts,
            lock_wait_seconds=self.lock_wait_seconds,
            logger=logger,
            publish=None
            if location.lake
            else partial(publish, warehouse=location.path, logger=logger),
        )


class MissingLinkFileError(FileNotFoundError):
    """A batch whose file is gone: one line for the person who sees the failed run."""


class LinkFilesResource(dg.ConfigurableResource):
    """The folder of link files the sensor watches; a batch key names a file in it, or any
    other file by its path (`pipeline.defs.partitions.batch_key`)."""

    directory: str

    @classmethod
    def of(cls, settings: Settings) -> "LinkFilesResource":
        return cls(directory=str(settings.links_dir))

    def path(self, batch: str) -> Path:
        path = batch_file(batch, Path(self.directory))
        if path is not None and path.exists():
            if problem := link_file_problem(path):
                raise MissingLinkFileError(f"batch {batch!r}: {problem}")
            return path
        raise MissingLinkFileError(
            f"batch {batch!r} has no link file (looked for {path or batch}): it was moved or "
            "deleted, or the partition was added by hand. Put the file back, or delete the "
            "partition (the link-files sensor removes those of deleted files)"
        )

    def exists(self, batch: str) -> bool:
        try:
            self.path(batch)
        except MissingLinkFileError:
            return False
        return True

    def files(self) -> list[Path]:
        return sorted(p for p in Path(self.directory).glob("*.txt") if p.is_file())


class DictionaryResource(dg.ConfigurableResource):
    """The folder of the deployment's own user dictionary and stop words
    (`pipeline.text.segment`); the shipped files stand in for any it lacks."""

    directory: str

    @classmethod
    def of(cls, settings: Settings) -> "DictionaryResource":
        return cls(directory=str(settings.dictionary_dir))

    @property
    def path(self) -> Path:
        return Path(self.directory)


class MediaResource(dg.ConfigurableResource):
    """The media archive (PIPELINE_MEDIA*): what to save, where, and how many connections per
    media host."""

    kinds: list[str]
    location: str
    staging: str
    max_bytes: int
    connections: int
    object_store: ObjectStoreConfig | None = None

    @classmethod
    def of(cls, settings: Settings) -> "MediaResource":
        media = settings.media
        remote = media.location.startswith("s3://")
        return cls(
            kinds=list(media.kinds),
            location=media.location,
            staging=str(media.staging),
            max_bytes=media.max_bytes,
            connections=media.connections,
            object_store=ObjectStoreConfig.of(settings.object_store) if remote else None,
        )

    @property
    def wanted(self) -> tuple[Kind, ...]:
        return tuple(kind for kind in KINDS if kind in self.kinds)

    def store(self) -> MediaStore:
        credentials = self.object_store.credentials() if self.object_store else None
        return open_store(self.location, credentials=credentials, staging=Path(self.staging))

    def fetcher(
        self,
        warehouse: WarehouseResource,
        logger: logging.Logger | logging.LoggerAdapter,
        saved: Mapping[str, Collection[str]] | None = None,
    ) -> MediaFetcher:
        recorder = MediaRecorder(
            warehouse.location, lock_wait_seconds=warehouse.lock_wait_seconds, logger=logger
        )
        limits = Limits(max_bytes=self.max_bytes, connections_per_host=self.connections)
        return MediaFetcher(self.store(), limits, recorder, logger, kinds=self.wanted, saved=saved)


SECRET_FIELDS = ("api_token", "poll_token", "jwt_private_key")
# The settings a deployment may change, shown as the resource's config in the Dagster UI.
# Their defaults and rules live once, in `CozeSettings`; tokens are given as `EnvVar`s.
SETTING_FIELDS = (
    "base_url",
    "metadata_workflow_id",
    "transcript_workflow_id",
    "rps",
    "max_in_flight",
    "http_attempts",
)


class CozeResource(dg.ConfigurableResource):
    """Coze access. Tokens come from the environment (`EnvVar`), never from stored config."""

    base_url: str
    api_token: str | None = None
    poll_token: str | None = None
    # A JWT app (when no api_token): the key as an `EnvVar`, or the path of its file.
    jwt_client_id: str | None = None
    jwt_public_key_id: str | None = None
    jwt_private_key: str | None = None
    jwt_private_key_file: str | None = None
    metadata_workflow_id: str
    transcript_workflow_id: str
    rps: float | None = None
    max_in_flight: int | None = None
    http_attempts: int
    poll_budget_seconds: float = 900.0
    max_calls: int | None = None

    @classmethod
    def of(cls, settings: Settings) -> "CozeResource":
        """Tokens and the JWT key as `EnvVar`s of the variables they came from."""
        coze = settings.coze
        app = coze.jwt_app
        return cls(
            **{name: getattr(coze, name) for name in SETTING_FIELDS},
            api_token=dg.EnvVar(TEXT_ENV["api_token"]) if coze.api_token else None,
            poll_token=dg.EnvVar(TEXT_ENV["poll_token"]) if coze.poll_token else None,
            jwt_client_id=app.client_id if app else None,
            jwt_public_key_id=app.public_key_id if app else None,
            jwt_private_key=dg.EnvVar(ENV_KEY) if app and not app.key_file else None,
            jwt_private_key_file=app.key_file if app else None,
            poll_budget_seconds=settings.poll_budget_seconds,
            max_calls=settings.max_calls,
        )

    def __repr_args__(self) -> Any:
        """The secrets, once Dagster has resolved their `EnvVar`s, masked in repr and str."""
        return [(k, MASK if k in SECRET_FIELDS and v else v) for k, v in super().__repr_args__()]

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Tag the run with the endpoint, however it was launched: `pipeline_job` carries the
        tags from its definition, but Materialize and backfills in the UI run Dagster's implicit
        asset job, which has no tags of ours."""
        run, instance = context.run, context.instance
        tags = self.settings().endpoint_tags
        if run is not None and instance is not None and tags.items() - run.tags.items():
            instance.add_run_tags(run.run_id, tags)

    def settings(self) -> CozeSettings:
        return CozeSettings(
            **{name: getattr(self, name) for name in SETTING_FIELDS},
            api_token=self.api_token,
            poll_token=self.poll_token,
            jwt_app=JwtApp.from_values(
                self.jwt_client_id,
                self.jwt_public_key_id,
                self.jwt_private_key,
                self.jwt_private_key_file,
            ),
        )

    def client(self, budget: CallBudget | None = None) -> CozeClient:
        return CozeClient(self.settings(), budget=budget)
