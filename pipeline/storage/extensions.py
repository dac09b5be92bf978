"""DuckDB extensions, loaded from their pinned wheels: never downloaded, never autoloaded; and
SQL literals for the statements that take no parameters (ATTACH, LOAD, COPY … TO, CREATE SECRET).

Each `duckdb-extension-*` wheel carries the binary for exactly one duckdb release, which is why
pyproject pins them together with duckdb.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

# Extension name -> the module of the wheel that ships it.
_WHEELS = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}


def extension_path(name: str) -> Path:
    module = importlib.import_module(_WHEELS[name])
    folder = Path(module.__file__ or "").parent / "extensions" / f"v{duckdb.__version__}"
    path = folder / f"{name}.duckdb_extension"
    if not path.exists():
        raise RuntimeError(
            f"no {name} extension for duckdb {duckdb.__version__} in {folder}; "
            f"duckdb and {_WHEELS[name].replace('_', '-')} must be pinned to the same version"
        )
    return path


def load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("SET autoload_known_extensions = false")
    conn.execute(f"LOAD {sql_literal(str(extension_path(name)))}")


def sql_literal(text: str) -> str:
    """A value as a quoted SQL literal, a quote in it doubled."""
    return "'" + text.replace("'", "''") + "'"
