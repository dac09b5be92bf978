"""The Dagster instance `python -m pipeline run` opens: Dagster's SQLite storage, kept connected.

Dagster's SQLite event log builds a new SQLAlchemy engine and connection for every event it
stores, about two thirds of the 7-8 ms an event costs here, and a run of the job stores about
130 of them, half before its first Coze request and half after its last. Keeping one connection
per database file for the instance's life stores an event in 1-6 ms. The files, schema, WAL
journal and locking stay Dagster's own, so the UI and the daemon, which open the same home with
Dagster's stock classes, read and write them alongside.

Only a home whose dagster.yaml leaves storage at Dagster's default gets it; a configured one
(the Postgres instance of docs/postgres.md) is opened as configured.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, SqliteStorageConfig
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

# dagster.yaml keys that choose a storage: with any of them the home is opened as configured.
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")
# Database files kept connected: the index and the few runs a process writes (its own, and
# dead runs it marks failed); older ones are closed first.
KEPT_CONNECTIONS = 8


class ConnectedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per database file.

    Every use of a connection already runs under the storage's lock (`_db_lock`), so one
    connection per file shared by the process's threads is safe.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._engines: OrderedDict[str, Engine] = OrderedDict()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        if shard in self._engines:
            self._engines.move_to_end(shard)
            return self._engines[shard]
        conn_string = self.conn_string_for_shard(shard)
        if shard not in self._initialized_dbs:
            # What Dagster does on each open, once per file: create it and its tables if new.
            first_open = create_engine(
                conn_string,
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._initdb(first_open)
            first_open.dispose()
            self._initialized_dbs.add(shard)
        engine = create_engine(
            conn_string,
            poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        self._engines[shard] = engine
        if len(self._engines) > KEPT_CONNECTIONS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _close_all(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        with self._db_lock:
            self._close_all()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._close_all()
        super().dispose()


class ConnectedSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage, its event log kept connected."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = ConnectedSqliteEventLogStorage(self._event_log_storage._base_dir)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> ConnectedSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def storage_overrides(home: Path) -> Mapping[str, Any]:
    """The instance settings that select the kept-connected storage, unless `home`'s
    dagster.yaml chooses a storage of its own."""
    config_file = home / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    if any(key in (config or {}) for key in STORAGE_KEYS):
        return {}
    storage_class = ConnectedSqliteStorage
    return {
        "storage": {
            "custom": {
                "module": storage_class.__module__,
                "class": storage_class.__name__,
                "config": {"base_dir": str(home)},
            }
        }
    }


def connected_instance(home: Path) -> dg.DagsterInstance:
    """The instance of `home`, as `DagsterInstance.get()` would open it, kept connected."""
    return dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(home), overrides=storage_overrides(home))
    )
