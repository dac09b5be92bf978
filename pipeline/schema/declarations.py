"""How a table or view is declared: its columns with their docs, its key, its DDL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def ddl(self, *, keyed: bool = True) -> str:
        """`keyed=False` for a DuckLake, which has no keys: its key columns stay NOT NULL and
        writers keep them unique by MERGE (`pipeline.storage.frames.upsert`)."""
        cols = [
            f"{c.name} {c.type}{' NOT NULL' if self._not_null(c, keyed) else ''}"
            for c in self.columns
        ]
        if self.primary_key and keyed:
            cols.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  " + ",\n  ".join(cols) + "\n)"

    def _not_null(self, column: Column, keyed: bool) -> bool:
        """A key column is NOT NULL through its key, or said so where there is no key."""
        if column.name in self.primary_key:
            return not keyed
        return not column.nullable


C = Column


@dataclass(frozen=True)
class View:
    name: str
    doc: str
    sql: str
    columns: tuple[Column, ...]
