"""What is left to do for a set of batches: the only reads that decide API calls."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.answers.raw import RawRow
from pipeline.coze.decode import decode_metadata
from pipeline.coze.errors import CozeError
from pipeline.media.content import Kind
from pipeline.media.files import MediaFile, media_urls, wanted_files
from pipeline.status import JobStatus, LinkStatus, MediaStatus, Outcome, next_calls
from pipeline.storage.frames import lookup


@dataclass(frozen=True, slots=True)
class WorkItem:
    video_key: str
    raw_text: str
    url: str
    canonical_url: str | None


@dataclass(frozen=True, slots=True)
class RunningJob:
    execute_id: str
    video_key: str
    workflow_id: str
    age_seconds: float


_BATCH_KEYS = """
    SELECT video_key,
           arg_min(raw_text, (batch, line_no)) AS raw_text,
           arg_min(url, (batch, line_no)) AS url,
           arg_min(canonical_url, (batch, line_no)) AS canonical_url,
           min((batch, line_no)) AS first_seen
    FROM links
    WHERE error IS NULL AND listed AND batch IN (SELECT batch FROM _batches)
    GROUP BY video_key
"""


# The videos of the batches in `_batches` that have a usable link, listed or not.
_BATCH_VIDEO_KEYS = (
    "SELECT DISTINCT video_key FROM links WHERE error IS NULL "
    "AND batch IN (SELECT batch FROM _batches)"
)


@dataclass(frozen=True, slots=True)
class VideoWork:
    """One video's calls this run: its metadata call if unresolved, then its submit if its
    transcript may be submitted (after a successful metadata call, for an unresolved one)."""

    item: WorkItem
    needs_metadata: bool
    may_submit: bool


# Rows of the work list read from DuckDB, written and read back at a time.
WORK_BLOCK = 4096
_WORK_SCHEMA = pa.schema(
    [
        ("video_key", pa.string()),
        ("raw_text", pa.string()),
        ("url", pa.string()),
        ("canonical_url", pa.string()),
        ("needs_metadata", pa.bool_()),
        ("may_submit", pa.bool_()),
    ]
)


class WorkList:
    """The Coze step's work, in a file of Arrow blocks: each iteration reads it a block at a
    time, so a batch of any size is never held in memory whole. `close` (or the end of a
    `with`) deletes the file; an unclosed list deletes it when collected."""

    def __init__(self, folder: tempfile.TemporaryDirectory[str], metadata: int, submits: int):
        self._folder = folder
        self.path = Path(folder.name) / "work.arrow"
        self.metadata_calls = metadata
        """Videos whose metadata is called."""
        self.may_submit = submits
        """Videos whose transcript may be submitted (after their metadata call, if any)."""

    def __iter__(self) -> Iterator[VideoWork]:
        with pa.OSFile(str(self.path)) as source:
            reader = pa.ipc.open_file(source)
            for n in range(reader.num_record_batches):
                block = reader.get_batch(n)
                for key, text, url, canonical, metadata, submit in zip(
                    *(column.to_pylist() for column in block.columns), strict=True
                ):
                    yield VideoWork(WorkItem(key, text, url, canonical), metadata, submit)

    def __enter__(self) -> WorkList:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._folder.cleanup()


def coze_todo(
    conn: duckdb.DuckDBPyConnection,
    batches: Sequence[str],
    *,
    resubmit_uncertain: bool = False,
    refresh_kinds: Sequence[Kind] = (),
    block: int = WORK_BLOCK,
) -> WorkList:
    """The batch's videos with a call to make (`pipeline.status.next_calls`, the rule `plan`
    counts with), in their lines' order. Only listed lines: a line removed from its file is
    never paid for again, only its running job polled (`running_jobs`). `refresh_kinds`: media
    of these kinds that expired unsaved send their video's metadata call again
    (`--refresh-expired`). Streamed from DuckDB into the list's file `block` rows at a time."""
    work = WorkList(tempfile.TemporaryDirectory(prefix="pipeline-work-"), 0, 0)
    try:
        _write_work(conn, work, batches, resubmit_uncertain, refresh_kinds, block)
    except BaseException:
        work.close()
        raise
    return work


def _write_work(
    conn: duckdb.DuckDBPyConnection,
    work: WorkList,
    batches: Sequence[str],
    resubmit_uncertain: bool,
    refresh_kinds: Sequence[Kind],
    block: int,
) -> None:
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            f"WITH k AS ({_BATCH_KEYS}) "
            "SELECT k.video_key, k.raw_text, k.url, k.canonical_url, m.status, t.status, "
            "EXISTS (SELECT 1 FROM media_files f WHERE f.video_key = k.video_key "
            f"AND f.status = '{MediaStatus.EXPIRED}' AND list_contains($kinds, f.kind)) FROM k "
            "LEFT JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata' "
            "LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript' "
            "ORDER BY k.first_seen",
            {"kinds": list(refresh_kinds)},
        ).to_arrow_reader(block)
        with pa.OSFile(str(work.path), "wb") as sink, pa.ipc.new_file(sink, _WORK_SCHEMA) as out:
            for read in rows:
                kept: list[list] = [[] for _ in _WORK_SCHEMA]
                for *item, metadata, transcript, expired in zip(
                    *(column.to_pylist() for column in read.columns), strict=True
                ):
                    calls = next_calls(
                        metadata,
                        transcript,
                        resubmit_uncertain=resubmit_uncertain,
                        refresh_media=expired,
                    )
                    if calls.any:
                        for column, value in zip(
                            kept, (*item, calls.needs_metadata, calls.may_submit), strict=True
                        ):
                            column.append(value)
                        work.metadata_calls += calls.needs_metadata
                        work.may_submit += calls.may_submit
                if kept[0]:
                    out.write_batch(
                        pa.RecordBatch.from_pydict(
                            dict(zip(_WORK_SCHEMA.names, kept, strict=True)), schema=_WORK_SCHEMA
                        )
                    )


