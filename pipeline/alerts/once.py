"""One alert per cause until the cause clears, whoever notices the run.

The state is the Dagster instance's own run history: a run whose alert went out carries the
tag `pipeline/alerted` = its cause's key, and a cause is cleared by any successful run of the
job that ended after that run. So the daemon's sensor and `python -m pipeline run` share it
with no file or table of their own, it persists with the instance (also a PostgreSQL one that
hosts share, docs/postgres.md), and the UI shows which run was alerted. Deciding, posting and
tagging happen under a lock file in DAGSTER_HOME, so a sensor and a CLI on this host that look
at the same run at the same moment send one message.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from pipeline.alerts.message import Alert, Cause, batch_of, cause_of, webhook_body
from pipeline.alerts.send import post_alert

ALERTED_TAG = "pipeline/alerted"
LOCK_FILE = ".pipeline-alerts.lock"


@dataclass(frozen=True)
class Outcome:
    line: str
    """One line for the log: sent, not sent again (and why), or could not be sent."""
    failed: bool
    """The webhook could not be reached or refused the message."""


@contextmanager
def _host_lock(instance: dg.DagsterInstance) -> Iterator[None]:
    path = Path(instance.root_directory) / LOCK_FILE
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _when(timestamp: float | None, fallback: datetime) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else fallback


def alerted_before(
    instance: dg.DagsterInstance, job_name: str, cause: Cause, ended: datetime
) -> str | None:
    """The run this cause was last alerted for, when no run of the job succeeded between its
    end and `ended`; None when the cause is new or cleared since."""
    latest = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, tags={ALERTED_TAG: cause.key}), limit=1
    )
    if not latest:
        return None
    alerted_at = _when(latest[0].end_time, latest[0].create_timestamp)
    successes = instance.get_run_records(
        dg.RunsFilter(
            job_name=job_name, statuses=[dg.DagsterRunStatus.SUCCESS], updated_after=alerted_at
        )
    )
    if any(alerted_at < _when(s.end_time, s.update_timestamp) <= ended for s in successes):
        return None
    return latest[0].dagster_run.run_id


def alert_failed_run(instance: dg.DagsterInstance, run_id: str, url: str) -> Outcome:
    """Post the failed run's cause to `url` unless it was already told and no run succeeded
    since; only a message that was delivered counts as told."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise ValueError(f"no run {run_id} in this Dagster instance")
    run = record.dagster_run
    steps = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ends = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    cause = cause_of(
        [entry.dagster_event for entry in steps if entry.dagster_event is not None],
        ends[-1].dagster_event.message if ends and ends[-1].dagster_event else None,
    )
    ended = _when(record.end_time, record.update_timestamp)
    with _host_lock(instance):
        if earlier := alerted_before(instance, run.job_name, cause, ended):
            return Outcome(
                f"no alert for run {run_id}: the same cause ({cause.key}) was alerted for run "
                f"{earlier} and no run has succeeded since",
                failed=False,
            )
        alert = Alert(cause, batch_of(run.tags), run_id)
        if problem := post_alert(url, webhook_body(url, alert)):
            return Outcome(problem, failed=True)
        instance.add_run_tags(run_id, {ALERTED_TAG: cause.key})
    return Outcome(f"alert sent to {urlsplit(url).hostname}: {cause.key}", failed=False)
