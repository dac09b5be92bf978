"""Real share shapes, table-driven; the CLI; decoding of whatever bytes people paste."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.links import decode_link_bytes, parse_line, parse_text
from pipeline.links.bilibili import av_to_bv, bv_to_av

SEED_DOUYIN = (
    "6.15 03/10 goD:/ g@B.tE 克洛克达尔女性身份的秘密 # 海贼王动画 # 航海王入驻抖音 # 要相信海米的羁绊 "
    "# 动漫编年史 # 午夜屠虎男 @航海王_ONEPIECE官方  https://v.douyin.com/fEAkiIPyAd4/ "
    "复制此链接，打开Dou音搜索，直接观看视频！"
)
SEED_BILIBILI = (
    "https://www.bilibili.com/video/BV1XRgNzjEF7/?spm_id_from=333.1007.tianma.5-1-15.click"
    "&vd_source=96959ec2796e251a9b09de20bc497636"
)

# (line, url, platform, video_id, canonical_url, video_key)
CASES = [
    (
        SEED_DOUYIN,
        "https://v.douyin.com/fEAkiIPyAd4/",
        "douyin",
        None,
        "https://v.douyin.com/fEAkiIPyAd4/",
        "https://v.douyin.com/fEAkiIPyAd4/",
    ),
    (
        SEED_BILIBILI,
        SEED_BILIBILI,
        "bilibili",
        "BV1XRgNzjEF7",
        "https://www.bilibili.com/video/BV1XRgNzjEF7",
        "bilibili:BV1XRgNzjEF7",
    ),
    (
        "复制此链接，打开Dou音搜索，直接观看视频！ https://v.douyin.com/fEAkiIPyAd4/ 6.15 03/10 goD:/ g@B.tE",
        "https://v.douyin.com/fEAkiIPyAd4/",
        "douyin",
        None,
        "https://v.douyin.com/fEAkiIPyAd4/",
        "https://v.douyin.com/fEAkiIPyAd4/",
    ),
    (
        "变装https://v.douyin.com/L4FJNR3/",
        "https://v.douyin.com/L4FJNR3/",
        "douyin",
        None,
        "https://v.douyin.com/L4FJNR3/",
        "https://v.douyin.com/L4FJNR3/",
    ),
    (
        "https://v.douyin.com/jK586QrMSRI/复制此链接，打开抖音",
        "https://v.douyin.com/jK586QrMSRI/",
        "douyin",
        None,
        "https://v.douyin.com/jK586QrMSRI/",
        "https://v.douyin.com/jK586QrMSRI/",
    ),
    (
        "看这个https://v.douyin.com/abc123/，好看",
        "https://v.douyin.com/abc123/",
        "douyin",
        None,
        "https://v.douyin.com/abc123/",
        "https://v.douyin.com/abc123/",
    ),
    (
        "（https://b23.tv/abc123）",
        "https://b23.tv/abc123",
        "bilibili",
        None,
        "https://b23.tv/abc123",
        "https://b23.tv/abc123",
    ),
    (
        "【航海王名场面-哔哩哔哩】 https://b23.tv/a1B2c3D】",
        "https://b23.tv/a1B2c3D",
        "bilibili",
        None,
        "https://b23.tv/a1B2c3D",
        "https://b23.tv/a1B2c3D",
    ),
    (
        "见 https://v.douyin.com/x1y2z3/。",
        "https://v.douyin.com/x1y2z3/",
        "douyin",
        None,
        "https://v.douyin.com/x1y2z3/",
        "https://v.douyin.com/x1y2z3/",
    ),
    (
        "http://xhslink.com/a/AbCdEfG ，复制本条信息，打开【小红书】App查看精彩内容！",
        "http://xhslink.com/a/AbCdEfG",
        "xiaohongshu",
        None,
        "http://xhslink.com/a/AbCdEfG",
        "http://xhslink.com/a/AbCdEfG",
    ),
    (
        "https://v.kuaishou.com/Abc123 在快手看视频，点击链接，打开【快手】直接观看！",
        "https://v.kuaishou.com/Abc123",
        "kuaishou",
        None,
        "https://v.kuaishou.com/Abc123",
        "https://v.kuaishou.com/Abc123",
    ),
    (
        "https://www.douyin.com/video/7431234567890123456?previous_page=app_code_link",
        "https://www.douyin.com/video/7431234567890123456?previous_page=app_code_link",
        "douyin",
        "7431234567890123456",
        "https://www.douyin.com/video/7431234567890123456",
        "douyin:7431234567890123456",
    ),
    (
        "https://www.douyin.com/note/7431234567890123999",
        "https://www.douyin.com/note/7431234567890123999",
        "douyin",
        "7431234567890123999",
        "https://www.douyin.com/note/7431234567890123999",
        "douyin:7431234567890123999",
    ),
    (
        "https://www.iesdouyin.com/share/video/7431234567890123456/?region=CN",
        "https://www.iesdouyin.com/share/video/7431234567890123456/?region=CN",
        "douyin",
        "7431234567890123456",
        "https://www.douyin.com/video/7431234567890123456",
        "douyin:7431234567890123456",
    ),
    (
        "https://www.douyin.com/user/self?modal_id=7431234567890123456&showTab=like",
        "https://www.douyin.com/user/self?modal_id=7431234567890123456&showTab=like",
        "douyin",
        "7431234567890123456",
        "https://www.douyin.com/video/7431234567890123456",
        "douyin:7431234567890123456",
    ),
    (
        "https://www.douyin.com/jingxuan?modal%5Fid=7431234567890123457",
        "https://www.douyin.com/jingxuan?modal%5Fid=7431234567890123457",
        "douyin",
        "7431234567890123457",
        "https://www.douyin.com/video/7431234567890123457",
        "douyin:7431234567890123457",
    ),
    (
        "https://www.bilibili.com/video/av170001/",
        "https://www.bilibili.com/video/av170001/",
        "bilibili",
        "BV17x411w7KC",
        "https://www.bilibili.com/video/BV17x411w7KC",
        "bilibili:BV17x411w7KC",
    ),
    (
        "https://m.bilibili.com/video/BV1GJ411x7h7?p=3&share_source=copy_web",
        "https://m.bilibili.com/video/BV1GJ411x7h7?p=3&share_source=copy_web",
        "bilibili",
        "BV1GJ411x7h7",
        "https://www.bilibili.com/video/BV1GJ411x7h7?p=3",
        "bilibili:BV1GJ411x7h7:p3",
    ),
    (
        "https://www.bilibili.com/video/BV1GJ411x7h7?p=1",
        "https://www.bilibili.com/video/BV1GJ411x7h7?p=1",
        "bilibili",
        "BV1GJ411x7h7",
        "https://www.bilibili.com/video/BV1GJ411x7h7",
        "bilibili:BV1GJ411x7h7",
    ),
    (
        "https://www.tiktok.com/@some.user/video/7234567890123456789?is_from_webapp=1",
        "https://www.tiktok.com/@some.user/video/7234567890123456789?is_from_webapp=1",
        "tiktok",
        "7234567890123456789",
        "https://www.tiktok.com/@some.user/video/7234567890123456789",
        "tiktok:7234567890123456789",
    ),
    (
        "https://www.kuaishou.com/short-video/3xk5ab2cd9ef?fid=0&cc=share_copylink",
        "https://www.kuaishou.com/short-video/3xk5ab2cd9ef?fid=0&cc=share_copylink",
        "kuaishou",
        "3xk5ab2cd9ef",
        "https://www.kuaishou.com/short-video/3xk5ab2cd9ef",
        "kuaishou:3xk5ab2cd9ef",
    ),
    (
        "https://www.xiaohongshu.com/explore/64a1b2c3d4e5f6a7b8c9d0e1?xsec_token=AB12&xsec_source=pc_feed",
        "https://www.xiaohongshu.com/explore/64a1b2c3d4e5f6a7b8c9d0e1?xsec_token=AB12&xsec_source=pc_feed",
        "xiaohongshu",
        "64a1b2c3d4e5f6a7b8c9d0e1",
        "https://www.xiaohongshu.com/explore/64a1b2c3d4e5f6a7b8c9d0e1?xsec_token=AB12",
        "xiaohongshu:64a1b2c3d4e5f6a7b8c9d0e1",
    ),
    (
        "https://www.xiaohongshu.com/discovery/item/64a1b2c3d4e5f6a7b8c9d0e2",
        "https://www.xiaohongshu.com/discovery/item/64a1b2c3d4e5f6a7b8c9d0e2",
        "xiaohongshu",
        "64a1b2c3d4e5f6a7b8c9d0e2",
        "https://www.xiaohongshu.com/explore/64a1b2c3d4e5f6a7b8c9d0e2",
        "xiaohongshu:64a1b2c3d4e5f6a7b8c9d0e2",
    ),
    (
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "youtube",
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "youtube:dQw4w9WgXcQ",
    ),
    (
        "https://www.youtube.com/shorts/aBcDeFgHiJk",
        "https://www.youtube.com/shorts/aBcDeFgHiJk",
        "youtube",
        "aBcDeFgHiJk",
        "https://www.youtube.com/watch?v=aBcDeFgHiJk",
        "youtube:aBcDeFgHiJk",
    ),
    (
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share&utm_source=x",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share&utm_source=x",
        "youtube",
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "youtube:dQw4w9WgXcQ",
    ),
    (
        "https://weibo.com/1234567890/NaBcDeFgH",
        "https://weibo.com/1234567890/NaBcDeFgH",
        "weibo",
        "4925262913495231",
        "https://m.weibo.cn/status/4925262913495231",
        "weibo:4925262913495231",
    ),
    (
        "HTTPS://V.DOUYIN.COM/UpperCase/",
        "HTTPS://V.DOUYIN.COM/UpperCase/",
        "douyin",
        None,
        "https://v.douyin.com/UpperCase/",
        "https://v.douyin.com/UpperCase/",
    ),
    (
        "https://www.bilibili.com/read/cv123?spm_id_from=x&utm_medium=y&keep=1",
        "https://www.bilibili.com/read/cv123?spm_id_from=x&utm_medium=y&keep=1",
        "bilibili",
        None,
        "https://www.bilibili.com/read/cv123?keep=1",
        "https://www.bilibili.com/read/cv123?keep=1",
    ),
    (
        "two links https://example.com/x then https://v.douyin.com/second/",
        "https://v.douyin.com/second/",
        "douyin",
        None,
        "https://v.douyin.com/second/",
        "https://v.douyin.com/second/",
    ),
]


@pytest.mark.parametrize(("line", "url", "platform", "video_id", "canonical", "key"), CASES)
def test_real_share_shapes(line, url, platform, video_id, canonical, key):
    link = parse_line(line)
    assert link is not None
    assert (
        link.url,
        link.platform,
        link.video_id,
        link.canonical_url,
        link.video_key,
        link.error,
    ) == (
        url,
        platform,
        video_id,
        canonical,
        key,
        None,
    )


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("这一行没有链接，只是笔记", "no_url"),
        ("v.douyin.com/abc without a scheme", "no_url"),
        ("ftp://example.com/video.mp4", "bad_scheme"),
        ("看 rtmp://live.example.com/x", "bad_scheme"),
        ("https://example.org/not-a-video?utm_source=x", "unsupported_platform"),
        ("http://notdouyin.com/video/7431234567890123456", "unsupported_platform"),
    ],
)
def test_bad_lines_carry_a_reason_not_an_exception(line, error):
    link = parse_line(line)
    assert link is not None and link.error == error
    assert link.video_key is None


@pytest.mark.parametrize("line", ["", "   ", "\t\u3000", "# note", "   # indented note"])
def test_blank_and_comment_lines_are_skipped(line):
    assert parse_line(line) is None


@pytest.mark.parametrize(("aid", "bvid"), [(170001, "BV17x411w7KC"), (80433022, "BV1GJ411x7h7")])
def test_known_av_bv_pairs(aid, bvid):
    assert av_to_bv(aid) == bvid
    assert bv_to_av(bvid) == aid


def test_decoding_never_fails():
    assert decode_link_bytes("\ufeffhttps://b23.tv/x\r\n".encode()) == "https://b23.tv/x\r\n"
    gbk = "看这个 https://v.douyin.com/abc/ 复制此链接".encode("gbk")
    assert decode_link_bytes(gbk) == "看这个 https://v.douyin.com/abc/ 复制此链接"
    broken = b"https://b23.tv/ok \xff\xfe\xfd tail"
    assert decode_link_bytes(broken) == "https://b23.tv/ok \ufffd\ufffd\ufffd tail"
    assert decode_link_bytes(b"a\x00b") == "a\x00b"
    assert decode_link_bytes("看 https://b23.tv/u16".encode("utf-16")) == "看 https://b23.tv/u16"


def test_one_bad_line_does_not_change_how_the_others_read():
    good = "第一行 https://v.douyin.com/abc/"
    gbk = "第二行 https://b23.tv/xyz".encode("gbk")
    data = good.encode() + b"\n" + gbk + b"\n" + b"\xff broken https://b23.tv/ok"
    assert decode_link_bytes(data).split("\n") == [
        good,
        "第二行 https://b23.tv/xyz",
        "\ufffd broken https://b23.tv/ok",
    ]


def test_whole_file_keeps_physical_line_numbers_and_crlf():
    text = "# header\r\nhttps://b23.tv/one\r\n\r\nnot a link\r\nhttps://youtu.be/dQw4w9WgXcQ"
    frame = parse_text(text)
    assert frame["line_no"].to_list() == [2, 4, 5]
    assert frame["raw"].to_list() == [
        "https://b23.tv/one",
        "not a link",
        "https://youtu.be/dQw4w9WgXcQ",
    ]
    assert frame["error"].to_list() == [None, "no_url", None]


def test_cli_prints_one_json_object_per_line(tmp_path):
    file = tmp_path / "links.txt"
    file.write_bytes(SEED_DOUYIN.encode() + b"\n\n# c\nbad \xff line\n")
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.links", str(file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    records = [json.loads(line) for line in out]
    assert [r["line_no"] for r in records] == [1, 4]
    assert list(records[0]) == [
        "line_no",
        "raw",
        "url",
        "platform",
        "video_id",
        "canonical_url",
        "video_key",
        "error",
    ]
    assert records[0]["url"] == "https://v.douyin.com/fEAkiIPyAd4/"
    assert records[1]["error"] == "no_url"
    piped = subprocess.run(
        [sys.executable, "-m", "pipeline.links"],
        input=SEED_BILIBILI,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(piped)["video_key"] == "bilibili:BV1XRgNzjEF7"
