"""Properties over generated input: the URL is always found exactly, nothing raises, both paths agree."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.links import LINK_COLUMNS, parse_line, parse_text
from pipeline.links.bilibili import MAX_AID, av_to_bv, bv_to_av
from pipeline.links.parse import classify
from pipeline.links.vectorized import SHORT_LINK_HOSTS, classify_distinct
from pipeline.links.weibo import mblogid_to_mid, mid_to_mblogid

SUPPORTED_URLS = st.sampled_from(
    [
        "https://v.douyin.com/fEAkiIPyAd4/",
        "https://www.douyin.com/video/7431234567890123456",
        "https://b23.tv/a1B2c3D",
        "https://www.bilibili.com/video/BV1XRgNzjEF7",
        "http://xhslink.com/a/AbCdEfG",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://v.kuaishou.com/Abc123",
        "https://weibo.com/1234567890/NaBcDeFgH",
        "https://www.tiktok.com/@u/video/7234567890123456789",
        "https://www.tiktokv.com/share/video/7240568259186019630/",
        "https://m.tiktok.com/v/6749869095467945218.html",
        "https://www.bilibili.com/festival/bh3-7th?bvid=BV1tr4y1f7p2",
        "http://player.bilibili.com/player.html?aid=92494333&cid=157926707",
        "https://m.weibo.cn/2265830070/5020595169001740",
        "https://weibo.cn/2265830070/O8DM0BLLm?test=123",
        "http://t.cn/A6ItE5hM",
        "https://www.youtube.com/embed/videoseries?list=PLwP_SiAcdui0KVebT0mU9Apz359a4ubsC",
        "https://www.youtube.com/watch?feature=player_embedded&amp;v=V36LpHqtcDY",
        "https://www.douyin.com/user/MS4wLjABAAAA?vid=7525082444551310602",
        "https://m.gifshow.com/fw/photo/3xburnkmj3auazc",
        "https://www.rednote.com/explore/69e5c2340000000023012eb1",
        "https://vm.tiktok.com/ZTR45GpSF/",
    ]
)
CHINESE = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=0, max_size=12
)
TRAILERS = st.sampled_from(
    [
        "复制此链接，打开Dou音搜索，直接观看视频！",
        "，复制本条信息",
        "）",
        "】",
        "。",
        "点击链接，打开【快手】直接观看！",
        "",
    ]
)
# Text before a URL must not end in URL characters or a scheme, or it would be part of the URL.
PREFIX = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=40
).map(lambda s: s + " ")


@settings(max_examples=300, deadline=None)
@given(prefix=PREFIX, url=SUPPORTED_URLS, tail=CHINESE, trailer=TRAILERS)
def test_share_text_finds_exactly_the_url(prefix, url, tail, trailer):
    line = f"{prefix}{url}{trailer}{tail}"
    link = parse_line(line)
    if prefix.strip(" \t\u3000\u00a0\x0b\x0c\ufeff").startswith("#"):
        return
    assert link is not None
    assert link.error is None, line
    assert link.url == url


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_garbage_never_raises(text):
    for line in text.split("\n"):
        parse_line(line)
    parse_text(text)


LINE = st.one_of(
    st.text(max_size=60),
    st.builds(lambda a, u, b: f"{a}{u}{b}", CHINESE, SUPPORTED_URLS, TRAILERS),
    st.sampled_from(
        [
            "",
            "# c",
            "ftp://x/y",
            "https://example.com/a?utm_source=1",
            "https://x.y/a https://b23.tv/q",
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(LINE, max_size=30), st.booleans())
def test_a_lines_record_does_not_depend_on_the_lines_around_it(lines, crlf):
    """Parsed alone or in a file, a line gives the same record, numbered as the file holds it."""
    text = ("\r\n" if crlf else "\n").join(lines)
    expected = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        link = parse_line(line)
        if link is not None:
            expected.append(
                (
                    number,
                    link.raw,
                    link.url,
                    link.platform,
                    link.video_id,
                    link.canonical_url,
                    link.video_key,
                    link.error,
                )
            )
    frame = parse_text(text)
    assert frame.columns == list(LINK_COLUMNS)
    assert frame.schema["line_no"] == pl.Int64
    assert frame.rows() == expected


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_AID - 1))
def test_av_bv_round_trip(aid):
    bvid = av_to_bv(aid)
    assert bvid.startswith("BV1") and len(bvid) == 12
    assert bv_to_av(bvid) == aid


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=1, max_value=10**19))
def test_mid_mblogid_round_trip(mid):
    mblogid = mid_to_mblogid(str(mid))
    assert mblogid.isalnum() and mblogid.isascii()
    assert mblogid_to_mid(mblogid) == str(mid)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=12)
)
def test_mblogid_mid_round_trip(mblogid):
    """Every mblogid that names a mid is that mid's only mblogid (leading zeros aside)."""
    mid = mblogid_to_mid(mblogid)
    if mid is not None:
        assert mid_to_mblogid(mid) == mblogid.lstrip("0")


SHORT_LINK_LIKE = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["https", "http", "HTTPS", "ftp"]),
    st.sampled_from(
        [
            *SHORT_LINK_HOSTS,
            "V.douyin.com",
            "www.douyin.com",
            "b23.tv:443",
            "a.xhslink.com",
            "m.tiktok.com",
        ]
    ),
    st.text(alphabet="aZ09/?=&.-_%", max_size=24).map(
        lambda p: p.replace("a", "video/7431234567", 1)
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SHORT_LINK_LIKE, unique=True, max_size=20))
def test_short_links_settled_in_polars_match_classify(urls):
    frame = classify_distinct(pl.Series("url", urls, dtype=pl.Utf8))
    expected = {
        (c.url, c.platform, c.video_id, c.canonical_url, c.part) for c in map(classify, urls)
    }
    assert set(frame.rows()) == expected
