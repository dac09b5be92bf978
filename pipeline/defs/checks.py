"""Data-quality checks people see next to the tables in the Dagster UI."""

import dagster as dg

from pipeline.defs.resources import WarehouseResource
from pipeline.warehouse.reports import status_counts

# Above this share of failed videos something systemic is wrong (token, quota, workflow).
MAX_FAILURE_RATE = 0.2


@dg.asset_check(
    asset="transcripts", description="Every video whose job succeeded has a transcripts row."
)
def successful_jobs_have_transcripts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """A paid, successful job whose text never reached `transcripts` is money spent for nothing:
    an answer that would not decode, or a normalization that missed it."""
    with warehouse.connect() as conn:
        missing = conn.execute(
            "SELECT count(DISTINCT j.video_key) FROM transcript_jobs j "
            "LEFT JOIN transcripts t USING (video_key) "
            "WHERE j.status = 'Success' AND t.video_key IS NULL"
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"videos_without_transcript": missing})


@dg.asset_check(
    asset="transcripts", description="Each transcript's char_count is the length of its content."
)
def transcript_lengths_agree(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Text analysis and reports trust char_count; a mismatch means a decoding or upsert bug."""
    with warehouse.connect() as conn:
        wrong = conn.execute(
            "SELECT count(*) FROM transcripts WHERE char_count <> length(coalesce(content, ''))"
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=wrong == 0, metadata={"mismatched": wrong})


@dg.asset_check(asset="videos", description="Every link whose metadata is ok has a videos row.")
def resolved_links_have_videos(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        missing = conn.execute(
            "SELECT count(*) FROM link_status s LEFT JOIN videos v USING (video_key) "
            "WHERE s.metadata_status = 'ok' AND v.video_key IS NULL"
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"missing_videos": missing})


@dg.asset_check(
    asset="transcripts",
    description="Transcripts Coze cut as too large: kept up to the cut, reported here so a "
    "reader knows which texts are incomplete.",
)
def trimmed_transcripts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        trimmed, total = conn.execute(
            "SELECT count(*) FILTER (WHERE is_trimmed), count(*) FROM transcripts"
        ).fetchone()
        examples = [
            r[0]
            for r in conn.execute(
                "SELECT video_key FROM transcripts WHERE is_trimmed ORDER BY video_key LIMIT 10"
            ).fetchall()
        ]
    return dg.AssetCheckResult(
        passed=trimmed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{trimmed} of {total} transcripts were cut by Coze" if trimmed else None,
        metadata={
            "trimmed": trimmed,
            "transcripts": total,
            "trimmed_videos": dg.MetadataValue.json(examples),
        },
    )


@dg.asset_check(
    asset="link_status", description=f"At most {MAX_FAILURE_RATE:.0%} of videos failed."
)
def failure_rate_is_low(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        status = status_counts(conn)
    return dg.AssetCheckResult(
        passed=status.failure_rate <= MAX_FAILURE_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": status.failed,
            "videos": status.videos,
            "failure_rate": status.failure_rate,
        },
    )


ALL_CHECKS = [
    successful_jobs_have_transcripts,
    transcript_lengths_agree,
    resolved_links_have_videos,
    trimmed_transcripts,
    failure_rate_is_low,
]
