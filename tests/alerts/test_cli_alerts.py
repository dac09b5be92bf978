"""`python -m pipeline run` alerts its own runs, with no daemon: over real HTTP against the
emulator process, to a webhook receiver on loopback. The exit status is the run's, whatever
the webhook does."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.defs.partitions import batch_key
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK
from tests.alerts.receiver import WebhookReceiver
from tests.coze.servers import free_port
from tests.support import PipelineProcess, pipeline_env

VIDEOS = [f"https://www.douyin.com/video/77{n:017d}" for n in range(3)]
DRY = EmulatorConfig(profile="fast", job_seconds=0.3, balance_calls=0)


def run(links: Path, dagster_home: Path, coze_url: str, webhook: str) -> tuple[int, str]:
    """One `python -m pipeline run` to its end: (exit status, output)."""
    env = pipeline_env(
        dagster_home, coze_url, PIPELINE_POLL_BUDGET="60", PIPELINE_ALERT_WEBHOOK=webhook
    )
    process = PipelineProcess(links, links.with_suffix(".duckdb"), env)
    return process.finish(), process.output


def latest_run_id(dagster_home: Path) -> str:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return instance.get_runs(limit=1)[0].run_id


def test_a_halt_is_alerted_once_with_its_line_batch_and_run_until_a_run_succeeds(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = tmp_path / "batch.txt"
    links.write_text("\n".join(VIDEOS[:2]) + "\n", encoding="utf-8")
    batch = batch_key(links, tmp_path / "not-the-links-folder")
    with (
        EmulatorProcess(DRY) as dry,
        EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.3)) as recharged,
        WebhookReceiver() as receiver,
    ):
        status, output = run(links, dagster_home, dry.url, receiver.url)
        assert status == EXIT_COZE_HALTED, output
        halt_line = output.strip().splitlines()[-1]
        assert halt_line.startswith("Coze refused the account: code 4011"), output
        assert "alert sent to 127.0.0.1: halt:account:4011" in output
        [body] = receiver.bodies
        first_run = latest_run_id(dagster_home)
        assert body["text"] == (
            f"Pipeline run halted: {halt_line}\nbatch: {batch}\nrun: {first_run}"
        )
        assert (body["batch"], body["run_id"], body["kind"]) == (batch, first_run, "halt")
        assert (body["scope"], body["code"]) == ("account", 4011)

        status, output = run(links, dagster_home, dry.url, receiver.url)
        assert status == EXIT_COZE_HALTED, output
        assert f"the same cause (halt:account:4011) was alerted for run {first_run}" in output
        assert len(receiver.bodies) == 1

        status, output = run(links, dagster_home, recharged.url, receiver.url)
        assert status == EXIT_OK, output
        links.write_text("\n".join(VIDEOS) + "\n", encoding="utf-8")  # new work to pay for
        status, output = run(links, dagster_home, dry.url, receiver.url)
        assert status == EXIT_COZE_HALTED, output
    assert len(receiver.bodies) == 2
    assert receiver.bodies[1]["run_id"] == latest_run_id(dagster_home) != first_run


def test_a_webhook_that_fails_changes_nothing_but_one_line(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = tmp_path / "batch.txt"
    links.write_text(VIDEOS[0] + "\n", encoding="utf-8")
    with EmulatorProcess(DRY) as dry, WebhookReceiver(status=500, answer="{}") as broken:
        failing = {
            "HTTP 500": (broken.url, "the alert could not be sent to 127.0.0.1: HTTP 500"),
            "nothing listening": (
                f"http://127.0.0.1:{free_port()}/hook",
                "the alert could not be sent to 127.0.0.1: ConnectError",
            ),
        }
        for case, (webhook, said) in failing.items():
            status, output = run(links, dagster_home, dry.url, webhook)
            assert status == EXIT_COZE_HALTED, (case, output)
            told = [line for line in output.splitlines() if "the alert" in line]
            assert len(told) == 1 and told[0].startswith(said), (case, output)
            assert output.strip().splitlines()[-1].startswith("Coze refused the account"), case
    assert broken.bodies == [] and broken.requests == 2  # one retry, and the next run tries again
