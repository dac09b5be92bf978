"""The media archive through the real job: the emulator's CDN over HTTP, a real store, a real
warehouse, real Dagster materializations."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.runs import api_run_config
from tests.pipeline.helpers import Project

VIDEOS = [f"https://www.douyin.com/video/74000000000000{n:05d}" for n in range(6)]


def cdn_requests(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return httpx.get(f"{emulator.url}/_emulator/cdn", timeout=30).json()["requests"]


def media_rows(project: Project) -> list[tuple]:
    return project.query(
        "SELECT video_key, kind, status, sha256, bytes, content_type, path, error, attempts "
        "FROM media_files ORDER BY video_key, kind"
    )


def refresh(flag: bool) -> dict:
    return api_run_config(resubmit_uncertain=False, refresh_expired=flag, max_calls=None)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts)


def test_every_file_is_saved_once_verified_and_a_rerun_fetches_nothing(
    project: Project, instance: dg.DagsterInstance
) -> None:
    batch = project.write_batch("monday.txt", VIDEOS)
    assert project.run(instance, batch, PIPELINE_MEDIA="all").success
    rows = media_rows(project)
    assert len(rows) == 3 * len(VIDEOS)
    assert {(kind, status) for _, kind, status, *_ in rows} == {
        ("avatar", "ok"),
        ("cover", "ok"),
        ("video", "ok"),
    }
    for _, kind, _, sha256, size, content_type, path, error, attempts in rows:
        data = (project.media_dir / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256 and len(data) == size
        assert path == f"{sha256[:2]}/{sha256}.{path.rsplit('.', 1)[1]}"
        assert content_type.startswith("video/" if kind == "video" else "image/")
        assert error is None and attempts == 1
    distinct = {sha256 for _, _, _, sha256, *_ in rows}
    assert len(stored_files(project.media_dir)) == len(distinct) < len(rows), "shared bytes once"
    assert not any((project.media_dir / ".partial").glob("*.part"))
    fetched = len(cdn_requests(project.emulator))
    assert fetched == len(rows)

    materialization = instance.get_latest_materialization_event(dg.AssetKey("media_files"))
    assert materialization is not None
    metadata = materialization.asset_materialization.metadata
    assert metadata["files_ok"].value == len(rows)
    assert metadata["stored_files"].value == len(distinct)
    assert "](data:image/" in metadata["a_saved_cover"].value

    assert project.run(instance, batch, PIPELINE_MEDIA="all").success
    assert len(cdn_requests(project.emulator)) == fetched, "a finished batch makes no request"
    assert media_rows(project) == rows


def test_images_by_default_and_nothing_with_none(
    project: Project, instance: dg.DagsterInstance
) -> None:
    assert project.run(instance, project.write_batch("a.txt", VIDEOS[:2])).success
    assert {kind for _, kind, *_ in media_rows(project)} == {"cover", "avatar"}
    assert project.run(instance, project.write_batch("b.txt", VIDEOS[2:4]), PIPELINE_MEDIA="none")
    assert project.scalar("SELECT count(*) FROM media_files WHERE video_key LIKE '%00002'") == 0


def test_expired_links_cost_no_request_until_a_refresh_pays_for_new_ones(
    project: Project, instance: dg.DagsterInstance
) -> None:
    project.emulator.set_faults(media_expired=True)
    batch = project.write_batch("monday.txt", VIDEOS[:3])
    assert project.run(instance, batch).success
    statuses = {(kind, status) for _, kind, status, *_ in media_rows(project)}
    assert statuses == {("cover", "expired"), ("avatar", "ok")}, "avatars are not signed"
    requested = cdn_requests(project.emulator)
    assert requested and not any("douyinpic.com/tos" in r["path"] for r in requested), (
        "an expired URL is never requested"
    )
    metadata_calls = project.emulator.stats()["metadata_calls"]

    project.emulator.set_faults(media_expired=False)
    assert project.run(instance, batch).success
    assert project.emulator.stats()["metadata_calls"] == metadata_calls, "no refresh unasked"
    assert cdn_requests(project.emulator) == requested

    assert project.run(instance, batch, run_config=refresh(True)).success
    assert project.emulator.stats()["metadata_calls"] == metadata_calls + 3, "paid, once each"
    assert {status for _, _, status, *_ in media_rows(project)} == {"ok"}
    again = cdn_requests(project.emulator)[len(requested) :]
    assert len(again) == 3 and all("douyinpic.com/tos" in r["path"] for r in again), (
        "only the covers: the saved avatars are not fetched again"
    )
    assert project.scalar("SELECT count(*) FROM transcript_jobs") == 3, "no second submit"


def test_a_page_instead_of_the_video_and_a_file_over_the_cap_fail_with_the_reason(
    project: Project, instance: dg.DagsterInstance
) -> None:
    project.emulator.set_faults(media_html=True)
    assert project.run(instance, project.write_batch("a.txt", VIDEOS[:2]), PIPELINE_MEDIA="all")
    videos = project.query("SELECT status, error, path FROM media_files WHERE kind = 'video'")
    assert videos and all(s == "failed" and "HTML" in e and p is None for s, e, p in videos)
    assert {
        s for (s,) in project.query("SELECT status FROM media_files WHERE kind != 'video'")
    } == {"ok"}

    project.emulator.set_faults(media_html=False)
    assert project.run(
        instance,
        project.write_batch("b.txt", VIDEOS[2:4]),
        PIPELINE_MEDIA="all",
        PIPELINE_MEDIA_MAX_BYTES="1000",
    )
    capped = project.query(
        "SELECT status, error FROM media_files WHERE kind = 'video' "
        "AND regexp_matches(video_key, '0000[23]$')"
    )
    assert capped and all(s == "failed" and "too large" in e for s, e in capped)
    assert not any((project.media_dir / ".partial").glob("*.part"))


@pytest.fixture
def slow_jobs() -> EmulatorProcess:
    with EmulatorProcess(EmulatorConfig(profile="fast", job_seconds=4.0)) as process:
        yield process


def test_files_are_saved_while_the_coze_step_still_polls(
    tmp_path: Path, slow_jobs: EmulatorProcess, instance: dg.DagsterInstance
) -> None:
    """Downloads start as metadata answers arrive: the first file is saved before the jobs it
    waits beside are done, not after the step."""
    project = Project(tmp_path, slow_jobs)
    assert project.run(instance, project.write_batch("a.txt", VIDEOS[:3])).success
    first_saved, last_answer = project.query(
        "SELECT (SELECT min(fetched_at) FROM media_files), "
        "(SELECT max(received_at) FROM raw_responses WHERE kind = 'poll')"
    )[0]
    assert first_saved < last_answer
