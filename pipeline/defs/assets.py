"""The pipeline's assets. Each body only wires: the logic lives in `pipeline.steps`,
`pipeline.warehouse` and `pipeline.links`, one module per step."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from pipeline.coze.budget import CallBudget
from pipeline.coze.client import CozeClient
from pipeline.coze.errors import ServiceHaltError
from pipeline.defs.partitions import batches, one_run_per_backfill
from pipeline.defs.resources import CozeResource, LinkFilesResource, WarehouseResource
from pipeline.links import parse_file
from pipeline.steps.metadata import fetch_metadata
from pipeline.steps.poll import poll_jobs
from pipeline.steps.runner import StepProgress
from pipeline.steps.submit import submit_transcripts
from pipeline.warehouse import queries
from pipeline.warehouse.halts import clear_halts, record_halt
from pipeline.warehouse.recorder import Recorder
from pipeline.warehouse.staging import batch_frame, stage_links, stored_lines
from pipeline.warehouse.tables import refresh_normalized

API_POOL = "coze_api"
INGEST = "ingest"
WAREHOUSE = "warehouse"


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    kinds={"duckdb"},
)
def links(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    link_files: LinkFilesResource,
) -> dg.MaterializeResult:
    """Parse each batch's link file into `links`, replacing that batch's rows.

    A file with no lines left keeps its batch's rows: an empty file is more often a save cut
    short than a wish to forget the batch, and its rows are what keeps the batch's paid jobs
    polled, in `link_status` and in the schedule's sight."""
    frames = []
    empty = []
    for batch in context.partition_keys:
        parsed = parse_file(link_files.path(batch))
        bad = parsed["error"].is_not_null().sum()
        context.log.info(f"{batch}: {parsed.height} lines, {bad} not usable")
        frames.append(batch_frame(batch, parsed))
        if parsed.height == 0:
            empty.append(batch)
    data = pl.concat(frames)
    with warehouse.connect(logger=context.log) as conn:
        kept = stored_lines(conn, empty)
        stage_links(conn, data)
    for batch, rows in kept.items():
        context.log.warning(
            f"{batch}: the link file has no lines now, but the warehouse has {rows} rows for "
            "this batch; they are kept, not deleted, so its paid jobs are still collected (an "
            "empty file is usually a save cut short). Write the lines back, or delete the "
            "batch's rows from `links` by hand to drop it."
        )
    errors = data.filter(pl.col("error").is_not_null())
    return dg.MaterializeResult(
        metadata={
            "lines": data.height,
            "bad_lines": errors.height,
            "distinct_videos": data["video_key"].drop_nulls().n_unique(),
            "errors_by_reason": dg.MetadataValue.json(
                dict(errors.group_by("error").len().iter_rows())
            ),
            "empty_files_rows_kept": dg.MetadataValue.json(kept),
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


Step = Callable[[Recorder, CozeClient], Awaitable[StepProgress]]


def calls_used_in_run(context: dg.AssetExecutionContext) -> int:
    """API calls the run's earlier steps sent, from their materializations: the call budget
    spans the run, and with the multiprocess executor each step is its own process."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    per_asset: dict[str, int] = {}
    for record in records:
        materialization = record.asset_materialization
        calls = materialization.metadata.get("api_calls") if materialization else None
        if materialization is not None and calls is not None:
            key = materialization.asset_key.to_user_string()
            per_asset[key] = max(per_asset.get(key, 0), int(calls.value))  # one per partition
    return sum(per_asset.values())


def _run_api_step(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    coze: CozeResource,
    config: ApiRunConfig,
    step: Step,
) -> tuple[StepProgress, dict[str, int | bool]]:
    """Recover an interrupted run's answers first, so the step's work list sees them; turn a
    Coze halt into a step failure whose message is the one line a person needs."""
    recorder = warehouse.recorder(context.log)
    recorder.recover()
    budget = CallBudget(config.max_calls or coze.max_calls, calls_used_in_run(context))

    async def call() -> StepProgress:
        async with coze.client(budget) as client:
            return await step(recorder, client)

    try:
        progress = asyncio.run(call())
    except ServiceHaltError as halt:
        with warehouse.connect(logger=context.log) as conn:
            until = record_halt(conn, halt)
        context.log.error(f"automated runs wait until {until:%Y-%m-%d %H:%M} UTC")
        raise dg.Failure(
            description=str(halt),
            metadata={"coze_code": halt.code, "scope": halt.scope},
            allow_retries=False,
        ) from None
    if budget.sent:
        with warehouse.connect(logger=context.log) as conn:
            clear_halts(conn)
    metadata: dict[str, int | bool] = {
        "api_calls": budget.sent,
        "call_budget_spent": progress.budget_spent,
    }
    return progress, metadata


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    deps=[links],
    pool=API_POOL,
    kinds={"coze"},
)
def metadata_responses(
    context: dg.AssetExecutionContext,
    config: ApiRunConfig,
    warehouse: WarehouseResource,
    coze: CozeResource,
) -> dg.MaterializeResult:
    """Call the metadata workflow for every video of the batch not yet resolved."""

    async def step(recorder: Recorder, client: CozeClient) -> StepProgress:
        with warehouse.connect(logger=context.log) as conn:
            todo = queries.metadata_todo(conn, context.partition_keys)
        context.log.info(f"metadata: {len(todo)} videos to resolve")
        return await fetch_metadata(
            client, recorder, todo, workers=client.settings.max_in_flight, log=context.log
        )

    progress, metadata = _run_api_step(context, warehouse, coze, config, step)
    return dg.MaterializeResult(
        metadata={**metadata, "called": progress.done, "failed": progress.failed}
    )


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    deps=[metadata_responses],
    pool=API_POOL,
    kinds={"coze"},
)
def transcript_jobs(
    context: dg.AssetExecutionContext,
    config: ApiRunConfig,
    warehouse: WarehouseResource,
    coze: CozeResource,
) -> dg.MaterializeResult:
    """Submit a transcript job for each resolved video with no live or successful job."""

    async def step(recorder: Recorder, client: CozeClient) -> StepProgress:
        with warehouse.connect(logger=context.log) as conn:
            todo = queries.submit_todo(
                conn, context.partition_keys, resubmit_uncertain=config.resubmit_uncertain
            )
        context.log.info(f"transcripts: {len(todo)} jobs to submit")
        return await submit_transcripts(
            client, recorder, todo, workers=client.settings.max_in_flight, log=context.log
        )

    progress, metadata = _run_api_step(context, warehouse, coze, config, step)
    if progress.uncertain:
        context.log.warning(
            f"{progress.uncertain} submits got no answer after reaching Coze: marked uncertain, "
            "not resubmitted (python -m pipeline run --resubmit-uncertain pays again)"
        )
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "submitted": progress.done - progress.failed - progress.uncertain,
            "failed": progress.failed,
            "uncertain": progress.uncertain,
        }
    )


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    deps=[transcript_jobs],
    pool=API_POOL,
    kinds={"coze"},
)
def transcript_responses(
    context: dg.AssetExecutionContext,
    config: ApiRunConfig,
    warehouse: WarehouseResource,
    coze: CozeResource,
) -> dg.MaterializeResult:
    """Poll the batch's running jobs until they end or the poll budget does."""

    async def step(recorder: Recorder, client: CozeClient) -> StepProgress:
        with warehouse.connect(logger=context.log) as conn:
            jobs = queries.running_jobs(conn, context.partition_keys)
        context.log.info(f"transcripts: {len(jobs)} jobs pending")
        return await poll_jobs(
            client, recorder, jobs, budget_seconds=coze.poll_budget_seconds, log=context.log
        )

    progress, metadata = _run_api_step(context, warehouse, coze, config, step)
    still_running = progress.total - progress.done
    if still_running:
        context.log.info(f"{still_running} jobs still running; the next run collects them")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "finished": progress.done,
            "failed": progress.failed,
            "still_running": still_running,
        }
    )


