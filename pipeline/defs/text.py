"""The analysis layer: segmented transcripts, keywords and the search index."""

import dagster as dg

from pipeline.defs.resources import WarehouseResource
from pipeline.text.warehouse import update_text_tables
from pipeline.warehouse.reports import status_counts

ANALYSIS = "analysis"


@dg.asset(deps=["transcripts", "videos", "video_hashtags"], group_name=ANALYSIS, kinds={"duckdb"})
def text_analysis(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Corpus-wide, so not partitioned; incremental: only changed transcripts are re-segmented."""
    stats = update_text_tables(lambda: warehouse.connect(logger=context.log), context.log)
    with warehouse.connect(read_only=True, logger=context.log) as conn:
        failure_rate = status_counts(conn).failure_rate
    context.log.info(f"text analysis: {stats.processed} transcripts (re)segmented")
    return dg.MaterializeResult(
        metadata={
            "videos": stats.videos,
            "transcripts": stats.transcripts,
            "sentences": stats.sentences,
            "tokens": stats.tokens,
            "resegmented": stats.processed,
            "mean_chars_per_transcript": float(stats.mean_chars_per_transcript),
            "failure_rate": failure_rate,
            "top_terms": dg.MetadataValue.md(stats.markdown()),
        }
    )
