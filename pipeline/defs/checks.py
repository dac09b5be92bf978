"""Data-quality checks people see next to the tables in the Dagster UI."""

import dagster as dg

from pipeline.defs.resources import WarehouseResource

# Above this share of failed videos something systemic is wrong (token, quota, workflow).
MAX_FAILURE_RATE = 0.2


@dg.asset_check(asset="videos", description="video_key identifies one row across the warehouse.")
def videos_have_unique_keys(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT video_key FROM videos GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_keys": dupes})


@dg.asset_check(asset="videos", description="Every link whose metadata is ok has a videos row.")
def resolved_links_have_videos(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        missing = conn.execute(
            "SELECT count(*) FROM link_status s LEFT JOIN videos v USING (video_key) "
            "WHERE s.metadata_status = 'ok' AND v.video_key IS NULL"
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"missing_videos": missing})


@dg.asset_check(asset="transcripts", description="Coze trimmed none of the stored transcripts.")
def no_trimmed_transcripts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        trimmed, total = conn.execute(
            "SELECT count(*) FILTER (WHERE is_trimmed), count(*) FROM transcripts"
        ).fetchone()
    return dg.AssetCheckResult(
        passed=trimmed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"trimmed": trimmed, "transcripts": total},
    )


@dg.asset_check(
    asset="link_status", description=f"At most {MAX_FAILURE_RATE:.0%} of videos failed."
)
def failure_rate_is_low(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        failed, total = conn.execute(
            "SELECT count(*) FILTER (WHERE metadata_status = 'failed' OR transcript_status = 'failed'), "
            "count(*) FROM link_status"
        ).fetchone()
    rate = failed / total if total else 0.0
    return dg.AssetCheckResult(
        passed=rate <= MAX_FAILURE_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed": failed, "videos": total, "failure_rate": rate},
    )


ALL_CHECKS = [
    videos_have_unique_keys,
    resolved_links_have_videos,
    no_trimmed_transcripts,
    failure_rate_is_low,
]
