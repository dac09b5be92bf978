"""The pipeline's assets. Each body only wires: the logic lives in `pipeline.steps`,
`pipeline.derive` and `pipeline.links`, one module per step."""

import asyncio
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from pipeline.coze.budget import CallBudget
from pipeline.coze.durations import WINDOW as DURATION_WINDOW
from pipeline.coze.durations import JobDurations
from pipeline.coze.errors import ServiceHaltError
from pipeline.coze.plan import settle_rate
from pipeline.defs.catalog import TABLE_DOCS, table_metadata, table_spec
from pipeline.defs.figures import Figures, batch_rows, line_figures, record_batch_figures
from pipeline.defs.media import media_figures
from pipeline.defs.partitions import batches, one_run_per_backfill
from pipeline.defs.resources import (
    CozeResource,
    LinkFilesResource,
    MediaResource,
    MissingLinkFileError,
    WarehouseResource,
)
from pipeline.derive.staging import stage_link_files
from pipeline.derive.tables import refresh_normalized, stale_keys
from pipeline.reads import reports
from pipeline.reads import work as queries
from pipeline.status import MediaStatus
from pipeline.steps.calls import CallsProgress, call_coze
from pipeline.steps.halts import clear_halts, record_halt
from pipeline.steps.media import utc_now

API_POOL = "coze_api"
INGEST = "ingest"
WAREHOUSE = "warehouse"


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    kinds={"duckdb"},
    description=TABLE_DOCS["links"] + " A file emptied of lines keeps its batch's rows.",
    metadata=table_metadata("links"),
)
def links(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    link_files: LinkFilesResource,
    coze: CozeResource,
) -> dg.MaterializeResult:
    """Parse each batch's link file into `links`, replacing that batch's rows; a removed line
    whose video has a paid transcript job stays, unlisted (`pipeline.derive.staging`).

    A file with no lines left keeps its batch's rows: an empty file is more often a save cut
    short than a wish to forget the batch, and its rows are what keeps the batch's paid jobs
    polled, in `link_status` and in the schedule's sight."""
    tags = coze.settings().endpoint_tags
    context.log.info(f"Coze endpoint of this run: {tags['coze/endpoint']} ({tags['coze/service']})")
    files = {}
    for batch in context.partition_keys:
        try:
            files[batch] = link_files.path(batch)
        except MissingLinkFileError as missing:
            raise dg.Failure(description=str(missing), allow_retries=False) from None
    with warehouse.connect(logger=context.log) as conn:
        staged = stage_link_files(conn, files)
    for batch, f in staged.figures.items():
        context.log.info(f"{batch}: {f.lines} lines, {f.bad_lines} not usable")
    if staged.unlisted:
        context.log.warning(
            f"{staged.unlisted} lines no longer in the link files had paid transcript jobs: kept as "
            "unlisted (links.listed = false), so their jobs are still polled and collected"
        )
    for batch, rows in staged.kept.items():
        context.log.warning(
            f"{batch}: the link file has no lines now, but the warehouse has {rows} rows for "
            "this batch; they are kept, not deleted, so its paid jobs are still collected (an "
            "empty file is usually a save cut short). Write the lines back, or delete the "
            "batch's rows from `links` by hand to drop it."
        )
    record_batch_figures(context, lambda batch: {"links": line_figures(staged.figures[batch])})
    return dg.MaterializeResult(
        metadata={
            **line_figures(staged.total),
            "empty_files_rows_kept": dg.MetadataValue.json(staged.kept),
            "unlisted_lines_kept": staged.unlisted,
        }
    )


