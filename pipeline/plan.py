"""`python -m pipeline plan`: what a batch would cost in Coze API calls, before running it.

The free Coze plan allows 500 calls in all, so a user wants the bill before the run. The plan
parses the link file with the pipeline's own parser and reads the warehouse read-only: it makes
no API call, starts no emulator and never writes. The counting is pure (`make_plan`), apart
from the DuckDB reads (`pipeline.plan_reads`), so it is tested on plain values.

The counts follow the run's own work lists (`pipeline.reads.work`): a metadata call for
a video never tried or left at `retry`; a submit for a video without a live or successful job
whose metadata is not failed for good; a poll for every job submitted or still running.

Nothing grows with the file in Python: it is parsed a block at a time into a DuckDB table of
its distinct video keys, and the warehouse answers with counts per state, not per video.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipeline.settings import Settings
from pipeline.status import ItemStatus, MediaStatus, next_calls

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
    distinct: int


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """What the warehouse knows of a video: its step states and its media files' states."""

    metadata: str | None = None  # item_state status of step 'metadata'
    transcript: str | None = None  # item_state status of step 'transcript'
    media: tuple[tuple[str, str], ...] = ()  # (kind, media_files status), by kind


@dataclass(frozen=True, slots=True)
class WarehouseView:
    """The warehouse facts the plan needs, for the batch's videos only (jobs: all videos)."""

    videos: Mapping[VideoFacts, int]  # how many of the batch's videos are in each state
    running_jobs: int  # transcript_jobs still Running for the batch's videos
    finished_jobs: int  # Success or Fail jobs in the whole warehouse
    finished_polls: int  # their poll_count summed

    @classmethod
    def empty(cls) -> WarehouseView:
        return cls({}, 0, 0, 0)


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
    file). The batch's videos the warehouse does not know are new."""
    groups = Counter(view.videos)
    groups[VideoFacts()] += links.distinct - sum(view.videos.values())
    files = {f: [dict(f.media).get(kind) for kind in media_kinds] for f in groups}
    calls = {
        f: next_calls(
            f.metadata,
            f.transcript,
            resubmit_uncertain=resubmit_uncertain,
            refresh_media=refresh_expired and MediaStatus.EXPIRED in files[f],
        )
        for f in groups
    }

    def videos(test: Callable[[VideoFacts], bool]) -> int:
        return sum(n for f, n in groups.items() if test(f))

    def submitted(status: str | None) -> int:
        return videos(lambda f: calls[f].may_submit and f.transcript == status)

    media_files = sum(
        n * _files_to_fetch(files[f], calls[f].needs_metadata, f.metadata == ItemStatus.OK)
        for f, n in groups.items()
    )
    submits = videos(lambda f: calls[f].may_submit)
    per_job, source = polls_per_job(view.finished_jobs, view.finished_polls)
    # round() first: 25 * 2.2 is 55.00000000000001 in floats, which must not ceil to 56.
    expected_polls = math.ceil(round((submits + view.running_jobs) * per_job, 6))
    metadata_calls = videos(lambda f: calls[f].needs_metadata)
    return Plan(
        lines=links.lines,
        usable_links=links.usable,
        distinct_videos=links.distinct,
        metadata_ok=videos(lambda f: f.metadata == ItemStatus.OK),
        transcripts_ok=videos(lambda f: f.transcript == ItemStatus.OK),
        running_jobs=view.running_jobs,
        failed_metadata=videos(lambda f: f.metadata == ItemStatus.FAILED),
        failed_transcript=videos(lambda f: f.transcript == ItemStatus.FAILED),
        uncertain=videos(lambda f: f.transcript == ItemStatus.UNCERTAIN),
        resubmit_uncertain=resubmit_uncertain,
        metadata_calls=metadata_calls,
        metadata_never_tried=videos(lambda f: f.metadata is None),
        metadata_retry=videos(lambda f: f.metadata == ItemStatus.RETRY),
        submits=submits,
        submits_never_tried=submitted(None),
        submits_retry=submitted(ItemStatus.RETRY),
        submits_uncertain=submitted(ItemStatus.UNCERTAIN),
        finished_jobs=view.finished_jobs,
        polls_per_job=per_job,
        polls_per_job_source=source,
        expected_polls=expected_polls,
        total_calls=metadata_calls + submits + expected_polls,
        max_calls=max_calls,
        media_kinds=tuple(media_kinds),
        media_files=media_files,
        media_expired=sum(n * files[f].count(MediaStatus.EXPIRED) for f, n in groups.items()),
        refresh_expired=refresh_expired,
        metadata_refresh=videos(lambda f: calls[f].needs_metadata and f.metadata == ItemStatus.OK),
    )


def _files_to_fetch(files: list[str | None], called: bool, resolved: bool) -> int:
    """A video's wanted files this run fetches: every one not saved when its metadata is
    called (its answer names them all), else the pending ones and those never recorded."""
    if called:
        return sum(status != MediaStatus.OK for status in files)
    if not resolved:
        return 0
    return sum(status in (None, MediaStatus.PENDING) for status in files)


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
    from pipeline.links import link_file_problem, parse_blocks
    from pipeline.plan_reads import read_warehouse, stage_link_keys
    from pipeline.storage.db import WarehouseLockedError, connect, warehouse_exists

    links_file = Path(links)
    if problem := link_file_problem(links_file):
        print(problem, file=sys.stderr)
        return 2
    warehouse = settings.warehouse
    db_exists = warehouse_exists(warehouse)
    view = WarehouseView.empty()
    # The keys wait in a DuckDB of their own, so the warehouse is not held while parsing; it
    # has the warehouse's memory cap, and spills past it to a folder of its own.
    with (
        tempfile.TemporaryDirectory(prefix="plan-keys-") as spill,
        duckdb.connect(
            config={"memory_limit": warehouse.duckdb_memory, "temp_directory": spill}
        ) as keys,
    ):
        counts = stage_link_keys(keys, parse_blocks(links_file))
        if db_exists:
            try:
                with connect(
                    warehouse, read_only=True, wait_seconds=settings.lock_wait_seconds
                ) as conn:
                    view = read_warehouse(conn, keys)
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
