"""The pipeline's assets. Each body only wires: the logic lives in `pipeline.steps`,
`pipeline.warehouse` and `pipeline.links`, one module per step."""

import asyncio
from collections.abc import Iterator

import dagster as dg
import polars as pl

from pipeline.defs.partitions import batches, one_run_per_backfill
from pipeline.defs.resources import CozeResource, LinkFilesResource, WarehouseResource
from pipeline.links import parse_file
from pipeline.steps.metadata import fetch_metadata
from pipeline.steps.poll import poll_jobs
from pipeline.steps.submit import submit_transcripts
from pipeline.warehouse import queries
from pipeline.warehouse.staging import batch_frame, stage_links
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
    """Parse each batch's link file into `links`, replacing that batch's rows."""
    frames = []
    for batch in context.partition_keys:
        parsed = parse_file(link_files.path(batch))
        bad = parsed["error"].is_not_null().sum()
        context.log.info(f"{batch}: {parsed.height} lines, {bad} not usable")
        frames.append(batch_frame(batch, parsed))
    data = pl.concat(frames)
    with warehouse.connect(logger=context.log) as conn:
        stage_links(conn, data)
    errors = data.filter(pl.col("error").is_not_null())
    return dg.MaterializeResult(
        metadata={
            "lines": data.height,
            "bad_lines": errors.height,
            "distinct_videos": data["video_key"].drop_nulls().n_unique(),
            "errors_by_reason": dg.MetadataValue.json(
                dict(errors.group_by("error").len().iter_rows())
            ),
        }
    )


def _run_step(context: dg.AssetExecutionContext, warehouse: WarehouseResource, step) -> dict:
    """Recover an interrupted run's answers first, so the work list below sees them."""
    recorder = warehouse.recorder(context.log)
    recorder.recover()
    return asyncio.run(step(recorder))


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    deps=[links],
    pool=API_POOL,
    kinds={"coze"},
)
def metadata_responses(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, coze: CozeResource
) -> dg.MaterializeResult:
    """Call the metadata workflow for every video of the batch not yet resolved."""

    async def step(recorder):
        with warehouse.connect(logger=context.log) as conn:
            todo = queries.metadata_todo(conn, context.partition_keys)
        context.log.info(f"metadata: {len(todo)} videos to resolve")
        async with coze.client() as client:
            return await fetch_metadata(
                client, recorder, todo, workers=client.settings.max_in_flight, log=context.log
            )

    progress = _run_step(context, warehouse, step)
    return dg.MaterializeResult(metadata={"called": progress.done, "failed": progress.failed})


@dg.asset(
    partitions_def=batches,
    backfill_policy=one_run_per_backfill,
    group_name=INGEST,
    deps=[metadata_responses],
    pool=API_POOL,
    kinds={"coze"},
)
def transcript_jobs(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, coze: CozeResource
) -> dg.MaterializeResult:
    """Submit a transcript job for each resolved video with no live or successful job."""

    async def step(recorder):
        with warehouse.connect(logger=context.log) as conn:
            todo = queries.submit_todo(conn, context.partition_keys)
        context.log.info(f"transcripts: {len(todo)} jobs to submit")
        async with coze.client() as client:
            return await submit_transcripts(
                client, recorder, todo, workers=client.settings.max_in_flight, log=context.log
            )

    progress = _run_step(context, warehouse, step)
    return dg.MaterializeResult(
        metadata={"submitted": progress.done - progress.failed, "failed": progress.failed}
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
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, coze: CozeResource
) -> dg.MaterializeResult:
    """Poll the batch's running jobs until they end or the poll budget does."""

    async def step(recorder):
        with warehouse.connect(logger=context.log) as conn:
            jobs = queries.running_jobs(conn, context.partition_keys)
        context.log.info(f"transcripts: {len(jobs)} jobs pending")
        async with coze.client() as client:
            return await poll_jobs(
                client, recorder, jobs, budget_seconds=coze.poll_budget_seconds, log=context.log
            )

    progress = _run_step(context, warehouse, step)
    still_running = progress.total - progress.done
    if still_running:
        context.log.info(f"{still_running} jobs still running; the next run collects them")
    return dg.MaterializeResult(
        metadata={
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