class ApiRunConfig(dg.Config):
    """What a person may decide per run (Launchpad, or `python -m pipeline run` flags)."""

    max_calls: int | None = Field(
        default=None,
        description="API calls this run may send in all (default PIPELINE_MAX_CALLS); the run "
        "stops cleanly there and leaves the rest pending.",
    )
    resubmit_uncertain: bool = Field(
        default=False,
        description="Submit again the videos whose last submit got no answer and may have "
        "started a paid job nobody saw (transcript_status 'uncertain'): pays once more each.",
    )
    refresh_expired: bool = Field(
        default=False,
        description="Run the metadata workflow again (paid) for videos whose wanted media "
        "expired before it was saved (media_files status 'expired'), then save it.",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "metadata_responses",
            deps=[links],
            group_name=INGEST,
            kinds={"coze"},
            description="Every metadata workflow answer for the batch's videos, in the raw layer.",
        ),
        dg.AssetSpec(
            "transcript_jobs",
            deps=["metadata_responses"],
            group_name=INGEST,
            kinds={"coze", "duckdb"},
            description="One transcript job submitted for each resolved video with no live or "
            "successful job: " + TABLE_DOCS["transcript_jobs"],
            metadata=table_metadata("transcript_jobs"),
        ),
        dg.AssetSpec(
            "transcript_responses",
            deps=["transcript_jobs"],
            group_name=INGEST,
            kinds={"coze"},
            description="The batch's jobs polled until they end or the poll budget does.",
        ),
        table_spec("raw_responses", deps=["links"], group=INGEST),
        table_spec("item_state", deps=["raw_responses"], group=INGEST),
        table_spec("service_halts", deps=["links"], group=INGEST),
        table_spec("media_files", deps=["metadata_responses"], group=INGEST),
    ],
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    pool=API_POOL,
)
def coze_calls(
    context: dg.AssetExecutionContext,
    config: ApiRunConfig,
    warehouse: WarehouseResource,
    coze: CozeResource,
    media: MediaResource,
) -> Iterator[dg.MaterializeResult]:
    """One step for the three, so submits start while metadata is still being resolved and
    every request shares one rate (`pipeline.steps.calls`); media files are saved as the
    metadata answers name them (`pipeline.steps.media`), beside the calls, never through their
    rate. Answers recorded by an interrupted run are recovered first, so the work list sees
    them; a Coze halt becomes a step failure whose message is the one line a person needs."""
    recorder = warehouse.recorder(context.log)
    recorder.recover()
    batches = context.partition_keys
    refresh = media.wanted if config.refresh_expired else ()
    with warehouse.connect(logger=context.log) as conn:
        work = queries.coze_todo(
            conn, batches, resubmit_uncertain=config.resubmit_uncertain, refresh_kinds=refresh
        )
        running = queries.running_jobs(conn, batches)
        durations = JobDurations(queries.recent_run_seconds(conn, DURATION_WINDOW))
        backlog = queries.media_todo(conn, batches, media.wanted, utc_now())
        saved = (
            queries.recorded_kinds(conn, [w.item.video_key for w in work], MediaStatus.OK)
            if refresh
            else {}
        )
    budget = CallBudget(config.max_calls or coze.max_calls)
    fetcher = media.fetcher(warehouse, context.log, saved)

    async def call() -> CallsProgress:
        async with coze.client(budget) as client:
            context.log.info(f"coze: {await settle_rate(client)}")
            context.log.info(
                f"coze: {work.metadata_calls} videos to resolve, "
                f"{work.may_submit} may be submitted, {len(running)} jobs running"
            )
            return await call_coze(
                client,
                recorder,
                work,
                running,
                durations,
                poll_budget_seconds=coze.poll_budget_seconds,
                log=context.log,
                on_metadata=fetcher.offer_answer if media.wanted else None,
            )

    try:
        with work, fetcher:
            if backlog:
                context.log.info(f"media: {len(backlog)} files left by earlier runs")
            fetcher.offer(backlog)
            progress = asyncio.run(call())
            if fetcher.offered:
                context.log.info("media: waiting for the last downloads")
        context.log.info(fetcher.summary())
    except ServiceHaltError as halt:
        with warehouse.connect(logger=context.log) as conn:
            until = record_halt(conn, halt)
        # The run ends here, before `read_snapshot`: the halt and the answers before it, for
        # readers.
        warehouse.publish(context.log)
        context.log.error(f"automated runs wait until {until:%Y-%m-%d %H:%M} UTC")
        raise dg.Failure(
            description=str(halt),
            metadata=halt.failure_metadata(),
            allow_retries=False,
        ) from None
    if budget.sent:
        with warehouse.connect(logger=context.log) as conn:
            clear_halts(conn)
    submits = progress.submits
    if submits.uncertain:
        context.log.warning(
            f"{submits.uncertain} submits got no answer after reaching Coze: marked uncertain, "
            "not resubmitted (python -m pipeline run --resubmit-uncertain pays again)"
        )
    if progress.still_running:
        context.log.info(f"{progress.still_running} jobs still running; the next run collects them")
    with warehouse.connect(logger=context.log) as conn:
        rows = reports.row_counts(
            conn, ("raw_responses", "item_state", "transcript_jobs", "media_files"), batches
        )
        rows |= reports.row_counts(conn, ("service_halts",))  # the deployment's, not a batch's
        saved_media = media_figures(conn, batches, media)

        def batch_figures(batch: str) -> Figures:
            tables = ("raw_responses", "item_state", "transcript_jobs", "media_files")
            figures = {name: dict(m) for name, m in batch_rows(conn, tables)(batch).items()}
            figures["media_files"].update(media_figures(conn, [batch], media))
            return figures

        record_batch_figures(context, batch_figures)
    yield dg.MaterializeResult(
        asset_key="metadata_responses",
        metadata={
            "api_calls": budget.sent,
            "call_budget_spent": progress.budget_spent,
            "called": progress.metadata.done,
            "failed": progress.metadata.failed,
        },
    )
    yield dg.MaterializeResult(
        asset_key="transcript_jobs",
        metadata={
            "submitted": submits.done - submits.failed - submits.uncertain,
            "failed": submits.failed,
            "uncertain": submits.uncertain,
            "dagster/row_count": rows["transcript_jobs"],
        },
    )
    for table in ("raw_responses", "item_state", "service_halts"):
        yield dg.MaterializeResult(asset_key=table, metadata={"dagster/row_count": rows[table]})
    yield dg.MaterializeResult(
        asset_key="media_files",
        metadata={"dagster/row_count": rows["media_files"], **saved_media},
    )
    yield dg.MaterializeResult(
        asset_key="transcript_responses",
        metadata={
            "polls": progress.poll_calls,
            "finished": progress.polls.done,
            "failed": progress.polls.failed,
            "still_running": progress.still_running,
        },
    )