def media_todo(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str], kinds: Sequence[Kind], now: datetime
) -> list[MediaFile]:
    """The batch's files to fetch before new answers arrive: rows still pending, and the wanted
    kinds a video's latest metadata answer names that have no row (the answer came before
    PIPELINE_MEDIA asked for them, or from a run that stopped before it recorded them: read
    from the raw layer, so a run killed before `normalized_tables` loses none). A URL past its
    expiry is settled `expired` with no request."""
    if not kinds:
        return []
    wanted = {"kinds": list(kinds)}
    keys = _BATCH_VIDEO_KEYS
    with lookup(conn, "_batches", "batch", batches):
        pending = conn.execute(
            "SELECT video_key, kind, url, url_expires_at, attempts FROM media_files "
            f"WHERE status = '{MediaStatus.PENDING}' AND list_contains($kinds, kind) "
            f"AND video_key IN ({keys}) ORDER BY video_key, kind",
            wanted,
        ).fetchall()
        answers = [
            RawRow(*r)
            for r in conn.execute(
                f"SELECT {', '.join(RawRow.__slots__)} FROM raw_responses r "
                f"WHERE kind = 'metadata' AND outcome = '{Outcome.OK}' "
                f"AND video_key IN ({keys}) AND (SELECT count(*) FROM media_files f "
                "WHERE f.video_key = r.video_key AND list_contains($kinds, f.kind)) < len($kinds) "
                "QUALIFY row_number() OVER (PARTITION BY video_key ORDER BY seq DESC) = 1 "
                "ORDER BY video_key",
                wanted,
            ).fetchall()
        ]
        recorded = recorded_kinds(conn, [row.video_key for row in answers])
    files = [
        _settle_expired(MediaFile(key, kind, url, _utc(expires), attempts=attempts), now)
        for key, kind, url, expires, attempts in pending
    ]
    for row in answers:
        try:
            answer = decode_metadata(row.exchange())
        except CozeError:  # counted where the videos are derived
            continue
        urls = media_urls(answer.cover_image_url, answer.avatar_url, answer.play_url)
        missing = [kind for kind in kinds if kind not in recorded.get(row.video_key, ())]
        files += wanted_files(row.video_key, urls, missing, now)
    return files


def recorded_kinds(
    conn: duckdb.DuckDBPyConnection,
    video_keys: Sequence[str],
    status: MediaStatus | None = None,
) -> dict[str, set[str]]:
    """The kinds of file each video has a row for (of `status` only, when given): a refreshed
    answer does not fetch again what is saved."""
    with lookup(conn, "_keys", "video_key", video_keys):
        rows = conn.execute(
            "SELECT video_key, kind FROM media_files WHERE video_key IN (SELECT video_key FROM _keys) "
            "AND ($status IS NULL OR status = $status)",
            {"status": status},
        ).fetchall()
    kinds: dict[str, set[str]] = {}
    for key, kind in rows:
        kinds.setdefault(key, set()).add(kind)
    return kinds


def _utc(moment: datetime | None) -> datetime | None:
    """The warehouse keeps UTC as naive timestamps."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _settle_expired(file: MediaFile, now: datetime) -> MediaFile:
    if file.url_expires_at and file.url_expires_at <= now:
        return replace(
            file, status=MediaStatus.EXPIRED, error="the URL expired before it was saved"
        )
    return file


def recent_run_seconds(conn: duckdb.DuckDBPyConnection, limit: int) -> list[float]:
    """How long Coze ran the latest finished jobs: the poll schedule's prior."""
    rows = conn.execute(
        "SELECT run_seconds FROM transcript_jobs WHERE run_seconds IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [r[0] for r in rows]


def running_jobs(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> list[RunningJob]:
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(
            "SELECT j.execute_id, j.video_key, j.workflow_id, "
            "epoch(now()::TIMESTAMP) - epoch(j.submitted_at) FROM transcript_jobs j "
            f"WHERE j.status = '{JobStatus.RUNNING}' AND j.video_key IN "
            "(SELECT video_key FROM links WHERE batch IN (SELECT batch FROM _batches)) "
            "ORDER BY j.submitted_at"
        ).fetchall()
    return [RunningJob(*r) for r in rows]


def batch_video_keys(conn: duckdb.DuckDBPyConnection, batches: Sequence[str]) -> list[str]:
    with lookup(conn, "_batches", "batch", batches):
        rows = conn.execute(_BATCH_VIDEO_KEYS).fetchall()
    return [r[0] for r in rows]


def unfinished_batches(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Batches with a video still pending (running job or retryable failure): the schedule's work."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT l.batch FROM links l JOIN link_status s USING (video_key) "
            f"WHERE s.metadata_status = '{LinkStatus.PENDING}' "
            f"OR s.transcript_status = '{LinkStatus.PENDING}' ORDER BY 1"
        ).fetchall()
    ]