NORMALIZED = ("videos", "video_hashtags", "video_mentions", "authors", "transcripts", "link_status")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[metadata_responses, transcript_responses],
            group_name=WAREHOUSE,
            kinds={"duckdb"},
        )
        for name in NORMALIZED
    ],
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
)
def normalized_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Derive the normalized tables for the batch's videos from the raw layer alone."""
    with warehouse.connect(logger=context.log) as conn:
        conn.execute("BEGIN TRANSACTION")
        keys = queries.batch_video_keys(conn, context.partition_keys)
        context.log.info(f"normalizing {len(keys)} videos from the raw layer")
        counts = refresh_normalized(conn, keys)
        conn.execute("COMMIT")
        totals = {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in NORMALIZED
        }
        status = dict(
            conn.execute(
                "SELECT transcript_status, count(*) FROM link_status "
                "WHERE video_key IN (SELECT video_key FROM links WHERE batch IN "
                f"({', '.join('?' for _ in context.partition_keys)})) GROUP BY 1",
                context.partition_keys,
            ).fetchall()
        )
    if counts.undecodable:
        context.log.warning(f"{counts.undecodable} stored answers could not be decoded")
    for name in NORMALIZED:
        metadata: dict[str, dg.RawMetadataValue] = {"dagster/row_count": totals[name]}
        if name == "link_status":
            metadata.update({f"transcripts_{k}": v for k, v in status.items()})
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
