"""`python -m pipeline plan`: what a batch would cost in Coze API calls, before running it.

The free Coze plan allows 500 calls in all, so a user wants the bill before the run. The plan
parses the link file with the pipeline's own parser and reads the warehouse read-only: it makes
no API call, starts no emulator and never writes. The counting is pure (`make_plan`), apart
from the DuckDB reads (`read_warehouse`), so it is tested on plain values.

The counts follow the run's own work lists (`pipeline.reads.work`): a metadata call for
a video never tried or left at `retry`; a submit for a video without a live or successful job
whose metadata is not failed for good; a poll for every job submitted or still running.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipeline.settings import Settings
from pipeline.status import ItemStatus, JobStatus, MediaStatus, next_calls

# Polls a job costs when the warehouse has too few finished jobs to say: the poller's first
# look usually comes before a short job ends, and the second after (docs/coze.md).
DEFAULT_POLLS_PER_JOB = 2.0
# Finished jobs needed before their mean poll_count replaces the default: fewer is noise.
MIN_FINISHED_JOBS = 20

PollsSource = Literal["warehouse", "default"]


@dataclass(frozen=True, slots=True)
class LinkCounts:
    """The link file as the run would read it; a video on many lines is called once."""

    lines: int
    usable: int
    video_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WarehouseView:
    """The warehouse facts the plan needs, for the batch's videos only (jobs: all videos)."""

    metadata: Mapping[str, str]  # video_key -> item_state status of step 'metadata'
    transcript: Mapping[str, str]  # video_key -> item_state status of step 'transcript'
    running_jobs: int  # transcript_jobs still Running for the batch's videos
    finished_jobs: int  # Success or Fail jobs in the whole warehouse
    finished_polls: int  # their poll_count summed
    media: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """video_key -> {kind: media_files status}"""

    @classmethod
    def empty(cls) -> WarehouseView:
        return cls({}, {}, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every number the plan prints, text or json."""

    lines: int
    usable_links: int
    distinct_videos: int
    metadata_ok: int
    transcripts_ok: int
    running_jobs: int
    failed_metadata: int
    failed_transcript: int
    uncertain: int
    resubmit_uncertain: bool
    metadata_calls: int
    metadata_never_tried: int
    metadata_retry: int
    submits: int
    submits_never_tried: int
    submits_retry: int
    submits_uncertain: int
    finished_jobs: int
    polls_per_job: float
    polls_per_job_source: PollsSource
    expected_polls: int
    total_calls: int
    max_calls: int | None
    media_kinds: tuple[str, ...]
    media_files: int
    """Files the run would fetch (from the media hosts: no API call)."""
    media_expired: int
    """Wanted files whose URL expired unsaved."""
    refresh_expired: bool
    metadata_refresh: int
    """Paid metadata calls for new URLs to expired media (`--refresh-expired`)."""

    @property
    def fits(self) -> bool | None:
        """None when no PIPELINE_MAX_CALLS is set: there is nothing to fit."""
        return None if self.max_calls is None else self.total_calls <= self.max_calls


def count_links(video_keys: Iterable[str | None]) -> LinkCounts:
    """From the parser's `video_key` column (None on an unusable line), in first-seen order."""
    keys = list(video_keys)
    usable = [k for k in keys if k is not None]
    return LinkCounts(lines=len(keys), usable=len(usable), video_keys=tuple(dict.fromkeys(usable)))


def polls_per_job(finished_jobs: int, finished_polls: int) -> tuple[float, PollsSource]:
    """The warehouse's own mean once it has seen enough jobs, else the documented default."""
    if finished_jobs >= MIN_FINISHED_JOBS:
        return finished_polls / finished_jobs, "warehouse"
    return DEFAULT_POLLS_PER_JOB, "default"


def make_plan(
    links: LinkCounts,
    view: WarehouseView,
    *,
    resubmit_uncertain: bool = False,
    max_calls: int | None = None,
    media_kinds: Sequence[str] = (),
    refresh_expired: bool = False,
) -> Plan:
    """Count the calls a run of this batch would make, assuming every call succeeds first time
    (so a pending metadata call leads to a submit in the same run, and names every wanted
    file)."""
    meta = [view.metadata.get(k) for k in links.video_keys]
    trans = [view.transcript.get(k) for k in links.video_keys]
    media = [[view.media.get(k, {}).get(kind) for kind in media_kinds] for k in links.video_keys]
    expired = [MediaStatus.EXPIRED in files for files in media]
    calls = [
        next_calls(m, t, resubmit_uncertain=resubmit_uncertain, refresh_media=refresh_expired and e)
        for m, t, e in zip(meta, trans, expired, strict=True)
    ]
    media_files = sum(
        _files_to_fetch(files, call.needs_metadata, status == ItemStatus.OK)
        for files, call, status in zip(media, calls, meta, strict=True)
    )
    submitted = [t for t, c in zip(trans, calls, strict=True) if c.may_submit]
    submits_never_tried = submitted.count(None)
    submits_retry = submitted.count(ItemStatus.RETRY)
    submits_uncertain = submitted.count(ItemStatus.UNCERTAIN)
    submits = len(submitted)
    per_job, source = polls_per_job(view.finished_jobs, view.finished_polls)
    # round() first: 25 * 2.2 is 55.00000000000001 in floats, which must not ceil to 56.
    expected_polls = math.ceil(round((submits + view.running_jobs) * per_job, 6))
    metadata_never_tried = meta.count(None)
    metadata_retry = meta.count(ItemStatus.RETRY)
    metadata_calls = sum(c.needs_metadata for c in calls)
    metadata_refresh = sum(
        c.needs_metadata and m == ItemStatus.OK for c, m in zip(calls, meta, strict=True)
    )
    return Plan(
        lines=links.lines,
        usable_links=links.usable,
        distinct_videos=len(links.video_keys),
        metadata_ok=meta.count(ItemStatus.OK),
        transcripts_ok=trans.count(ItemStatus.OK),
        running_jobs=view.running_jobs,
        failed_metadata=meta.count(ItemStatus.FAILED),
        failed_transcript=trans.count(ItemStatus.FAILED),
        uncertain=trans.count(ItemStatus.UNCERTAIN),
        resubmit_uncertain=resubmit_uncertain,
        metadata_calls=metadata_calls,
        metadata_never_tried=metadata_never_tried,
        metadata_retry=metadata_retry,
        submits=submits,
        submits_never_tried=submits_never_tried,
        submits_retry=submits_retry,
        submits_uncertain=submits_uncertain,
        finished_jobs=view.finished_jobs,
        polls_per_job=per_job,
        polls_per_job_source=source,
        expected_polls=expected_polls,
        total_calls=metadata_calls + submits + expected_polls,
        max_calls=max_calls,
        media_kinds=tuple(media_kinds),
        media_files=media_files,
        media_expired=sum(files.count(MediaStatus.EXPIRED) for files in media),
        refresh_expired=refresh_expired,
        metadata_refresh=metadata_refresh,
    )


def _files_to_fetch(files: list[str | None], called: bool, resolved: bool) -> int:
    """A video's wanted files this run fetches: every one not saved when its metadata is
    called (its answer names them all), else the pending ones and those never recorded."""
    if called:
        return sum(status != MediaStatus.OK for status in files)
    if not resolved:
        return 0
    return sum(status in (None, MediaStatus.PENDING) for status in files)


def read_warehouse(conn: duckdb.DuckDBPyConnection, video_keys: Iterable[str]) -> WarehouseView:
    """The batch's step states and running jobs, and the poll history of all finished jobs.

    Reads only; the keys go in as a registered Arrow view, which a read-only connection allows.
    A file without the tables (never written by the pipeline) reads as an empty warehouse.
    """
    from pipeline.storage.frames import lookup

    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name IN ('item_state', 'transcript_jobs', 'media_files')"
        ).fetchall()
    }
    if not {"item_state", "transcript_jobs"} <= tables:
        return WarehouseView.empty()
    media: dict[str, dict[str, str]] = {}
    states: dict[str, dict[str, str]] = {"metadata": {}, "transcript": {}}
    with lookup(conn, "_plan_keys", "video_key", video_keys):
        for key, step, status in conn.execute(
            "SELECT video_key, step, status FROM item_state "
            "WHERE video_key IN (SELECT video_key FROM _plan_keys)"
        ).fetchall():
            if step in states:
                states[step][key] = status
        if "media_files" in tables:
            for key, kind, status in conn.execute(
                "SELECT video_key, kind, status FROM media_files "
                "WHERE video_key IN (SELECT video_key FROM _plan_keys)"
            ).fetchall():
                media.setdefault(key, {})[kind] = status
        (running,) = conn.execute(
            f"SELECT count(*) FROM transcript_jobs WHERE status = '{JobStatus.RUNNING}' "
            "AND video_key IN (SELECT video_key FROM _plan_keys)"
        ).fetchone() or (0,)
    finished, polls = conn.execute(
        "SELECT count(*), coalesce(sum(poll_count), 0) FROM transcript_jobs "
        f"WHERE status IN ('{JobStatus.SUCCESS}', '{JobStatus.FAIL}')"
    ).fetchone() or (0, 0)
    return WarehouseView(
        states["metadata"], states["transcript"], running, finished, int(polls), media
    )


