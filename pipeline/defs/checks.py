"""Data-quality checks people see next to the tables in the Dagster UI.

Each check is a function of a warehouse connection, registered with its asset by `check`; one
Dagster step (`warehouse_checks`) runs them all on one connection: five steps cost five step
start-ups and their event-log writes at the end of every run, while its user waits.
"""

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from pipeline.defs.resources import WarehouseResource
from pipeline.reads.reports import status_counts

# Above this share of failed videos something systemic is wrong (token, quota, workflow).
MAX_FAILURE_RATE = 0.2

Evaluate = Callable[[duckdb.DuckDBPyConnection], dg.AssetCheckResult]
CHECKS: dict[dg.AssetCheckKey, tuple[dg.AssetCheckSpec, Evaluate]] = {}


def check(asset: str, description: str) -> Callable[[Evaluate], Evaluate]:
    def register(evaluate: Evaluate) -> Evaluate:
        spec = dg.AssetCheckSpec(evaluate.__name__, asset=asset, description=description)
        CHECKS[spec.key] = (spec, evaluate)
        return evaluate

    return register


@check("transcripts", "Every video whose job succeeded has a transcripts row.")
def successful_jobs_have_transcripts(conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """A paid, successful job whose text never reached `transcripts` is money spent for nothing:
    an answer that would not decode, or a normalization that missed it."""
    missing = conn.execute(
        "SELECT count(DISTINCT j.video_key) FROM transcript_jobs j "
        "LEFT JOIN transcripts t USING (video_key) "
        "WHERE j.status = 'Success' AND t.video_key IS NULL"
    ).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"videos_without_transcript": missing})


@check("transcripts", "Each transcript's char_count is the length of its content.")
def transcript_lengths_agree(conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """Text analysis and reports trust char_count; a mismatch means a decoding or upsert bug."""
    wrong = conn.execute(
        "SELECT count(*) FROM transcripts WHERE char_count <> length(coalesce(content, ''))"
    ).fetchone()[0]
    return dg.AssetCheckResult(passed=wrong == 0, metadata={"mismatched": wrong})


@check("videos", "Every link whose metadata is ok has a videos row.")
def resolved_links_have_videos(conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    missing = conn.execute(
        "SELECT count(*) FROM link_status s LEFT JOIN videos v USING (video_key) "
        "WHERE s.metadata_status = 'ok' AND v.video_key IS NULL"
    ).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"missing_videos": missing})


@check(
    "transcripts",
    "Transcripts Coze cut as too large: kept up to the cut, reported here so a reader knows "
    "which texts are incomplete.",
)
def trimmed_transcripts(conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
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


@check("link_status", f"At most {MAX_FAILURE_RATE:.0%} of videos failed.")
def failure_rate_is_low(conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
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


@dg.multi_asset_check(specs=[spec for spec, _ in CHECKS.values()], can_subset=True)
def warehouse_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks (all of them in a run; any one from the UI), on one connection."""
    with warehouse.connect() as conn:
        for key in sorted(context.selected_asset_check_keys, key=str):
            spec, evaluate = CHECKS[key]
            yield evaluate(conn)._replace(asset_key=spec.asset_key, check_name=spec.name)
