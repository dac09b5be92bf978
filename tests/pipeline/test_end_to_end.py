"""The whole job, materialized for real: Dagster in-process, Coze emulator over HTTP, and the
warehouse on disk: the DuckDB file, and the same tests on a DuckLake (SQLite catalog)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from pipeline.derive.tables import rebuild_all
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from tests.pipeline.helpers import Project
from tests.support import new_dagster_home

SEED_SHARE_TEXT = (
    "6.15 03/10 goD:/ g@B.tE 克洛克达尔女性身份的秘密 # 海贼王动画 # 航海王入驻抖音 "
    "# 要相信海米的羁绊 # 动漫编年史 # 午夜屠虎男 @航海王_ONEPIECE官方  "
    "https://v.douyin.com/fEAkiIPyAd4/ 复制此链接，打开Dou音搜索，直接观看视频！"
)
SEED_BILIBILI = (
    "https://www.bilibili.com/video/BV1XRgNzjEF7/?spm_id_from=333.1007.tianma.5-1-15.click"
    "&vd_source=96959ec2796e251a9b09de20bc497636"
)
GOOD_LINES = [
    SEED_SHARE_TEXT,
    SEED_BILIBILI,
    "变装挑战第二弹 #变装 #穿搭https://v.douyin.com/L4FJNR3/",
    "https://www.douyin.com/video/7431234567890123456",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&si=abc",
]
BAD_LINES = ["这一行没有链接", "ftp://example.com/video.mp4", "https://example.org/not-a-video"]
# The emulator answers a metadata input naming a deleted video with a permanent workflow error.
DELETED_LINK = "https://www.douyin.com/video/7999999999999999999?deleted=1 /deleted/"


@pytest.fixture(params=["file", "ducklake"])
def project(request: pytest.FixtureRequest, tmp_path: Path, emulator: EmulatorProcess) -> Project:
    """On the file and on a lake; `ON_THE_FILE` tests on the file alone."""
    return Project(tmp_path, emulator, lake=request.param == "ducklake")


# For the tests that differ only in what a run is given (failures, backfills, missing files).
ON_THE_FILE = pytest.mark.parametrize("project", ["file"], indirect=True)

EXAMPLE_LINES = ["# a comment", "", *GOOD_LINES, *BAD_LINES]


@dataclass(frozen=True)
class SharedRun:
    project: Project
    instance: dg.DagsterInstance
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module", params=["file", "ducklake"])
def example_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedRun]:
    """One materialization of `example.txt` (good and bad lines) per warehouse kind, with its
    own emulator and Dagster instance, for the tests that only read what it made: built once
    per module instead of once per test."""
    root = tmp_path_factory.mktemp(f"example-{request.param}")
    home = new_dagster_home(root)
    config = EmulatorConfig(profile="fast", job_seconds=0.3)
    with (
        EmulatorProcess(config) as emulator,
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        project = Project(root, emulator, lake=request.param == "ducklake")
        batch = project.write_batch("example.txt", EXAMPLE_LINES)
        yield SharedRun(project, instance, project.run(instance, batch))


def test_a_batch_end_to_end(example_run: SharedRun) -> None:
    project, instance, result = example_run.project, example_run.instance, example_run.result
    assert result.success
    host = project.emulator.url.removeprefix("http://")
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["coze/endpoint"] == host
    assert run.tags["coze/service"] == "emulator or stand-in"
    messages = [e.user_message for e in instance.all_logs(result.run_id) if e.step_key == "links"]
    assert any(f"Coze endpoint of this run: {host} (emulator" in m for m in messages)

    assert project.scalar("SELECT count(*) FROM links") == len(GOOD_LINES) + len(BAD_LINES)
    errors = dict(
        project.query("SELECT error, count(*) FROM links WHERE error IS NOT NULL GROUP BY 1")
    )
    assert errors == {"no_url": 1, "bad_scheme": 1, "unsupported_platform": 1}

    statuses = project.query(
        "SELECT metadata_status, transcript_status, count(*) FROM link_status GROUP BY 1, 2"
    )
    assert statuses == [("ok", "ok", len(GOOD_LINES))]
    assert project.scalar("SELECT count(*) FROM videos") == len(GOOD_LINES)
    assert project.scalar("SELECT count(*) FROM transcripts WHERE char_count > 0") == len(
        GOOD_LINES
    )

    title, play, cover, expires = project.query(
        "SELECT title, play_url, cover_image_url, play_url_expires_at FROM videos "
        "WHERE video_key IN (SELECT video_key FROM links WHERE raw_text = ?)",
        [SEED_SHARE_TEXT],
    )[0]
    assert "#" not in title and "@" not in title and title
    assert "douyinvod.com" in play and "douyinpic.com" in cover
    assert expires is not None
    hashtags = {r[0] for r in project.query("SELECT hashtag FROM video_hashtags")}
    assert {"海贼王动画", "航海王入驻抖音"} <= hashtags

    stats = project.emulator.stats()
    assert stats["metadata_calls"] == len(GOOD_LINES)
    assert stats["submits"] == len(GOOD_LINES)
    stored = dict(project.query("SELECT kind, count(*) FROM raw_responses GROUP BY 1"))
    assert stored == {
        "metadata": len(GOOD_LINES),
        "submit": len(GOOD_LINES),
        "poll": stats["polls"],
    }

    analysis = {
        m.asset_key.to_user_string(): m.metadata
        for event in result.get_asset_materialization_events()
        for m in [event.event_specific_data.materialization]
    }
    assert analysis["transcript_sentences"]["transcripts"].value == len(GOOD_LINES)
    assert analysis["transcript_sentences"]["resegmented"].value == len(GOOD_LINES)
    assert "| hashtag | videos |" in analysis["video_keywords"]["top_terms"].value
    sentences = project.scalar("SELECT count(*) FROM transcript_sentences")
    assert analysis["transcript_sentences"]["dagster/row_count"].value == sentences

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "successful_jobs_have_transcripts": True,
        "transcript_lengths_agree": True,
        "resolved_links_have_videos": True,
        "trimmed_transcripts": True,
        "failure_rate_is_low": True,
    }


def test_rerun_makes_no_api_call_and_repeated_links_are_reused(
    project: Project, instance: dg.DagsterInstance
) -> None:
    first = project.write_batch("first.txt", GOOD_LINES)
    assert project.run(instance, first).success
    calls_after_first = project.emulator.stats()["requests"]

    assert project.run(instance, first).success
    assert project.emulator.stats()["requests"] == calls_after_first

    second = project.write_batch("second.txt", [GOOD_LINES[0], "https://v.douyin.com/newVideo1/"])
    assert project.run(instance, second).success
    stats = project.emulator.stats()
    assert stats["metadata_calls"] == len(GOOD_LINES) + 1
    assert stats["submits"] == len(GOOD_LINES) + 1
    assert (
        project.scalar("SELECT count(*) FROM link_status WHERE transcript_status = 'ok'")
        == len(GOOD_LINES) + 1
    )


@ON_THE_FILE
def test_failed_items_are_reported_in_link_status(
    project: Project, instance: dg.DagsterInstance
) -> None:
    batch = project.write_batch("mixed.txt", [GOOD_LINES[3], DELETED_LINK])
    assert project.run(instance, batch).success, "failed links must not fail the run"
    rows = dict(
        (key, (meta, meta_err, tr))
        for key, meta, meta_err, tr in project.query(
            "SELECT video_key, metadata_status, metadata_error, transcript_status FROM link_status"
        )
    )
    deleted = [v for k, v in rows.items() if "7999999999999999999" in k]
    assert deleted and deleted[0][0] == "failed" and deleted[0][1]
    assert deleted[0][2] == "failed"
    # Permanent failures are not retried on the next run.
    calls = project.emulator.stats()["metadata_calls"]
    assert project.run(instance, batch).success
    assert project.emulator.stats()["metadata_calls"] == calls


@ON_THE_FILE
def test_backfill_of_two_batches_in_one_run(project: Project, instance: dg.DagsterInstance) -> None:
    a = project.write_batch("a.txt", GOOD_LINES[:2])
    b = project.write_batch("b.txt", GOOD_LINES[2:])
    result = project.run(instance, a, b)
    assert result.success
    assert {r[0] for r in project.query("SELECT DISTINCT batch FROM links")} == {a, b}
    assert project.scalar("SELECT count(*) FROM link_status WHERE transcript_status = 'ok'") == len(
        GOOD_LINES
    )
    materialized = {
        (m.asset_key.to_user_string(), m.partition)
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
        if m.asset_key.to_user_string() == "links"
    }
    assert materialized == {("links", a), ("links", b)}


def test_normalized_tables_rebuild_from_raw_without_the_api(
    project: Project, instance: dg.DagsterInstance
) -> None:
    batch = project.write_batch("b.txt", [*GOOD_LINES, DELETED_LINK])
    assert project.run(instance, batch).success
    derived = {
        "videos": "video_key",
        "transcripts": "video_key",
        "video_hashtags": "1, 2",
        "video_mentions": "1, 2",
        "authors": "1, 2",
        "item_state": "1, 2",
        "transcript_jobs": "1",
    }
    before = {t: project.query(f"SELECT * FROM {t} ORDER BY {o}") for t, o in derived.items()}
    assert all(before.values())
    project.emulator.stop()

    with connect(project.warehouse) as conn:
        rebuild_all(conn, max_attempts=3)

    after = {t: project.query(f"SELECT * FROM {t} ORDER BY {o}") for t, o in derived.items()}
    assert after == before


def test_the_readme_queries_run_on_a_real_warehouse(example_run: SharedRun) -> None:
    """The SQL a newcomer copies from the README must work on what the pipeline writes."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    statements = [
        statement
        for block in re.findall(r"```sql\n(.*?)```", readme, re.S)
        for statement in block.split(";")
        if statement.strip()
    ]
    assert len(statements) >= 5
    assert example_run.result.success
    with connect(example_run.project.warehouse, read_only=True) as conn:
        results = [conn.execute(statement).fetchall() for statement in statements]
    links = [line for line in EXAMPLE_LINES if line and not line.startswith("#")]
    assert len(results[0]) == len(links), "the per-link status query lists every line"
    assert all(row[3] == "ok" for row in results[0] if row[2] is not None)
    warehouse = example_run.project.warehouse
    if warehouse.lake is None:  # search hits joined in SQL, on the snapshot beside the file
        (python,) = [
            block
            for block in re.findall(r"```python\n(.*?)```", readme, re.S)
            if "ranked_videos" in block
        ]
        namespace: dict[str, object] = {}
        stem = str(warehouse.path.with_suffix(""))
        exec(compile(python.replace("data/warehouse", stem), "README.md", "exec"), namespace)
        assert len(namespace["hits"]) == 3  # type: ignore[arg-type]


@ON_THE_FILE
def test_a_partition_with_no_file_fails_with_one_clear_line(
    project: Project, instance: dg.DagsterInstance
) -> None:
    project.links_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(dg.Failure) as failed:
        project.run(instance, "made-up-in-the-ui.txt")
    line = failed.value.description or ""
    assert "\n" not in line
    assert "'made-up-in-the-ui.txt' has no link file" in line and "delete the partition" in line
    assert project.emulator.stats()["requests"] == 0


def test_row_counts_are_the_batchs_own(project: Project, instance: dg.DagsterInstance) -> None:
    """A partition's `dagster/row_count` counts that batch's rows, not the table's total."""
    first = project.write_batch("first.txt", GOOD_LINES[:3])
    second = project.write_batch("second.txt", GOOD_LINES[3:])
    assert project.run(instance, first).success
    result = project.run(instance, second)
    counts = {
        m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
        for event in result.get_asset_materialization_events()
        for m in [event.event_specific_data.materialization]
        if "dagster/row_count" in m.metadata
    }
    assert project.scalar("SELECT count(*) FROM videos") == len(GOOD_LINES)
    assert counts["videos"] == counts["transcripts"] == counts["link_status"] == 2