def plan_json(plan: Plan, links_file: Path, db: str, db_exists: bool) -> dict[str, Any]:
    """The same numbers as the text, keyed for scripts."""
    data = asdict(plan)
    return {
        "links_file": str(links_file),
        "warehouse": db,
        "warehouse_exists": db_exists,
        **data,
        "fits": plan.fits,
    }


def render_text(plan: Plan, links_file: Path, db: str, db_exists: bool) -> str:
    """Aligned lines for a person: numbers in one column, what they mean beside them."""
    rows: list[tuple[str, str, str]] = []

    def row(label: str, value: object = "", note: str = "") -> None:
        rows.append((label, str(value), note))

    row(f"plan for {links_file.name} (no API call made)")
    row("  lines (blank and # not counted)", plan.lines)
    row("  usable links", plan.usable_links, f"{plan.lines - plan.usable_links} not usable")
    row("  distinct videos", plan.distinct_videos, "a video on many lines is called once")
    if db_exists:
        row(f"already in the warehouse ({db})")
        row("  metadata ok", plan.metadata_ok)
        row("  transcripts ok", plan.transcripts_ok)
        row("  running jobs", plan.running_jobs, "will only be polled")
        row(
            "  failed for good",
            plan.failed_metadata + plan.failed_transcript,
            f"metadata {plan.failed_metadata}, transcript {plan.failed_transcript}",
        )
        row(
            "  uncertain",
            plan.uncertain,
            "resubmitted (--resubmit-uncertain)"
            if plan.resubmit_uncertain
            else "not resubmitted (add --resubmit-uncertain to resubmit)",
        )
    else:
        row(f"no warehouse at {db}: every video is new")
    row("this batch would make")
    metadata_note = f"{plan.metadata_never_tried} never tried, {plan.metadata_retry} retry"
    if plan.refresh_expired:
        metadata_note += f", {plan.metadata_refresh} for new links to expired media"
    row("  metadata calls", plan.metadata_calls, metadata_note)
    submit_note = f"{plan.submits_never_tried} never tried, {plan.submits_retry} retry"
    if plan.resubmit_uncertain:
        submit_note += f", {plan.submits_uncertain} uncertain"
    row("  transcript submits", plan.submits, submit_note)
    if plan.polls_per_job_source == "warehouse":
        source = f"mean of {plan.finished_jobs} finished jobs"
    else:
        source = f"default; {plan.finished_jobs} finished jobs, fewer than {MIN_FINISHED_JOBS} to average"
    row(
        "  expected polls",
        plan.expected_polls,
        f"({plan.submits} submits + {plan.running_jobs} running) × "
        f"{plan.polls_per_job:.2f} polls per job ({source})",
    )
    row("  total API calls", plan.total_calls, "if every call succeeds first time")
    kinds = ", ".join(plan.media_kinds) or "none (PIPELINE_MEDIA=none)"
    row(
        "  media files to fetch",
        plan.media_files or "0",
        f"{kinds}; from the media hosts, no API call",
    )
    if plan.media_expired and not plan.refresh_expired:
        row(
            "  media expired unsaved",
            plan.media_expired,
            "not fetched again (--refresh-expired pays a metadata call each for new links)",
        )
    width = max(len(label) for label, value, _ in rows if value)
    digits = max(len(value) for _, value, _ in rows)
    lines = [
        (f"{label:<{width}}  {value:>{digits}}" + (f"  {note}" if note else "")).rstrip()
        if value
        else label
        for label, value, note in rows
    ]
    if plan.max_calls is not None:
        if plan.fits:
            lines.append(
                f"PIPELINE_MAX_CALLS={plan.max_calls}: this batch needs about "
                f"{plan.total_calls}; it fits"
            )
        else:
            lines.append(
                f"PIPELINE_MAX_CALLS={plan.max_calls}: this batch needs about "
                f"{plan.total_calls}; a run stops cleanly at {plan.max_calls} "
                "and leaves the rest pending"
            )
    return "\n".join(lines)


