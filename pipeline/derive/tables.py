"""The normalized tables, derived from the raw layer only: rerunnable, and rebuildable offline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.answers.ledger import Ledger
from pipeline.answers.raw import RawRow
from pipeline.coze.decode import decode_metadata, decode_run
from pipeline.coze.errors import CozeError
from pipeline.derive.normalize import signed_url_expiry, split_title
from pipeline.schema import SOURCE_TABLES, TABLES, create_objects
from pipeline.schema.transaction import transaction
from pipeline.storage.frames import frame, lookup, merge_by_key, registered, upsert
from pipeline.storage.recorder import load_ledger, save_ledger

_RAW_COLUMNS = ", ".join(RawRow.__slots__)


@dataclass(frozen=True)
class NormalizedCounts:
    videos: int
    transcripts: int
    trimmed: int
    undecodable: int

    def __add__(self, other: NormalizedCounts) -> NormalizedCounts:
        return NormalizedCounts(
            self.videos + other.videos,
            self.transcripts + other.transcripts,
            self.trimmed + other.trimmed,
            self.undecodable + other.undecodable,
        )


def _in_scope(column: str = "video_key") -> str:
    return f"{column} IN (SELECT video_key FROM _scope)"


def _raw_rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[RawRow]:
    return [RawRow(*r) for r in conn.execute(sql).fetchall()]


# What each video's normalized rows come from: its latest metadata answer, its links, and the
# latest poll answer of a successful job.
_LATEST_METADATA = (
    "SELECT {columns} FROM raw_responses WHERE kind = 'metadata' AND outcome = 'ok' "
    "AND {scope} QUALIFY row_number() OVER (PARTITION BY video_key ORDER BY seq DESC) = 1"
)
_LINKS = (
    "SELECT video_key, min(platform) AS platform, min(video_id) AS video_id, min(url) AS url, "
    "min(canonical_url) AS canonical_url FROM links WHERE error IS NULL AND {scope} "
    "GROUP BY video_key"
)
_LATEST_SUCCESS = (
    "SELECT {columns} FROM raw_responses r "
    "JOIN transcript_jobs j ON j.execute_id = r.execute_id AND j.status = 'Success' "
    "WHERE r.kind = 'poll' AND r.outcome = 'ok' AND {scope} "
    "QUALIFY row_number() OVER (PARTITION BY r.video_key ORDER BY r.seq DESC) = 1"
)


def stale_keys(conn: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> list[str]:
    """The videos among `keys` whose normalized rows are not those their sources give now: a
    newer metadata answer (videos.fetched_at is its arrival), another link to them, or a newer
    successful poll answer (transcripts.response_id). The others need no rewrite."""
    scope, raw_scope = _in_scope(), _in_scope("r.video_key")
    with lookup(conn, "_scope", "video_key", keys):
        rows = conn.execute(
            f"WITH m AS ({_LATEST_METADATA.format(columns='video_key, received_at', scope=scope)}), "
            f"l AS ({_LINKS.format(scope=scope)}), "
            f"p AS ({_LATEST_SUCCESS.format(columns='r.video_key, r.response_id', scope=raw_scope)}) "
            "SELECT s.video_key FROM _scope s "
            "LEFT JOIN m USING (video_key) LEFT JOIN l USING (video_key) "
            "LEFT JOIN videos v USING (video_key) "
            "LEFT JOIN p USING (video_key) LEFT JOIN transcripts t USING (video_key) "
            "WHERE m.received_at IS DISTINCT FROM v.fetched_at "
            "OR (m.video_key IS NOT NULL AND (v.platform, v.video_id, v.source_url, v.canonical_url) "
            "IS DISTINCT FROM (l.platform, l.video_id, l.url, l.canonical_url)) "
            "OR p.response_id IS DISTINCT FROM t.response_id"
        ).fetchall()
    return [r[0] for r in rows]


# Videos normalized at a time: each chunk's answers are read, decoded and written before the
# next chunk's are read, so memory follows the chunk, not the batch (docs/BENCHMARKS.md, 3).
NORMALIZE_CHUNK = 5000
# The author sightings of one refresh's chunks so far (a temp table: the connection's own).
_SEEN_AUTHORS = "_seen_authors"


def refresh_normalized(
    conn: duckdb.DuckDBPyConnection,
    keys: Sequence[str] | None,
    *,
    chunk: int = NORMALIZE_CHUNK,
    commit_each_chunk: bool = False,
) -> NormalizedCounts:
    """Rewrite videos, hashtags, mentions, authors and transcripts for `keys` (None: all),
    `chunk` videos at a time.

    With `commit_each_chunk` each chunk is a transaction of its own: DuckDB holds a
    transaction's writes in memory, so one transaction would grow with the batch. A refresh
    stopped midway leaves whole chunks written, and `stale_keys` finds the rest. Each chunk
    gives its authors the latest avatar of every sighting of the refresh so far, so an author
    ends with the avatar one pass over all the videos would give it."""
    counts = NormalizedCounts(0, 0, 0, 0)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_SEEN_AUTHORS} (platform VARCHAR, nickname VARCHAR, "
        "avatar_url VARCHAR, first_seen_at TIMESTAMP)"
    )
    try:
        for part in _key_chunks(conn, keys, chunk):
            with transaction(conn) if commit_each_chunk else nullcontext():
                counts += _refresh_chunk(conn, part)
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SEEN_AUTHORS}")
    return counts


def _key_chunks(
    conn: duckdb.DuckDBPyConnection, keys: Sequence[str] | None, chunk: int
) -> Iterator[Sequence[str]]:
    """`keys` in slices of `chunk`, in key order; for None, every video of the raw layer, read
    a chunk at a time, so no list of the whole corpus is held. In key order, a chunk's answers
    lie close together in `raw_responses` (a batch is called in its lines' order), and DuckDB
    skips the blocks outside the chunk's range of keys instead of reading every answer again
    for every chunk."""
    if keys is not None:
        ordered = sorted(keys)
        for start in range(0, len(ordered), chunk):
            yield ordered[start : start + chunk]
        return
    after = ""
    while part := [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT video_key FROM raw_responses WHERE video_key > ? ORDER BY 1 LIMIT ?",
            [after, chunk],
        ).fetchall()
    ]:
        yield part
        after = part[-1]


def _refresh_chunk(conn: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> NormalizedCounts:
    """One chunk's videos, hashtags, mentions, authors and transcripts written."""
    scope, raw_scope = _in_scope(), _in_scope("r.video_key")
    with lookup(conn, "_scope", "video_key", keys):
        metadata = _raw_rows(conn, _LATEST_METADATA.format(columns=_RAW_COLUMNS, scope=scope))
        links = {r[0]: r[1:] for r in conn.execute(_LINKS.format(scope=scope)).fetchall()}
        polls = _raw_rows(
            conn,
            _LATEST_SUCCESS.format(
                columns=", ".join("r." + c for c in RawRow.__slots__), scope=raw_scope
            ),
        )

    videos, hashtags, mentions, authors, undecodable = [], [], [], [], 0
    for row in metadata:
        try:
            result = decode_metadata(row.exchange())
        except CozeError:
            undecodable += 1
            continue
        platform, video_id, url, canonical_url = links.get(row.video_key, (None,) * 4)
        title = split_title(result.title)
        fetched_at = row.received_at
        videos.append(
            {
                "video_key": row.video_key,
                "platform": platform,
                "video_id": video_id,
                "source_url": url,
                "canonical_url": canonical_url,
                "title": title.text,
                "raw_title": result.title,
                "author_nickname": result.nickname,
                "author_avatar_url": result.avatar_url,
                "cover_image_url": result.cover_image_url,
                "cover_image_expires_at": signed_url_expiry(result.cover_image_url),
                "play_url": result.play_url,
                "play_url_expires_at": signed_url_expiry(result.play_url),
                "fetched_at": fetched_at,
            }
        )
        hashtags += [{"video_key": row.video_key, "hashtag": h} for h in title.hashtags]
        mentions += [{"video_key": row.video_key, "mention": m} for m in title.mentions]
        if result.nickname:
            authors.append(
                {
                    "platform": platform or "unknown",
                    "nickname": result.nickname,
                    "avatar_url": result.avatar_url,
                    "first_seen_at": fetched_at,
                }
            )

    transcripts = []
    for row in polls:
        try:
            record = decode_run(row.exchange())
        except CozeError:
            undecodable += 1
            continue
        content = record.content or ""
        transcripts.append(
            {
                "video_key": row.video_key,
                "execute_id": record.execute_id,
                "title": record.title,
                "content": content,
                "char_count": len(content),
                "is_trimmed": record.is_output_trimmed,
                "fetched_at": row.received_at,
                "response_id": row.response_id,
            }
        )

    video_frame = frame("videos", videos)
    with lookup(conn, "_touched", "video_key", (v["video_key"] for v in videos)):
        for table in ("video_hashtags", "video_mentions"):
            conn.execute(f"DELETE FROM {table} WHERE video_key IN (SELECT video_key FROM _touched)")
    upsert(conn, "videos", video_frame)
    upsert(conn, "video_hashtags", frame("video_hashtags", hashtags))
    upsert(conn, "video_mentions", frame("video_mentions", mentions))
    with registered(conn, "_chunk_authors", frame("authors", authors)):
        conn.execute(f"INSERT INTO {_SEEN_AUTHORS} SELECT * FROM _chunk_authors")
        seen = conn.execute(
            "SELECT platform, nickname, arg_max_null(avatar_url, first_seen_at) AS avatar_url, "
            f"min(first_seen_at) AS first_seen_at FROM {_SEEN_AUTHORS} "
            "WHERE (platform, nickname) IN (SELECT platform, nickname FROM _chunk_authors) "
            "GROUP BY ALL"
        ).pl()
    _merge_authors(conn, seen)
    upsert(conn, "transcripts", frame("transcripts", transcripts))
    trimmed = sum(t["is_trimmed"] for t in transcripts)
    return NormalizedCounts(len(videos), len(transcripts), trimmed, undecodable)


def _merge_authors(conn: duckdb.DuckDBPyConnection, authors: pl.DataFrame) -> None:
    """Keep the earliest first_seen_at ever recorded, the latest avatar."""
    if authors.is_empty():
        return
    latest = (
        authors.sort("first_seen_at")
        .group_by(["platform", "nickname"])
        .agg(pl.col("avatar_url").last(), pl.col("first_seen_at").min())
    )
    with registered(conn, "_authors", latest):
        merge_by_key(
            conn,
            "authors",
            "SELECT a.platform, a.nickname, a.avatar_url, "
            "least(a.first_seen_at, coalesce(o.first_seen_at, a.first_seen_at)) AS first_seen_at "
            "FROM _authors a LEFT JOIN authors o USING (platform, nickname)",
        )


def rebuild_all(
    conn: duckdb.DuckDBPyConnection, max_attempts: int, chunk: int = 5000
) -> NormalizedCounts:
    """Recompute all state and normalized tables from raw_responses, calling no API.

    Every derived table is dropped, not emptied: a DELETE reads the table's blocks, so one
    damaged block would stop the rebuild that is meant to repair it. The text tables and the
    search index are left empty, for `update_text_tables` to fill again from scratch. Answers
    are replayed in recording order (`seq`)."""
    with transaction(conn):
        for table in TABLES:
            if table.name not in SOURCE_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table.name}")
        create_objects(conn)
        for part in _key_chunks(conn, None, chunk):
            with lookup(conn, "_scope", "video_key", part):
                rows = _raw_rows(
                    conn,
                    f"SELECT {_RAW_COLUMNS} FROM raw_responses WHERE {_in_scope()} "
                    "ORDER BY seq NULLS LAST, received_at",
                )
            ledger: Ledger = load_ledger(conn, rows, max_attempts)
            ledger.apply(rows)
            save_ledger(conn, ledger)
        counts = refresh_normalized(conn, None)
    return counts
