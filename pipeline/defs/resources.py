"""Resources: where the warehouse and link files live, and how to reach Coze."""

import logging
from pathlib import Path

import dagster as dg

from pipeline.coze.budget import CallBudget
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.defs.partitions import batch_file
from pipeline.warehouse.db import connect
from pipeline.warehouse.recorder import Recorder


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file. Connections are opened per short transaction, never held across API work."""

    path: str
    lock_wait_seconds: float = 600.0
    max_attempts: int = 3

    def connect(
        self,
        *,
        read_only: bool = False,
        wait: bool = True,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        return connect(
            self.path,
            read_only=read_only,
            wait_seconds=self.lock_wait_seconds if wait else 0.0,
            logger=logger,
        )

    def recorder(self, logger: logging.Logger | logging.LoggerAdapter) -> Recorder:
        return Recorder(
            Path(self.path),
            max_attempts=self.max_attempts,
            lock_wait_seconds=self.lock_wait_seconds,
            logger=logger,
        )


class MissingLinkFileError(FileNotFoundError):
    """A batch whose file is gone: one line for the person who sees the failed run."""


class LinkFilesResource(dg.ConfigurableResource):
    """The folder of link files the sensor watches; a batch key names a file in it, or any
    other file by its path (`pipeline.defs.partitions.batch_key`)."""

    directory: str

    def path(self, batch: str) -> Path:
        path = batch_file(batch, Path(self.directory))
        if path is None or not path.is_file():
            raise MissingLinkFileError(
                f"batch {batch!r} has no link file (looked for {path or batch}): it was moved or "
                "deleted, or the partition was added by hand. Put the file back, or delete the "
                "partition (the link-files sensor removes those of deleted files)"
            )
        return path

    def exists(self, batch: str) -> bool:
        path = batch_file(batch, Path(self.directory))
        return path is not None and path.is_file()

    def files(self) -> list[Path]:
        return sorted(p for p in Path(self.directory).glob("*.txt") if p.is_file())


class CozeResource(dg.ConfigurableResource):
    """Coze access. Tokens come from the environment (`EnvVar`), never from stored config."""

    base_url: str = "https://api.coze.cn"
    api_token: str | None = None
    poll_token: str | None = None
    metadata_workflow_id: str | None = None
    transcript_workflow_id: str | None = None
    rps: float | None = None
    max_in_flight: int | None = None
    max_attempts: int | None = None
    poll_budget_seconds: float = 900.0
    max_calls: int | None = None

    def settings(self) -> CozeSettings:
        overrides = {
            key: value
            for key, value in {
                "base_url": self.base_url,
                "api_token": self.api_token,
                "poll_token": self.poll_token,
                "metadata_workflow_id": self.metadata_workflow_id,
                "transcript_workflow_id": self.transcript_workflow_id,
                "rps": self.rps,
                "max_in_flight": self.max_in_flight,
                "max_attempts": self.max_attempts,
            }.items()
            if value is not None
        }
        return CozeSettings.from_env({}, **overrides)

    def client(self, budget: CallBudget | None = None) -> CozeClient:
        return CozeClient(self.settings(), budget=budget)
