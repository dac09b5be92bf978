"""Where the warehouse lives: one DuckDB file (the default) or a DuckLake.

`PIPELINE_WAREHOUSE` chooses:

- `file` (or unset): the DuckDB file `PIPELINE_DB`;
- `ducklake:sqlite:PATH`: a DuckLake whose catalog is the SQLite file PATH, for many readers and
  writers on one machine;
- `ducklake:postgres:CONNINFO`: a DuckLake whose catalog is a PostgreSQL database (libpq
  key=value words, e.g. `dbname=lake host=db.internal user=pipeline`; the password comes from
  `PGPASSWORD` or `~/.pgpass`, never from this variable), for a team on several hosts.

A lake's Parquet files go to `PIPELINE_LAKE_DATA` (a folder, or object storage such as
`s3://bucket/lake/`), by default `data/lake/` next to the project's warehouse. In lake mode
`PIPELINE_DB` still names a local path: the spool beside it and the BM25 search index
(`<stem>.search/`, derived from the lake) live there.

`PIPELINE_DUCKDB_MEMORY` caps the memory DuckDB takes for the file (default 256 MiB): beyond it
DuckDB writes to `<stem>.duckdb.tmp/` instead, so a process's memory does not grow with the
warehouse it caches and the work it sorts (issue 37).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.envvars import ConfigError
from pipeline.object_store import ObjectStoreCredentials

DEFAULT_DUCKDB_MEMORY = "256MiB"
_MEMORY_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT])(i?)B", re.I)
_MIN_DUCKDB_MEMORY = 64 << 20
_SECRET_WORD = re.compile(r"\b(password|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.I)
REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "r2://", "az://", "abfss://", "http://", "https://")


@dataclass(frozen=True)
class Lake:
    backend: str
    """`sqlite` or `postgres`: the catalog database."""
    catalog: str
    """The SQLite file's absolute path, or the PostgreSQL conninfo."""
    data_path: str
    credentials: ObjectStoreCredentials | None = field(default=None, compare=False, repr=False)
    """For data on object storage; not part of the lake's identity."""

    @property
    def attach_target(self) -> str:
        return f"ducklake:{self.backend}:{self.catalog}"

    @property
    def remote_data(self) -> bool:
        return self.data_path.startswith(REMOTE_SCHEMES)

    def describe(self) -> str:
        """For logs and messages: a password written into the conninfo is never shown."""
        catalog = _SECRET_WORD.sub(r"\1=***", self.catalog)
        return f"DuckLake ({self.backend} catalog {catalog}, data {self.data_path})"


@dataclass(frozen=True)
class Warehouse:
    path: Path
    """The DuckDB file; in lake mode the local anchor of the spool and the search index."""
    lake: Lake | None = None
    duckdb_memory: str = field(default=DEFAULT_DUCKDB_MEMORY, compare=False)
    """DuckDB's `memory_limit` for the file, a size such as `256MiB`; not the file's identity."""

    @classmethod
    def of(cls, target: Warehouse | str | Path) -> Warehouse:
        return target if isinstance(target, Warehouse) else cls(Path(target))

    @property
    def search_index(self) -> Path:
        """The directory of the BM25 index (tantivy) beside the DuckDB file; on a lake, this
        host's own index of the lake's documents."""
        return self.path.with_name(f"{self.path.stem}.search")

    def describe(self) -> str:
        return str(self.path) if self.lake is None else self.lake.describe()


def warehouse_from_env(
    environ: Mapping[str, str],
    db_path: Path,
    project_data: Path,
    credentials: ObjectStoreCredentials | None = None,
) -> Warehouse:
    """The warehouse `PIPELINE_WAREHOUSE` names; one line naming the variable when it is wrong."""
    memory = duckdb_memory(environ)
    choice = (environ.get("PIPELINE_WAREHOUSE") or "file").strip()
    if choice == "file":
        return Warehouse(db_path, duckdb_memory=memory)
    prefix, _, rest = choice.partition(":")
    backend, _, catalog = rest.partition(":")
    if prefix != "ducklake" or backend not in ("sqlite", "postgres") or not catalog.strip():
        raise ConfigError(
            "PIPELINE_WAREHOUSE must be `file`, `ducklake:sqlite:PATH` or "
            "`ducklake:postgres:CONNINFO`"
        )
    if backend == "postgres" and _SECRET_WORD.search(catalog):
        raise ConfigError(
            "PIPELINE_WAREHOUSE must not carry a password: set PGPASSWORD (or use ~/.pgpass)"
        )
    if backend == "sqlite":
        catalog = str(Path(catalog).expanduser().resolve())
    data_path = environ.get("PIPELINE_LAKE_DATA") or str(project_data / "lake")
    if not data_path.startswith(REMOTE_SCHEMES):
        data_path = str(Path(data_path).expanduser().resolve())
    if not data_path.endswith("/"):
        data_path += "/"
    return Warehouse(
        db_path, Lake(backend, catalog.strip(), data_path, credentials), duckdb_memory=memory
    )


def duckdb_memory(environ: Mapping[str, str]) -> str:
    """PIPELINE_DUCKDB_MEMORY as DuckDB reads it; a size DuckDB would refuse, or one too small
    to commit a chunk, is refused here, before any work."""
    raw = (environ.get("PIPELINE_DUCKDB_MEMORY") or "").strip()
    if not raw:
        return DEFAULT_DUCKDB_MEMORY
    size = _MEMORY_SIZE.fullmatch(raw)
    if size:
        number, prefix, binary = size.groups()
        power = "KMGT".index(prefix.upper()) + 1
        if float(number) * (1024 if binary else 1000) ** power >= _MIN_DUCKDB_MEMORY:
            return raw
    raise ConfigError(
        f"PIPELINE_DUCKDB_MEMORY must be a size of at least 64MiB, such as 256MiB or 2GB, "
        f"got {raw!r}"
    )
