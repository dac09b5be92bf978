"""The scripted entry: one batch, in-process, against the project's persistent Dagster instance.

Used by `make run` and by cron-like callers. Without a Coze token it starts the built-in
emulator, so a fresh clone runs end to end with no account.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dagster as dg

from pipeline.alerts.message import cause_of
from pipeline.alerts.once import alert_failed_run
from pipeline.definitions import build_definitions
from pipeline.defs.assets import API_POOL, coze_calls
from pipeline.defs.automation import JOB_NAME
from pipeline.defs.partitions import batch_key, batches
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.links import link_file_problem
from pipeline.reads import reports
from pipeline.scrub import scrub
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.storage.db import connect, warehouse_exists
from pipeline.storage.location import Warehouse
from pipeline.terminal import printable

PID_TAG = "pipeline/pid"
HOST_TAG = "pipeline/host"
POOL_CHECK_SECONDS = 3.0
POOL_LOG_SECONDS = 15.0

# Exit statuses of `python -m pipeline run`, documented in the README.
EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_COZE_HALTED = 3


@dataclass(frozen=True)
class RunFailure:
    line: str
    coze_halt: bool
    """Coze refused the account or the workflow: nothing failed, fix the cause and run again."""


def open_instance(home: Path) -> dg.DagsterInstance:
    """The project's instance, opened one process at a time: Dagster's SQLite storages create
    their tables on first open without a lock, so two runs starting on a never-used
    DAGSTER_HOME would both create them and one would crash (`table runs already exists`).

    With the Postgres instance (docs/postgres.md) the lock only orders this host's opens, which
    costs nothing; hosts racing to create the tables are covered by dagster-postgres, which
    retries a creation that collided."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".pipeline-init.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return dg.DagsterInstance.from_config(str(home))


