"""Re-keying: `links` rows read by an older parser get what the current parser makes of their
`raw_text`, and the answers, jobs and state of a changed `video_key` follow it, so a video the
parser now recognises in two forms holds one key and is not fetched and paid for twice.

An old key that now names several videos (every YouTube playlist embed was once one key) is a
split: its lines get their new keys, its answers stay where they are, since nothing says which
video they were for; those videos are fetched again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.links.vectorized import parse_lines
from pipeline.schema.transaction import transaction
from pipeline.storage.frames import merge_by_key, registered

PARSED_COLUMNS = ("url", "platform", "video_id", "canonical_url", "video_key", "error")


@dataclass(frozen=True)
class RekeyCounts:
    lines: int  # links rows rewritten
    moved: int  # old keys whose answers now sit under a new key
    split: int  # old keys that now name several videos (answers left in place)


def rekey(conn: duckdb.DuckDBPyConnection) -> RekeyCounts:
    """Re-parse every `links` row and move what changed, in one transaction.

    A moved key's item_state rows are carried over; `tables.rebuild_all` then derives the state
    of merged keys from the moved answers, so run it after, as `python -m pipeline rebuild` does.
    """
    stored = conn.execute(
        f"SELECT batch, line_no, raw_text, {', '.join(PARSED_COLUMNS)} FROM links"
    ).pl()
    if stored.is_empty():
        return RekeyCounts(0, 0, 0)
    parsed = parse_lines(stored.get_column("raw_text").to_list()).select(
        pl.col("line_no").alias("row"), *[pl.col(c).alias(f"new_{c}") for c in PARSED_COLUMNS]
    )
    both = stored.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    both = both.join(parsed, on="row", how="inner")
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"new_{c}")) for c in PARSED_COLUMNS)
    changed = both.filter(differs).select(
        "batch", "line_no", *[pl.col(f"new_{c}").alias(c) for c in PARSED_COLUMNS]
    )
    targets = (
        both.filter(pl.col("video_key").is_not_null() & pl.col("new_video_key").is_not_null())
        .group_by(pl.col("video_key").alias("old_key"))
        .agg(pl.col("new_video_key").unique().alias("new_keys"))
    )
    split = targets.filter(pl.col("new_keys").list.len() > 1).height
    moves = (
        targets.filter(pl.col("new_keys").list.len() == 1)
        .select("old_key", pl.col("new_keys").list.first().alias("new_key"))
        .filter(pl.col("old_key") != pl.col("new_key"))
    )
    if changed.is_empty():
        return RekeyCounts(0, 0, split)
    with (
        transaction(conn),
        registered(conn, "_relinked", changed),
        registered(conn, "_rekey", moves),
    ):
        _apply(conn)
    return RekeyCounts(changed.height, moves.height, split)


def _apply(conn: duckdb.DuckDBPyConnection) -> None:
    """item_state's key is part of its primary key: moved by insert and delete, not UPDATE, and
    of the states of keys merged into one the latest stands in until the ledger's rebuild."""
    assignments = ", ".join(f"{c} = r.{c}" for c in PARSED_COLUMNS)
    conn.execute(
        f"UPDATE links SET {assignments} FROM _relinked r "
        "WHERE links.batch = r.batch AND links.line_no = r.line_no"
    )
    for table in ("raw_responses", "transcript_jobs"):
        conn.execute(
            f"UPDATE {table} SET video_key = m.new_key FROM _rekey m "
            f"WHERE {table}.video_key = m.old_key"
        )
    columns = "step, status, attempts, error_code, error_message, updated_at"
    merge_by_key(
        conn,
        "item_state",
        f"SELECT video_key, {columns} FROM ("
        f"SELECT m.new_key AS video_key, {columns} FROM item_state s "
        "JOIN _rekey m ON s.video_key = m.old_key "
        f"UNION ALL SELECT video_key, {columns} FROM item_state "
        "WHERE video_key IN (SELECT new_key FROM _rekey)) "
        "QUALIFY row_number() OVER (PARTITION BY video_key, step ORDER BY updated_at DESC) = 1",
    )
    conn.execute("DELETE FROM item_state WHERE video_key IN (SELECT old_key FROM _rekey)")
