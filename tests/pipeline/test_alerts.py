"""The run-failure sensor alerts runs the daemon sees, once per cause, sharing its state with
`python -m pipeline run`: real failing runs of the job in a test instance, the emulator over
loopback, and a webhook receiver over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipeline.alerts.once import ALERTED_TAG, alert_failed_run
from pipeline.definitions import build_definitions
from pipeline.defs.automation import JOB_NAME
from pipeline.defs.partitions import batches
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.scrub import add_secret
from pipeline.settings import Settings
from tests.alerts.receiver import WebhookReceiver
from tests.coze.servers import ReplayServer
from tests.pipeline.helpers import Project

VIDEOS = [f"https://www.douyin.com/video/78{n:017d}" for n in range(3)]


@pytest.fixture
def dry() -> Iterator[EmulatorProcess]:
    """An account with no balance: every paid call answers code 4011."""
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.3, balance_calls=0)) as e:
        yield e


def _run(
    project: Project, instance: dg.DagsterInstance, batch: str, **env: str
) -> dg.ExecuteInProcessResult:
    """One run of the job on the batch, as the daemon would launch it; failing is expected."""
    instance.add_dynamic_partitions(batches.name, [batch])
    job = build_definitions(Settings.from_env(project.env(**env))).resolve_job_def(JOB_NAME)
    return job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)


def _evaluate(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, url: str) -> None:
    """What the daemon does when the run's failure event arrives."""
    sensor = build_definitions(
        Settings.from_env({"PIPELINE_ALERT_WEBHOOK": url})
    ).resolve_sensor_def("failed_run_alert")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)


def test_a_halt_is_alerted_once_until_a_run_succeeds(
    tmp_path: Path, dry: EmulatorProcess, emulator: EmulatorProcess, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, dry)
    batch = project.write_batch("monday.txt", VIDEOS[:2])
    with WebhookReceiver() as receiver:
        first = _run(project, instance, batch)
        assert not first.success
        _evaluate(instance, first, receiver.url)
        [body] = receiver.bodies
        assert body["kind"] == "halt" and (body["scope"], body["code"]) == ("account", 4011)
        line, batch_line, run_line = body["text"].splitlines()
        assert line.startswith("Pipeline run halted: Coze refused the account: code 4011")
        assert "To do: recharge the Coze account" in line
        assert batch_line == "batch: monday.txt" and body["batch"] == "monday.txt"
        assert run_line == f"run: {first.run_id}" and body["run_id"] == first.run_id
        assert instance.get_run_by_id(first.run_id).tags[ALERTED_TAG] == "halt:account:4011"

        _evaluate(instance, first, receiver.url)  # the daemon sees the run again
        assert alert_failed_run(instance, first.run_id, receiver.url).line.startswith(
            f"no alert for run {first.run_id}: the same cause (halt:account:4011)"
        )  # the CLI path on the same run
        second = _run(project, instance, batch)  # the next hour's run, the account still dry
        _evaluate(instance, second, receiver.url)
        assert len(receiver.bodies) == 1

        assert _run(project, instance, batch, COZE_BASE_URL=emulator.url).success  # recharged
        project.write_batch("monday.txt", VIDEOS)  # a new video, so the next run pays again
        third = _run(project, instance, batch)
        _evaluate(instance, third, receiver.url)
    assert [b["run_id"] for b in receiver.bodies] == [first.run_id, third.run_id]


def test_a_plain_failure_is_alerted_by_step_and_error(
    tmp_path: Path, emulator: EmulatorProcess, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, emulator)
    project.write_batch("gone.txt", VIDEOS[:1])
    (project.links_dir / "gone.txt").unlink()  # the batch's file is gone: `links` fails
    with WebhookReceiver() as receiver:
        failed = _run(project, instance, "gone.txt")
        _evaluate(instance, failed, receiver.url)
        again = _run(project, instance, "gone.txt")
        _evaluate(instance, again, receiver.url)
    [body] = receiver.bodies
    assert body["kind"] == "failure" and body["step"] == "links"
    assert body["text"].startswith("Pipeline run failed: step links failed: ")
    assert "gone.txt" in body["text"]


def test_a_secret_in_the_halt_line_never_reaches_the_webhook(
    tmp_path: Path, emulator: EmulatorProcess, instance: dg.DagsterInstance
) -> None:
    secret = "pat_echoed_by_the_server_9a8b7c6d"
    add_secret(secret)
    answer = json.dumps({"code": 4011, "msg": f"balance insufficient for token {secret}"})
    project = Project(tmp_path, emulator)
    batch = project.write_batch("echo.txt", VIDEOS[:1])
    with ReplayServer(lambda path: (200, answer)) as echo, WebhookReceiver() as receiver:
        failed = _run(project, instance, batch, COZE_BASE_URL=echo.url)
        _evaluate(instance, failed, receiver.url)
    [body] = receiver.bodies
    assert "code 4011" in body["text"] and "token ***" in body["text"]
    assert secret not in json.dumps(body, ensure_ascii=False)


def test_without_a_webhook_the_sensor_sends_nothing(
    tmp_path: Path, dry: EmulatorProcess, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, dry)
    failed = _run(project, instance, project.write_batch("quiet.txt", VIDEOS[:1]))
    sensor = build_definitions(Settings.from_env({})).resolve_sensor_def("failed_run_alert")
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failed.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=failed.dagster_run,
    ).for_run_failure() as context:
        sensor(context)
    assert ALERTED_TAG not in instance.get_run_by_id(failed.run_id).tags
