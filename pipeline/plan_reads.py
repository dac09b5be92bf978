"""The DuckDB side of `plan`: a link file's distinct keys, and what the warehouse knows of them.

Both stay in DuckDB: Python sees a block of keys at a time, and counts per state back.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import polars as pl

from pipeline.plan import LinkCounts, VideoFacts, WarehouseView
from pipeline.status import JobStatus
from pipeline.storage.frames import registered


def stage_link_keys(conn: duckdb.DuckDBPyConnection, frames: Iterable[pl.DataFrame]) -> LinkCounts:
    """Count the parser's frames, leaving their distinct usable keys in the temp table
    `_plan_keys` of `conn`: only a block's keys are ever in Python, and only once each."""
    conn.execute("CREATE OR REPLACE TEMP TABLE _plan_keys_seen (video_key VARCHAR)")
    lines = usable = 0
    for frame in frames:
        keys = frame.select(pl.col("video_key").drop_nulls())
        lines += frame.height
        usable += keys.height
        with registered(conn, "_block_keys", keys.unique()):
            conn.execute("INSERT INTO _plan_keys_seen SELECT video_key FROM _block_keys")
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _plan_keys AS SELECT DISTINCT video_key FROM _plan_keys_seen"
    )
    conn.execute("DROP TABLE _plan_keys_seen")
    (distinct,) = conn.execute("SELECT count(*) FROM _plan_keys").fetchone() or (0,)
    return LinkCounts(lines=lines, usable=usable, distinct=distinct)


def read_warehouse(
    conn: duckdb.DuckDBPyConnection, keys: duckdb.DuckDBPyConnection
) -> WarehouseView:
    """The batch's videos counted by state, its running jobs, and the poll history of all
    finished jobs.

    The batch's keys are `_plan_keys` of `keys` (`stage_link_keys`), streamed into a temp table
    of `conn`, which a read-only connection allows. A file without the tables (never written by
    the pipeline) reads as an empty warehouse.
    """
    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name IN ('item_state', 'transcript_jobs', 'media_files')"
        ).fetchall()
    }
    if not {"item_state", "transcript_jobs"} <= tables:
        return WarehouseView.empty()
    conn.register(
        "_plan_keys_in", keys.execute("SELECT video_key FROM _plan_keys").to_arrow_reader()
    )
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE _plan_keys AS SELECT * FROM _plan_keys_in")
    finally:
        conn.unregister("_plan_keys_in")
    media = (
        "SELECT video_key, list({'kind': kind, 'status': status} ORDER BY kind) AS files "
        "FROM media_files WHERE video_key IN (SELECT video_key FROM _plan_keys) GROUP BY 1"
        if "media_files" in tables
        else "SELECT NULL::VARCHAR AS video_key, NULL AS files WHERE false"
    )
    videos = {
        VideoFacts(meta, trans, tuple((f["kind"], f["status"]) for f in files or ())): n
        for meta, trans, files, n in conn.execute(
            f"WITH media AS ({media}) "
            "SELECT m.status, t.status, md.files, count(*) FROM _plan_keys k "
            "LEFT JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata' "
            "LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript' "
            "LEFT JOIN media md ON md.video_key = k.video_key GROUP BY ALL"
        ).fetchall()
    }
    (running,) = conn.execute(
        f"SELECT count(*) FROM transcript_jobs WHERE status = '{JobStatus.RUNNING}' "
        "AND video_key IN (SELECT video_key FROM _plan_keys)"
    ).fetchone() or (0,)
    finished, polls = conn.execute(
        "SELECT count(*), coalesce(sum(poll_count), 0) FROM transcript_jobs "
        f"WHERE status IN ('{JobStatus.SUCCESS}', '{JobStatus.FAIL}')"
    ).fetchone() or (0, 0)
    return WarehouseView(videos, running, finished, int(polls))
