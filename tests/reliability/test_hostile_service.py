"""Unlucky and hostile answers through `python -m pipeline run` over real HTTP: nothing crashes
a batch, nothing is lost, nothing is paid twice.

A submit answered with JSON nested 100,000 levels deep may be an accepted, paid job: it is
`uncertain`, the rest of the batch finishes, and no later run sends it again. A COZE_BASE_URL
that leads somewhere other than Coze (a proxy's login page, a base URL ending in /v1, nothing
listening) is the deployment's fault, not the videos': the run stops with exit status 3 and one
line naming the URL, marks nothing failed, and the run after the URL is fixed completes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from pipeline.coze.config import TRANSCRIPT_WORKFLOW_ID
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK
from tests.coze.servers import InterceptingProxy, ReplayServer, free_port, nested_json
from tests.support import PipelineProcess, pipeline_env

VIDEOS = [f"https://www.douyin.com/video/79{n:017d}" for n in range(4)]
DEEP = "https://www.douyin.com/video/7900000000000000099"
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in - Corporate Proxy</title></head>"
    "<body><form action='/login'>…</form></body></html>"
)


def run(links: Path, dagster_home: Path, url: str, **env: str) -> tuple[int, str]:
    """One `python -m pipeline run` to its end: (exit status, output)."""
    environment = pipeline_env(dagster_home, url, PIPELINE_POLL_BUDGET="60", **env)
    process = PipelineProcess(links, links.with_suffix(".duckdb"), environment)
    return process.finish(), process.output


def query(links: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(links.with_suffix(".duckdb")), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def batch(tmp_path: Path, lines: list[str]) -> Path:
    links = tmp_path / "batch.txt"
    links.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return links


def test_a_submit_answered_with_json_nested_too_deep_is_uncertain_and_never_re_sent(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, [*VIDEOS, DEEP])
    deep_answer = (200, '{"code":0,"msg":"Success","execute_id":' + nested_json(100_000) + "}")

    def intercept(method: str, body: dict) -> tuple[int, str] | None:
        submit = body.get("workflow_id") == TRANSCRIPT_WORKFLOW_ID and body.get("is_async")
        return deep_answer if submit and body["parameters"]["input"] == DEEP else None

    with (
        EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.5)) as emulator,
        InterceptingProxy(emulator.url, intercept) as proxy,
    ):
        status, output = run(links, dagster_home, proxy.url)
        assert status == EXIT_OK, output
        assert "uncertain: 1" in output
        assert proxy.intercepted == Counter({DEEP: 1})
        status, output = run(links, dagster_home, proxy.url)
        assert status == EXIT_OK, output
        assert proxy.intercepted == Counter({DEEP: 1}), "an uncertain submit was sent again"
        stats = emulator.stats()
    assert set(stats["submits_per_input"]) == set(VIDEOS)
    assert set(stats["submits_per_input"].values()) == {1}
    rows = dict(query(links, "SELECT url, transcript_status FROM link_status"))
    assert rows == {**dict.fromkeys(VIDEOS, "ok"), DEEP: "uncertain"}
    [(outcome, message)] = query(
        links,
        "SELECT outcome, error_message FROM raw_responses WHERE kind = 'submit' "
        f"AND request_input = '{DEEP}'",
    )
    assert outcome == "uncertain" and "may have started" in message


def test_a_wrong_base_url_halts_the_run_and_the_fixed_url_completes_it(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = batch(tmp_path, VIDEOS)
    token = "pat_hostile_service_endpoint_0f1e2d"
    with (
        EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=0.5)) as emulator,
        ReplayServer(lambda path: (200, LOGIN_PAGE), media_type="text/html") as login_page,
    ):
        wrong_urls = {
            "a proxy's login page": (login_page.url, 'got HTTP 200 and "<!DOCTYPE html>'),
            "a base URL ending in /v1": (emulator.url + "/v1", "got HTTP 404 and 'Not Found'"),
            "nothing listening": (
                f"http://127.0.0.1:{free_port()}",
                "nothing answered POST /v1/workflow/run in 2 attempts",
            ),
        }
        for case, (url, answered) in wrong_urls.items():
            status, output = run(
                links, dagster_home, url, COZE_API_TOKEN=token, COZE_MAX_ATTEMPTS="2"
            )
            assert status == EXIT_COZE_HALTED, (case, output)
            last = output.strip().splitlines()[-1]
            assert last.startswith(f"COZE_BASE_URL={url} does not lead to the Coze API: "), case
            assert answered in last and "check COZE_BASE_URL" in last, (case, last)
            assert "Nothing was marked failed" in last and token not in output, case
            failed = query(links, "SELECT count(*) FROM item_state WHERE status = 'failed'")
            assert failed == [(0,)], case
        assert query(links, "SELECT scope, count(*) FROM service_halts GROUP BY ALL") == [
            ("endpoint", 3)
        ]
        assert emulator.stats()["requests"] == 0

        status, output = run(links, dagster_home, emulator.url)
        assert status == EXIT_OK, output
    assert query(links, "SELECT DISTINCT metadata_status, transcript_status FROM link_status") == [
        ("ok", "ok")
    ]
    assert query(links, "SELECT count(*) FROM service_halts") == [(0,)]