NORMALIZED = ("videos", "video_hashtags", "video_mentions", "authors", "transcripts", "link_status")


@dg.multi_asset(
    specs=[
        table_spec(name, deps=["metadata_responses", "transcript_responses"], group=WAREHOUSE)
        for name in NORMALIZED
    ]
    + [table_spec("hashtag_stats", deps=["video_hashtags"], group=WAREHOUSE)],
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
)
def normalized_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Derive the normalized tables for the batch's videos from the raw layer alone, rewriting
    only the videos whose answers or links changed since they were last derived."""
    with warehouse.published_on_failure(context.log), warehouse.connect(logger=context.log) as conn:
        keys = queries.batch_video_keys(conn, context.partition_keys)
        stale = stale_keys(conn, keys)
        context.log.info(
            f"normalizing {len(stale)} of the batch's {len(keys)} videos from the raw layer "
            "(the others' rows are current)"
        )
        counts = refresh_normalized(conn, stale, commit_each_chunk=True)
        rows = reports.row_counts(conn, NORMALIZED, context.partition_keys)
        rows |= reports.row_counts(conn, ("hashtag_stats",))  # corpus-wide
        status = reports.transcript_statuses(conn, context.partition_keys)
        trimmed = reports.status_counts(conn, context.partition_keys).trimmed

        def batch_figures(batch: str) -> Figures:
            figures = {name: dict(m) for name, m in batch_rows(conn, NORMALIZED)(batch).items()}
            statuses = dict.fromkeys(status, 0) | reports.transcript_statuses(conn, [batch])
            figures["link_status"].update({f"transcripts_{k}": v for k, v in statuses.items()})
            figures["transcripts"]["trimmed"] = reports.status_counts(conn, [batch]).trimmed
            return figures

        record_batch_figures(context, batch_figures)
    if counts.undecodable:
        context.log.warning(f"{counts.undecodable} stored answers could not be decoded")
    if trimmed:
        context.log.warning(
            f"{trimmed} transcripts were cut by Coze as too large: kept up to the cut "
            "(transcripts.is_trimmed)"
        )
    for name in (*NORMALIZED, "hashtag_stats"):
        metadata: dict[str, dg.RawMetadataValue] = {"dagster/row_count": rows[name]}
        if name == "link_status":
            metadata.update({f"transcripts_{k}": v for k, v in status.items()})
        if name == "transcripts":
            metadata["trimmed"] = trimmed
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
