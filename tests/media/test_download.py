"""Downloads over real HTTP from the emulator's CDN, each guard where it must fire."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.media.content import Kind
from pipeline.media.download import USER_AGENT, Downloader, Limits, Outcome, request_headers
from pipeline.media.store import (
    PARTIAL_DIR,
    FolderStore,
    MediaStore,
    open_store,
)
from pipeline.object_store import ObjectStoreCredentials
from tests.emulator.helpers import metadata
from tests.s3 import BUCKET, object_keys


@pytest.fixture
def cdn() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(EmulatorConfig(profile="fast")) as process:
        yield process


def answer(process: EmulatorProcess, text: str) -> dict[str, str]:
    with httpx.Client(base_url=process.url, timeout=30) as client:
        data = json.loads(metadata(client, text).json()["data"])
    return {"video": data["cover_url"], "cover": data["output"], "avatar": data["avatar"]}


def cdn_log(process: EmulatorProcess) -> list[dict[str, Any]]:
    return httpx.get(f"{process.url}/_emulator/cdn", timeout=30).json()["requests"]


def fetch(
    store: MediaStore, *jobs: tuple[str, Kind, str], limits: Limits | None = None
) -> list[Outcome]:
    async def run() -> list[Outcome]:
        async with Downloader(store, limits or Limits()) as downloader:
            return list(await asyncio.gather(*(downloader.fetch(*job) for job in jobs)))

    return asyncio.run(run())


def stored(root: Path) -> list[str]:
    """Every file under the store's root, the hidden staging folder included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_every_kind_is_stored_checked_and_once(cdn: EmulatorProcess, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "media")
    texts = [f"https://v.douyin.com/dl{i}/" for i in range(8)]
    urls = [answer(cdn, text) for text in texts]
    jobs = [(u[kind], kind, f"{t}:{kind}") for t, u in zip(texts, urls, strict=True) for kind in u]
    outcomes = fetch(store, *jobs)
    assert {o.status for o in outcomes} == {"ok"}, outcomes
    for (url, kind, _), outcome in zip(jobs, outcomes, strict=True):
        served = httpx.get(url, timeout=30).content
        assert outcome.sha256 == hashlib.sha256(served).hexdigest() and outcome.bytes == len(served)
        assert (tmp_path / "media" / str(outcome.path)).read_bytes() == served
        assert (
            outcome.content_type
            == {"video": "video/mp4", "cover": "image/webp", "avatar": "image/jpeg"}[kind]
        )
        assert str(outcome.path).endswith(
            {"video": ".mp4", "cover": ".webp", "avatar": ".jpg"}[kind]
        )
    # Shared covers and avatars are stored once: fewer files than downloads, none staged.
    paths = {o.path for o in outcomes}
    assert len(paths) < len(outcomes)
    assert stored(tmp_path / "media") == sorted(str(p) for p in paths)
    seen = cdn_log(cdn)[: len(jobs)]
    assert {r["user_agent"] for r in seen} == {USER_AGENT}
    assert {r["referer"] for r in seen} == {None}, "loopback is no platform's host"


def test_referer_by_host() -> None:
    douyin, bilibili = "https://www.douyin.com/", "https://www.bilibili.com/"
    for url, referer in [
        ("https://v26-web.douyinvod.com/a/b/video/", douyin),
        ("https://p9-sign.douyinpic.com/x.webp", douyin),
        ("https://upos-sz-mirrorcos.bilivideo.com/u.m4s", bilibili),
        ("https://i0.hdslb.com/bfs/archive/c.jpg", bilibili),
        ("https://rr3---sn-q4fl6nsr.googlevideo.com/videoplayback", None),
        ("https://notdouyinpic.com/x.jpg", None),
    ]:
        headers = request_headers(url)
        assert headers.get("Referer") == referer and headers["User-Agent"] == USER_AGENT


def test_an_expired_url_is_expired_and_an_unsigned_one_still_works(
    cdn: EmulatorProcess, tmp_path: Path
) -> None:
    cdn.set_faults(media_expired=True)
    urls = answer(cdn, "https://v.douyin.com/late/")
    outcomes = fetch(
        FolderStore(tmp_path / "m"),
        *[(urls[k], k, k) for k in ("video", "cover", "avatar")],
    )
    assert [o.status for o in outcomes] == ["expired", "expired", "ok"]
    assert outcomes[0].error == "HTTP 403 after the URL expired"
    assert stored(tmp_path / "m") == [outcomes[2].path]


def test_a_url_that_expires_while_waiting(tmp_path: Path) -> None:
    with EmulatorProcess(EmulatorConfig(profile="fast", media_url_seconds=1.0)) as process:
        urls = answer(process, "https://v.douyin.com/brief/")
        time.sleep(2.1)
        (outcome,) = fetch(FolderStore(tmp_path), (urls["cover"], "cover", "c"))
    assert outcome.status == "expired"