def main_plan(
    links: str,
    settings: Settings,
    *,
    resubmit_uncertain: bool = False,
    refresh_expired: bool = False,
    output: str = "text",
) -> int:
    """The `plan` subcommand: parse, read, count, print. Exit 2 when the link file is missing."""
    from pipeline.links import link_file_problem, parse_file
    from pipeline.storage.db import WarehouseLockedError, connect, warehouse_exists

    links_file = Path(links)
    if problem := link_file_problem(links_file):
        print(problem, file=sys.stderr)
        return 2
    counts = count_links(parse_file(links_file)["video_key"].to_list())
    warehouse = settings.warehouse
    db_exists = warehouse_exists(warehouse)
    view = WarehouseView.empty()
    if db_exists:
        try:
            with connect(
                warehouse, read_only=True, wait_seconds=settings.lock_wait_seconds
            ) as conn:
                view = read_warehouse(conn, counts.video_keys)
        except WarehouseLockedError as error:
            print(error, file=sys.stderr)
            return 1
    plan = make_plan(
        counts,
        view,
        resubmit_uncertain=resubmit_uncertain,
        max_calls=settings.max_calls,
        media_kinds=settings.media.kinds,
        refresh_expired=refresh_expired,
    )
    if output == "json":
        print(
            json.dumps(
                plan_json(plan, links_file, warehouse.describe(), db_exists),
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(render_text(plan, links_file, warehouse.describe(), db_exists))
    return 0
