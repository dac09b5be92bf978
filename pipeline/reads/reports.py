"""What the run summary, the assets' metadata and the checks say about the warehouse, each
defined once. A video "failed" when its metadata or its transcript failed for good; the failure
rate is failed videos over all videos (`link_status` rows) in scope."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from pipeline.schema import column_names
from pipeline.status import MediaStatus
from pipeline.storage.frames import lookup

FAILED = "metadata_status = 'failed' OR transcript_status = 'failed'"
# Rows of a table that belong to the batches in `_report_batches`, by how the table names a video.
_BATCH_VIDEOS = "SELECT video_key FROM links WHERE batch IN (SELECT batch FROM _report_batches)"
_AUTHORS_OF_VIDEOS = (
    f"(platform, nickname) IN (SELECT platform, author_nickname FROM videos "
    f"WHERE video_key IN ({_BATCH_VIDEOS}))"
)


@dataclass(frozen=True)
class StatusCounts:
    videos: int
    metadata_ok: int
    transcripts_ok: int
    pending: int
    failed: int
    uncertain: int
    trimmed: int  # of transcripts_ok: Coze cut the output; the text before the cut is kept

    @property
    def failure_rate(self) -> float:
        return self.failed / self.videos if self.videos else 0.0


@contextmanager
def _scoped(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None
) -> Iterator[tuple[str, str]]:
    """WHERE clauses for video rows and for `links` rows: the batches', or everything."""
    if batches is None:
        yield "true", "true"
        return
    with lookup(conn, "_report_batches", "batch", batches):
        yield f"video_key IN ({_BATCH_VIDEOS})", "batch IN (SELECT batch FROM _report_batches)"


def status_counts(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None
) -> StatusCounts:
    with _scoped(conn, batches) as (videos, _):
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE metadata_status = 'ok'), "
            "count(*) FILTER (WHERE transcript_status = 'ok'), "
            "count(*) FILTER (WHERE transcript_status = 'pending'), "
            f"count(*) FILTER (WHERE {FAILED}), "
            "count(*) FILTER (WHERE transcript_status = 'uncertain'), "
            "count(*) FILTER (WHERE transcript_status = 'ok' AND t.is_trimmed) "
            f"FROM link_status LEFT JOIN transcripts t USING (video_key) WHERE {videos}"
        ).fetchone()
    return StatusCounts(*row)


def transcript_statuses(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None
) -> dict[str, int]:
    with _scoped(conn, batches) as (videos, _):
        rows = conn.execute(
            f"SELECT transcript_status, count(*) FROM link_status WHERE {videos} GROUP BY 1"
        ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class LineCounts:
    lines: int  # of the link files as they are now
    unusable: int  # of those, lines with no usable link
    unlisted: int  # lines since removed from their file, kept for their videos' paid jobs


def line_counts(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None
) -> LineCounts:
    with _scoped(conn, batches) as (_, lines):
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE listed), "
            "count(*) FILTER (WHERE listed AND error IS NOT NULL), "
            f"count(*) FILTER (WHERE NOT listed) FROM links WHERE {lines}"
        ).fetchone()
    return LineCounts(*row)


def first_videos(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None, limit: int = 5
) -> list[tuple[str, str, str, int]]:
    """(platform, title, author, transcript characters) of the earliest resolved videos."""
    with _scoped(conn, batches) as (videos, _):
        return conn.execute(
            "SELECT v.platform, v.title, v.author_nickname, coalesce(t.char_count, 0) "
            f"FROM (SELECT * FROM videos WHERE {videos}) v "
            "LEFT JOIN transcripts t USING (video_key) ORDER BY v.fetched_at LIMIT ?",
            [limit],
        ).fetchall()


def row_counts(
    conn: duckdb.DuckDBPyConnection, tables: Sequence[str], batches: Sequence[str] | None = None
) -> dict[str, int]:
    """Rows of each table: the batches' (their videos', their authors', their lines), or all."""
    counts = {}
    with _scoped(conn, batches) as (videos, lines):
        for table in tables:
            columns = column_names(table)
            if batches is None:
                where = "true"
            elif "batch" in columns:
                where = lines
            elif "video_key" in columns:
                where = videos
            elif table == "authors":
                where = _AUTHORS_OF_VIDEOS
            else:
                raise ValueError(f"{table} has no rows of a batch")
            counts[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[
                0
            ]
    return counts


@dataclass(frozen=True)
class MediaCounts:
    files: dict[str, int]
    """Rows by status (every status present, zero included)."""
    saved_bytes: int
    stored_files: int
    """Distinct files in the store among the saved ones: the same bytes are stored once."""


def media_counts(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None
) -> MediaCounts:
    with _scoped(conn, batches) as (videos, _):
        by_status = dict(
            conn.execute(
                f"SELECT status, count(*) FROM media_files WHERE {videos} GROUP BY status"
            ).fetchall()
        )
        saved, stored = conn.execute(
            "SELECT coalesce(sum(bytes), 0), count(DISTINCT sha256) FROM media_files "
            f"WHERE status = '{MediaStatus.OK}' AND {videos}"
        ).fetchone()
    return MediaCounts(
        {status.value: by_status.get(status.value, 0) for status in MediaStatus},
        int(saved),
        int(stored),
    )


def a_saved_cover(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str] | None = None
) -> tuple[str, str, str] | None:
    """(video title, path, content type) of one saved cover, for a preview."""
    with _scoped(conn, batches) as (videos, _):
        return conn.execute(
            "SELECT coalesce(v.title, m.video_key), m.path, m.content_type FROM media_files m "
            "LEFT JOIN videos v USING (video_key) "
            f"WHERE m.kind = 'cover' AND m.status = '{MediaStatus.OK}' AND {videos} "
            "ORDER BY m.fetched_at DESC, m.video_key LIMIT 1"
        ).fetchone()
