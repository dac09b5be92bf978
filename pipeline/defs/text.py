"""The analysis layer: segmented transcripts, keywords and the search index, one asset per table."""

from collections.abc import Iterator

import dagster as dg

from pipeline.defs.catalog import table_spec
from pipeline.defs.resources import DictionaryResource, WarehouseResource
from pipeline.reads import reports
from pipeline.text.analysis import update_text_tables
from pipeline.text.index import refresh_lake_index

ANALYSIS = "analysis"
TEXT_TABLES = (
    "transcript_sentences",
    "transcript_tokens",
    "video_keywords",
    "search_documents",
    "text_state",
    "token_documents",
    "keyword_refresh",
    "text_unfinished",
    "index_unfinished",
    "keyword_stats",
)


@dg.multi_asset(
    specs=[
        table_spec(name, deps=["transcripts", "videos", "video_hashtags"], group=ANALYSIS)
        for name in TEXT_TABLES
    ],
)
def text_analysis(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, dictionary: DictionaryResource
) -> Iterator[dg.MaterializeResult]:
    """Corpus-wide, so not partitioned; incremental: only changed transcripts are re-segmented.
    Row counts are the tables' totals."""
    with warehouse.published_on_failure(context.log):
        stats = update_text_tables(
            lambda: warehouse.connect(logger=context.log),
            context.log,
            dictionary_dir=dictionary.path,
        )
        if refresh_lake_index(warehouse.location, changed=stats.documents_changed):
            context.log.info(
                f"search index rebuilt from the lake in {warehouse.location.search_index}"
            )
        with warehouse.connect(read_only=True, logger=context.log) as conn:
            rows = reports.row_counts(conn, TEXT_TABLES)
    context.log.info(f"text analysis: {stats.processed} transcripts (re)segmented")
    summary: dict[str, dict[str, dg.RawMetadataValue]] = {
        "transcript_sentences": {
            "transcripts": stats.transcripts,
            "resegmented": stats.processed,
            "mean_chars_per_transcript": float(stats.mean_chars_per_transcript),
        },
        "video_keywords": {"top_terms": dg.MetadataValue.md(stats.markdown())},
        "search_documents": {"videos": stats.videos, "indexed": stats.indexed},
    }
    for name in TEXT_TABLES:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={"dagster/row_count": rows[name], **summary.get(name, {})},
        )
