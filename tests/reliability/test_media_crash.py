"""SIGKILL mid-download: nothing partial reaches the media store, and the next run resumes the
download with a Range request instead of starting over."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import duckdb
import httpx

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from tests.support import PipelineProcess, pipeline_env

LINKS = ["https://www.douyin.com/video/7400000000000000001"]


def partial_bytes(media: Path) -> int:
    return sum(p.stat().st_size for p in (media / ".partial").glob("*.part"))


def stored(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file() and ".partial" not in p.parts]


def test_a_run_killed_mid_download_leaves_no_partial_file_and_the_next_resumes_it(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = tmp_path / "batch.txt"
    links.write_text("\n".join(LINKS) + "\n", encoding="utf-8")
    db, media = tmp_path / "w.duckdb", tmp_path / "media"
    config = EmulatorConfig(profile="fast", media_trickle=0.002)
    with EmulatorProcess(config) as emulator:
        env = pipeline_env(
            dagster_home, emulator.url, PIPELINE_MEDIA="all", PIPELINE_MEDIA_DIR=str(media)
        )
        first = PipelineProcess(links, db, env)
        deadline = time.monotonic() + 120
        while partial_bytes(media) < 2000:
            assert time.monotonic() < deadline, first.output
            time.sleep(0.1)
        first.kill()
        kept = partial_bytes(media)
        for whole in stored(media):  # the small files may be done: each whole, named by its hash
            assert hashlib.sha256(whole.read_bytes()).hexdigest() == whole.stem

        emulator.set_faults(media_trickle=None)
        second = PipelineProcess(links, db, env)
        assert second.finish() == 0, second.output
        requests = httpx.get(f"{emulator.url}/_emulator/cdn", timeout=30).json()["requests"]

    resumed = [r for r in requests if r["range"] and r["status"] == 206]
    assert resumed, requests
    assert sum(int(r["range"].split("=")[1].split("-")[0]) for r in resumed) >= kept - 64
    assert partial_bytes(media) == 0
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT kind, status, sha256, path FROM media_files").fetchall()
    assert {(kind, status) for kind, status, _, _ in rows} == {
        ("cover", "ok"),
        ("avatar", "ok"),
        ("video", "ok"),
    }
    for _, _, sha256, path in rows:
        assert hashlib.sha256((media / path).read_bytes()).hexdigest() == sha256
