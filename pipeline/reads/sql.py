"""`python -m pipeline sql "SELECT …"`: one query against the read-only snapshot, printed.

The snapshot is what readers should see (`pipeline.storage.snapshot`), so the command never
waits for or fails on a run that is writing. Formatting is pure, apart from the I/O, so it is
tested on its own: an aligned table for a person, CSV or JSON for a script.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipeline.storage.db import first_line, is_damage
from pipeline.storage.location import Warehouse
from pipeline.storage.snapshot import read_snapshot
from pipeline.terminal import printable

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")
EXIT_BAD_QUERY = 2
# A cell wider than this is cut in the table; CSV and JSON keep it whole.
CELL_WIDTH = 60


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(conn: duckdb.DuckDBPyConnection, query: str) -> Result:
    """The last statement's rows; a statement with no result set gives no columns."""
    cursor = conn.execute(query)
    if cursor.description is None:
        return Result([], [])
    return Result([column[0] for column in cursor.description], cursor.fetchall())


def render(result: Result, fmt: Format) -> str:
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    return to_table(result)


def to_json(result: Result) -> str:
    """A JSON array of objects; times, dates, decimals and UUIDs as strings a script can parse."""
    records = [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows]
    return json.dumps(records, ensure_ascii=False) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_csv(result: Result) -> str:
    """Header and rows, NULL as an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else _text(v) for v in row])
    return out.getvalue()


def _text(value: Any) -> str:
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)


def to_table(result: Result) -> str:
    """Columns aligned by display width (a Chinese character takes two cells), numbers to the
    right, cells cleaned of escape sequences and cut to `CELL_WIDTH`."""
    if not result.columns:
        return ""
    cells = [[_cell(v) for v in row] for row in result.rows]
    header = [_cell(c) for c in result.columns]
    right = [
        bool(result.rows)
        and all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in result.rows)
        for i in range(len(header))
    ]
    widths = [max(_width(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [
        _line(header, widths, [False] * len(header)),
        "-+-".join("-" * w for w in widths),
        *(_line(line, widths, right) for line in cells),
    ]
    count = len(result.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cell(value: Any) -> str:
    return "NULL" if value is None else printable(_text(value), CELL_WIDTH)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _line(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    padded = []
    for text, width, align_right in zip(cells, widths, right, strict=True):
        pad = " " * (width - _width(text))
        padded.append(pad + text if align_right else text + pad)
    return " | ".join(padded)


def main_sql(query: str, fmt: Format, warehouse: Warehouse | Path) -> int:
    """Print the query's result; a query DuckDB refuses is one line on stderr and exit 2."""
    with read_snapshot(warehouse) as reader:
        if not reader.published:
            print(
                f"nothing has been published from {Warehouse.of(warehouse).describe()} yet: the "
                "query ran on the empty "
                "schema",
                file=sys.stderr,
            )
        try:
            result = run_query(reader.conn, query)
        except duckdb.Error as error:
            if is_damage(error):  # the snapshot's bytes, not the query: one line from the reader
                raise
            print(printable(first_line(error), 2000), file=sys.stderr)
            return EXIT_BAD_QUERY
    sys.stdout.write(render(result, fmt))
    return 0