@contextlib.contextmanager
def coze_endpoint(settings: Settings) -> Iterator[Settings]:
    """The service configured, else a built-in emulator for the run's duration.

    A token or a JWT app means the real service (or COZE_BASE_URL); COZE_BASE_URL alone means an
    emulator someone already runs; none of them means start one here.
    """
    if not settings.builtin_emulator:
        yield settings
        return
    with EmulatorProcess(EmulatorConfig()) as emulator:
        print(
            f"No COZE_API_TOKEN set ({emulator.config.profile} emulator profile): "
            f"using the built-in Coze emulator at {emulator.url}",
            flush=True,
        )
        yield replace(settings, coze=replace(settings.coze, base_url=emulator.url))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_runs(instance: dg.DagsterInstance) -> int:
    """Mark runs of ours whose process was killed as failed and free their pool slots.

    The daemon's run monitoring does this for runs it launched; in-process runs started here
    have no daemon watching them, and a slot held by a dead run would block every later run.
    Only runs started on this host are judged: on an instance that hosts share, another host's
    pid says nothing here, and freeing its slot would let two runs call Coze at once.
    """
    released = 0
    records = instance.get_run_records(
        dg.RunsFilter(
            job_name=JOB_NAME,
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid and pid != os.getpid() and not _alive(pid):
            instance.report_run_failed(run, "the run's process died; found by a later run")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released += 1
    return released


def pool_holders(instance: dg.DagsterInstance, run_ids: set[str]) -> str:
    """The runs holding the `coze_api` pool's slots, with their process ids when known, and
    their host when it is another one (an instance that hosts share)."""
    holders = []
    for run_id in sorted(run_ids):
        run = instance.get_run_by_id(run_id)
        tags = run.tags if run is not None else {}
        pid, host = tags.get(PID_TAG), tags.get(HOST_TAG)
        where = f" on {host}" if host and host != socket.gethostname() else ""
        holders.append(f"run {run_id}" + (f" (pid {pid}{where})" if pid else ""))
    return ", ".join(holders) or "nobody (a slot is being handed over)"


@contextlib.contextmanager
def watching_the_pool(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    """While the run waits for the `coze_api` pool, free the slots of runs that died meanwhile
    and say who it waits for: a run killed while holding the slot would otherwise make this one
    wait, silently, until some later run started."""
    stop = threading.Event()

    def watch() -> None:
        said_at = float("-inf")
        while not stop.wait(POOL_CHECK_SECONDS):
            try:
                info = instance.event_log_storage.get_concurrency_info(API_POOL)
                if run_id not in info.pending_run_ids:
                    continue
                if released := release_dead_runs(instance):
                    print(f"released {released} run(s) whose process had died", flush=True)
                    continue
                holders = pool_holders(instance, info.active_run_ids)
                news = f"waiting for the {API_POOL} pool: held by {holders}"
            except Exception as error:  # the instance's database busy: the run goes on regardless
                news = f"could not check the {API_POOL} pool ({error}); checking again"
            if time.monotonic() - said_at >= POOL_LOG_SECONDS:
                print(news, flush=True)
                said_at = time.monotonic()

    watcher = threading.Thread(target=watch, name="pool-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def failure_reason(result: dg.ExecuteInProcessResult) -> RunFailure | None:
    """The first failed step's one line, read as the alert reads it (`alerts.message.cause_of`):
    a Coze halt's line, else the innermost error under Dagster's wrappers."""
    failures = [event for event in result.all_events if event.is_step_failure]
    if not failures:
        return None
    cause = cause_of(failures, None)
    return RunFailure(cause.line, coze_halt=cause.kind == "halt")


def alert(instance: dg.DagsterInstance, run_id: str, webhook: str) -> None:
    """Tell PIPELINE_ALERT_WEBHOOK, with no daemon needed; nothing here may change how the run
    ended or the exit status, so any error becomes one line."""
    try:
        outcome = alert_failed_run(instance, run_id, webhook)
    except Exception as error:  # the instance's database busy, say: the run's result stands
        line = scrub(f"the alert could not be sent: {printable(error, 300)}")
        print(line, file=sys.stderr, flush=True)
        return
    print(outcome.line, file=sys.stderr if outcome.failed else sys.stdout, flush=True)


def api_run_config(
    *, resubmit_uncertain: bool, refresh_expired: bool, max_calls: int | None
) -> dict[str, Any]:
    """The same per-run choices the Launchpad offers for the Coze step."""
    config: dict[str, Any] = {
        "resubmit_uncertain": resubmit_uncertain,
        "refresh_expired": refresh_expired,
    }
    if max_calls is not None:
        config["max_calls"] = max_calls
    return {"ops": {coze_calls.node_def.name: {"config": config}}}


def run_batch(
    links_file: Path,
    settings: Settings,
    *,
    resubmit_uncertain: bool = False,
    refresh_expired: bool = False,
    max_calls: int | None = None,
) -> RunFailure | None:
    """Materialize the whole job for one link file; the reason when the run itself failed."""
    links_file = links_file.resolve()
    if problem := link_file_problem(links_file):
        raise FileNotFoundError(problem)
    batch = batch_key(links_file, settings.links_dir)
    with coze_endpoint(settings) as run_settings:
        defs = build_definitions(run_settings)
        job = defs.resolve_job_def(JOB_NAME)
        run_id = str(uuid.uuid4())
        with open_instance(settings.dagster_home) as instance:
            if released := release_dead_runs(instance):
                print(f"released {released} run(s) whose process had died", flush=True)
            instance.add_dynamic_partitions(batches.name, [batch])
            with watching_the_pool(instance, run_id):
                result = job.execute_in_process(
                    partition_key=batch,
                    instance=instance,
                    run_id=run_id,
                    run_config={
                        "loggers": {"console": {"config": {"log_level": "INFO"}}},
                        **api_run_config(
                            resubmit_uncertain=resubmit_uncertain,
                            refresh_expired=refresh_expired,
                            max_calls=max_calls,
                        ),
                    },
                    tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
                    raise_on_error=False,
                )
            if not result.success and settings.alert_webhook:
                alert(instance, run_id, settings.alert_webhook)
    if result.success:
        return None
    return failure_reason(result) or RunFailure("the run failed: see the log above", False)


def summary(
    warehouse: Warehouse | Path, batch: str | None = None, media_store: str | None = None
) -> str:
    """What a person wants to see after a run, read back from the warehouse."""
    batches = [batch] if batch else None
    warehouse = Warehouse.of(warehouse)
    with connect(warehouse, read_only=True) as conn:
        lines = reports.line_counts(conn, batches)
        status = reports.status_counts(conn, batches)
        titles = reports.first_videos(conn, batches)
        media = reports.media_counts(conn, batches)
    out = [
        f"Warehouse {warehouse.describe()}" + (f", batch {printable(batch, 300)}" if batch else ""),
        f"  lines: {lines.lines} ({lines.unusable} not usable links)",
        f"  videos: {status.videos}  metadata ok: {status.metadata_ok}  "
        f"transcripts ok: {status.transcripts_ok}  pending: {status.pending}  "
        f"failed: {status.failed}  uncertain: {status.uncertain}  trimmed: {status.trimmed}",
    ]
    if any(media.files.values()):
        files = media.files
        out.append(
            f"  media: {files['ok']} files saved ({media.saved_bytes:,} bytes, "
            f"{media.stored_files} distinct) in {media_store or 'the media store'}; "
            f"pending: {files['pending']}  expired: {files['expired']}  failed: {files['failed']}"
        )
    if media.files["expired"]:
        out.append(
            f"  {media.files['expired']} media files expired before they were saved; "
            "`python -m pipeline run --refresh-expired` pays for new links to them"
        )
    if lines.unlisted:
        out.append(
            f"  {lines.unlisted} lines removed from the link file had paid transcript jobs: kept "
            "and still polled, shown in link_status with listed = false"
        )
    if status.trimmed:
        out.append(
            f"  {status.trimmed} of the transcripts ok were cut by Coze as too large: the text "
            "before the cut is kept (transcripts.is_trimmed; the answer is in raw_responses)"
        )
    if status.uncertain:
        out.append(
            f"  {status.uncertain} submits got no answer and may have started paid jobs nobody saw; "
            "`python -m pipeline run --resubmit-uncertain` submits them again (paid)"
        )
    out += [
        f"  [{printable(p)}] {printable(title)} — {printable(author)} ({chars} chars of transcript)"
        for p, title, author, chars in titles
    ]
    return "\n".join(out)


def main_run(
    links: str,
    settings: Settings,
    *,
    resubmit_uncertain: bool = False,
    refresh_expired: bool = False,
    max_calls: int | None = None,
) -> int:
    try:
        failure = run_batch(
            Path(links),
            settings,
            resubmit_uncertain=resubmit_uncertain,
            refresh_expired=refresh_expired,
            max_calls=max_calls,
        )
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    if warehouse_exists(settings.warehouse):
        batch = batch_key(Path(links), settings.links_dir)
        print(summary(settings.warehouse, batch, settings.media.location), flush=True)
    if failure is None:
        return EXIT_OK
    line = printable(failure.line, 2000)
    if failure.coze_halt:
        print(line, file=sys.stderr)
        return EXIT_COZE_HALTED
    print(f"the run failed ({line}); unfinished work stays pending", file=sys.stderr)
    return EXIT_RUN_FAILED


def main_ui(port: str, settings: Settings) -> int:
    """`dagster dev` whose runs, schedule and sensor reach Coze or the built-in emulator; the
    code location it loads reads the same environment, given the emulator's address."""
    open_instance(settings.dagster_home).dispose()  # a `run` starting meanwhile waits for this
    with coze_endpoint(settings) as ui_settings:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(settings.dagster_home),
            "COZE_BASE_URL": ui_settings.coze.base_url,
        }
        command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml"]
        ui = subprocess.Popen([*command, "-h", "127.0.0.1", "-p", port], env=env, cwd=PROJECT_ROOT)
        signal.signal(signal.SIGTERM, lambda *_: ui.terminate())
        try:
            return ui.wait()
        except KeyboardInterrupt:  # Ctrl-C reached dagster dev too; let it shut down cleanly
            return ui.wait()