def test_a_refusal_before_expiry_is_a_failure(cdn: EmulatorProcess, tmp_path: Path) -> None:
    urls = answer(cdn, "https://v.douyin.com/edited/")
    edited = urls["cover"].replace("x-signature=", "x-signature=0")
    unknown = urls["video"].replace("/video/tos/", "/video/other/")
    outcomes = fetch(
        FolderStore(tmp_path),
        (edited, "cover", "a"),
        (unknown, "video", "b"),
        ("ftp://x/y", "cover", "c"),
    )
    assert [(o.status, o.error) for o in outcomes] == [
        ("failed", "HTTP 403"),
        ("failed", "HTTP 404"),
        ("failed", "not an http(s) URL"),
    ]


def test_an_html_page_is_refused_and_nothing_kept(cdn: EmulatorProcess, tmp_path: Path) -> None:
    cdn.set_faults(media_html=True)
    urls = answer(cdn, "https://v.douyin.com/page/")
    (outcome,) = fetch(FolderStore(tmp_path), (urls["video"], "video", "v"))
    assert (outcome.status, outcome.error) == ("failed", "an HTML page, not a video")
    assert stored(tmp_path) == []


def test_the_wrong_kind_is_refused(cdn: EmulatorProcess, tmp_path: Path) -> None:
    urls = answer(cdn, "https://v.douyin.com/kinds/")
    (outcome,) = fetch(FolderStore(tmp_path), (urls["cover"], "video", "v"))
    assert (outcome.status, outcome.error) == ("failed", "image/webp, not a video")
    assert stored(tmp_path) == []


def test_a_short_body_is_pending_then_resumed_with_a_range(
    cdn: EmulatorProcess, tmp_path: Path
) -> None:
    cdn.set_faults(media_short=True, media_bytes=200_000)
    urls = answer(cdn, "https://v.douyin.com/short/")
    store = FolderStore(tmp_path / "media")
    (first,) = fetch(store, (urls["video"], "video", "v"))
    assert first.status == "pending" and first.error is not None and "connection" in first.error
    staged = stored(tmp_path / "media")
    assert staged and all(p.startswith(PARTIAL_DIR + "/") for p in staged)
    kept = (tmp_path / "media" / next(p for p in staged if p.endswith(".part"))).stat().st_size
    assert 0 < kept < 200_000
    (second,) = fetch(store, (urls["video"], "video", "v"))
    whole = httpx.get(urls["video"], timeout=30).content
    assert second.status == "ok" and second.sha256 == hashlib.sha256(whole).hexdigest()
    assert second.bytes == 200_000 and stored(tmp_path / "media") == [second.path]
    first_request, resumed = cdn_log(cdn)[:2]
    assert first_request["range"] is None
    assert resumed["range"] == f"bytes={kept}-" and resumed["if_range"] and resumed["status"] == 206


def test_a_trickle_times_out_pending(cdn: EmulatorProcess, tmp_path: Path) -> None:
    cdn.set_faults(media_trickle=0.01)
    urls = answer(cdn, "https://v.douyin.com/trickle/")
    (total,) = fetch(
        FolderStore(tmp_path), (urls["video"], "video", "v"), limits=Limits(total_seconds=0.5)
    )
    assert (total.status, total.error) == ("pending", "timed out after 0.5 s")
    cdn.set_faults(media_trickle=2.0)
    (idle,) = fetch(
        FolderStore(tmp_path), (urls["video"], "video", "v"), limits=Limits(idle_seconds=0.3)
    )
    assert (idle.status, idle.error) == ("pending", "no byte for 0.3 s")


def test_over_the_cap_is_too_large_with_nothing_left(cdn: EmulatorProcess, tmp_path: Path) -> None:
    cdn.set_faults(media_bytes=300_000)
    urls = answer(cdn, "https://v.douyin.com/big/")
    store = FolderStore(tmp_path / "media")
    (outcome,) = fetch(store, (urls["video"], "video", "v"), limits=Limits(max_bytes=100_000))
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error.startswith("too large")
    assert stored(tmp_path / "media") == []


def test_a_partial_past_the_cap_stops_at_the_cap(cdn: EmulatorProcess, tmp_path: Path) -> None:
    """The bytes already staged count: a resume never grows a file past the cap."""
    cdn.set_faults(media_short=True, media_bytes=300_000)
    urls = answer(cdn, "https://v.douyin.com/grown/")
    store = FolderStore(tmp_path / "media")
    (first,) = fetch(store, (urls["video"], "video", "v"))
    assert first.status == "pending"
    (second,) = fetch(store, (urls["video"], "video", "v"), limits=Limits(max_bytes=200_000))
    assert second.status == "failed" and str(second.error).startswith("too large")
    assert stored(tmp_path / "media") == []


def test_into_object_storage(
    cdn: EmulatorProcess, tmp_path: Path, s3_bucket: dict[str, str]
) -> None:
    store = open_store(
        f"s3://{BUCKET}/media/",
        credentials=ObjectStoreCredentials.from_env(s3_bucket),
        staging=tmp_path,
    )
    urls = answer(cdn, "https://v.douyin.com/s3/")
    outcomes = fetch(store, *[(urls[k], k, k) for k in ("video", "cover", "avatar")])
    assert {o.status for o in outcomes} == {"ok"}
    assert sorted(object_keys(s3_bucket)) == sorted(f"media/{o.path}" for o in outcomes)
    assert list(tmp_path.iterdir()) == []
