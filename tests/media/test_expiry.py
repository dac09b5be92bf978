"""Expiries read from real-shaped signed URLs, whatever the host; no expiry rather than a wrong one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.media.expiry import expired, url_expires_at

# The recorded metadata answer's play URL (tests/coze/recorded), issued at dy_q=1754384917.
DOUYIN_PLAY = (
    "https://v5-se-qn-daily-cm-cold.douyinvod.com/7431e7f94360f08eddb39d5f01d1f67b/6891d8bd/"
    "video/tos/cn/tos-cn-ve-15c000-ce/oIALgeIweCAili5PqoeT7RPs16BZECUEUQd0vP/?a=1128&ch=0&cr=0"
    "&dr=0&cd=0%7C0%7C0%7C0&cv=1&br=1117&bt=1117&cs=0&ds=3&mime_type=video_mp4&qs=0"
    "&btag=80010e000a8000&cquery=100y&dy_q=1754384917&l=202508051708378F8866DD1532A9D84408"
)
DOUYIN_COVER = (
    "https://p9-sign.douyinpic.com/tos-cn-i-0813c000-ce/oIAshPAvApiiEhLA8PbntwiCI9PPIaC7ADBM9"
    "~tplv-dy-resize-walign-adapt-aq:540:q75.webp?lk3s=138a59ce&x-expires=1755594000"
    "&x-signature=yT9Iejh%2FhYoh4NCtvmPgUOyFGfU%3D&from=327834062&s=PackSourceEnum_DOUYIN_REFLOW"
)
DOUYIN_AVATAR = (
    "https://p3.douyinpic.com/aweme/100x100/aweme-avatar/"
    "tos-cn-i-0813c001_96b0665b3f3641d0b758f6efe71246ac.jpeg?from=327834062"
)
BILIBILI = (
    "https://cn-hk-eq-01-10.bilivideo.com/upgcxcode/71/12/1158901271/1158901271-1-192.mp4"
    "?e=ig8euxZM2rNcNbRV7WdVhwdlhWdBhwdVhoNvNC8BqJIzNbfq9rVEuxTEnE8L5F6VnEsSTx0vkX8fqJeYTj_lta53NCM="
    "&uipk=5&nbs=1&deadline=1721127940&gen=playurlv2&os=bcache&oi=729892153&platform=html5"
    "&og=cos&upsig=61932c241c510493aae8565e4a2732ea&uparams=e,uipk,nbs,deadline"
)
YOUTUBE = (
    "https://rr3---sn-q4fl6nsr.googlevideo.com/videoplayback?expire=1754448466&ei=Ul6SaMKxB"
    "&ip=203.0.113.9&id=o-AEx2&itag=18&source=youtube&mime=video%2Fmp4&sig=AJfQdSswRQIg"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (DOUYIN_PLAY, utc(2025, 8, 5, 10, 11, 9)),
        (DOUYIN_COVER, utc(2025, 8, 19, 9, 0)),
        (BILIBILI, utc(2024, 7, 16, 11, 5, 40)),
        (YOUTUBE, utc(2025, 8, 6, 2, 47, 46)),
        # The emulator's CDN on loopback: the same hex segments under another host and prefix.
        (
            "http://127.0.0.1:8765/cdn/v5-se-qn-daily-cm-cold.douyinvod.com/"
            "7431e7f94360f08eddb39d5f01d1f67b/6891d8bd/video/tos/cn/o1/?a=1128",
            utc(2025, 8, 5, 10, 11, 9),
        ),
        (
            "https://f.video.weibocdn.com/o0/x.mp4?Expires=1754448466&ssig=a&KID=unistore",
            utc(2025, 8, 6, 2, 47, 46),
        ),
        (
            "https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20250805T100000Z&X-Amz-Expires=3600&X-Amz-Signature=ab",
            utc(2025, 8, 5, 11, 0),
        ),
        # Two expiries: the earliest one wins.
        (
            "https://x.example/a?deadline=1754448466&x-expires=1755594000",
            utc(2025, 8, 6, 2, 47, 46),
        ),
    ],
)
def test_expiry_by_shape(url: str, expected: datetime) -> None:
    got = url_expires_at(url)
    assert got == expected
    assert got is not None and got.tzinfo is not None


def test_play_url_lives_hours_after_issue() -> None:
    """The recorded play URL: issued at `dy_q`, expiring one to three hours later."""
    expiry = url_expires_at(DOUYIN_PLAY)
    assert expiry is not None
    assert 3600 <= expiry.timestamp() - 1754384917 <= 3 * 3600


@pytest.mark.parametrize(
    "url",
    [
        DOUYIN_AVATAR,  # avatars are not signed
        "https://x.douyinvod.com/short/path/",
        "https://x.douyinvod.com/7431e7f94360f08eddb39d5f01d1f67b/zz91d8bd/video/",
        "https://x.douyinvod.com/7431e7f94360f08eddb39d5f01d1f67b/6891d8bd0/video/",
        "https://p.douyinpic.com/a?x-expires=99999999999999999999",
        "https://p.douyinpic.com/a?x-expires=-1755594000",
        "https://p.douyinpic.com/a?x-expires=1755594000.5",
        "https://p.douyinpic.com/a?x-expires=",
        "https://p.douyinpic.com/a?x-expires=12",  # 1970: not a signed URL's expiry
        "https://b.s3.amazonaws.com/k?X-Amz-Date=2025-08-05&X-Amz-Expires=3600",
        "https://b.s3.amazonaws.com/k?X-Amz-Date=20250805T100000Z&X-Amz-Expires=9999999999999",
        "not a url at all [",
        "http://[::1",
        "",
        None,
    ],
)
def test_no_expiry_rather_than_a_wrong_one(url: str | None) -> None:
    assert url_expires_at(url) is None


def test_expired_compares_with_the_given_now() -> None:
    assert expired(DOUYIN_COVER, utc(2025, 8, 19, 9, 0))
    assert not expired(DOUYIN_COVER, utc(2025, 8, 19, 8, 59, 59))
    assert not expired(DOUYIN_AVATAR, utc(2099, 1, 1))
