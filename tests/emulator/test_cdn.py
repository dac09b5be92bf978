"""The emulator's media CDN over real HTTP: signed URLs that expire, real files, ranges, faults."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx

from pipeline.media.content import Accepted, judge
from pipeline.media.expiry import url_expires_at
from tests.emulator.helpers import emulator, metadata


def media(client: httpx.Client, text: str) -> dict[str, str]:
    data = json.loads(metadata(client, text).json()["data"])
    return {"video": data["cover_url"], "cover": data["output"], "avatar": data["avatar"]}


def cdn_log(client: httpx.Client) -> list[dict[str, Any]]:
    return client.get("/_emulator/cdn").json()["requests"]


def test_answers_point_at_real_files_behind_expiring_urls() -> None:
    with emulator() as (process, client):
        issued = int(time.time())
        answers = [media(client, f"https://v.douyin.com/cdn{i}/") for i in range(12)]
        bodies = {kind: [client.get(a[kind]) for a in answers] for kind in answers[0]}
    for kind, responses in bodies.items():
        for response in responses:
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == len(response.content)
            verdict = judge(kind, response.headers["content-type"], response.content[:64])
            assert verdict == Accepted(response.headers["content-type"], verdict.extension)
    digests = {
        kind: [hashlib.sha256(r.content).hexdigest() for r in rs] for kind, rs in bodies.items()
    }
    assert len(set(digests["video"])) == 12, "every video its own bytes"
    assert 1 < len(set(digests["cover"])) < 12, "some covers shared, others not"
    assert 1 < len(set(digests["avatar"])) < 12, "an author's videos share the avatar"
    for answer in answers:
        assert (
            answer["video"].startswith(f"{process.url}/cdn/") and "douyinvod.com" in answer["video"]
        )
        play, cover = url_expires_at(answer["video"]), url_expires_at(answer["cover"])
        assert play is not None and 3600 <= play.timestamp() - issued <= 3 * 3600 + 5
        assert cover is not None and 14 * 86400 <= cover.timestamp() - issued <= 28 * 86400 + 5
        assert url_expires_at(answer["avatar"]) is None  # Douyin's avatars are not signed


def test_an_expired_or_edited_url_is_refused() -> None:
    with emulator(media_url_seconds=1.0) as (process, client):
        short_lived = media(client, "https://v.douyin.com/brief/")
        edited = short_lived["cover"].replace("x-expires=", "x-expires=9")
        assert client.get(edited).status_code == 403
        assert (
            client.get(short_lived["video"].replace("/video/tos/", "/video/tos2/")).status_code
            == 404
        )
        time.sleep(2.1)
        for kind in ("video", "cover"):
            answer = client.get(short_lived[kind])
            assert answer.status_code == 403 and "<html>" in answer.text
        assert client.get(short_lived["avatar"]).status_code == 200
        process.set_faults(media_expired=True, media_url_seconds=None)
        dead = media(client, "https://v.douyin.com/dead/")
        assert client.get(dead["video"]).status_code == 403
        assert client.get(dead["cover"]).status_code == 403


def test_ranges() -> None:
    with emulator() as (_, client):
        url = media(client, "https://v.douyin.com/ranges/")["video"]
        whole = client.get(url)
        etag = whole.headers["etag"]
        part = client.get(url, headers={"Range": "bytes=1000-"})
        assert part.status_code == 206 and part.content == whole.content[1000:]
        assert (
            part.headers["content-range"]
            == f"bytes 1000-{len(whole.content) - 1}/{len(whole.content)}"
        )
        middle = client.get(url, headers={"Range": "bytes=10-19"})
        assert middle.status_code == 206 and middle.content == whole.content[10:20]
        assert (
            client.get(url, headers={"Range": "bytes=1000-", "If-Range": etag}).status_code == 206
        )
        changed = client.get(url, headers={"Range": "bytes=1000-", "If-Range": '"other"'})
        assert changed.status_code == 200 and changed.content == whole.content
        beyond = client.get(url, headers={"Range": f"bytes={len(whole.content)}-"})
        assert beyond.status_code == 416
        assert [r["range"] for r in cdn_log(client)] == [
            None,
            "bytes=1000-",
            "bytes=10-19",
            "bytes=1000-",
            "bytes=1000-",
            f"bytes={len(whole.content)}-",
        ]


def test_switches() -> None:
    with emulator(media_html=True, media_bytes=300_000) as (process, client):
        urls = media(client, "https://v.douyin.com/switches/")
        page = client.get(urls["video"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        process.set_faults(media_html=False)
        assert len(client.get(urls["video"]).content) == 300_000
        process.set_faults(media_short=True)
        try:
            client.get(urls["cover"])
            raise AssertionError("the first answer should have been cut short")
        except httpx.RemoteProtocolError:
            pass
        assert client.get(urls["cover"]).status_code == 200  # cut once per URL
        process.set_faults(media_short=False, media_trickle=0.001)
        trickled = client.get(urls["cover"], headers={"Range": "bytes=0-49"})
        assert trickled.status_code == 206 and len(trickled.content) == 50
