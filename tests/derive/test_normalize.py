from datetime import datetime

import pytest

from pipeline.derive.normalize import signed_url_expiry, split_title

SEED_TITLE = (
    "克洛克达尔女性身份的秘密 #海贼王动画 #航海王入驻抖音 #要相信海米的羁绊 #动漫编年史 "
    "#午夜屠虎男 @航海王_ONEPIECE官方"
)


def test_seed_title_loses_hashtags_and_mentions_but_keeps_them_apart():
    title = split_title(SEED_TITLE)
    assert title.text == "克洛克达尔女性身份的秘密"
    assert title.hashtags == (
        "海贼王动画",
        "航海王入驻抖音",
        "要相信海米的羁绊",
        "动漫编年史",
        "午夜屠虎男",
    )
    assert title.mentions == ("航海王_ONEPIECE官方",)


@pytest.mark.parametrize(
    ("raw", "text", "hashtags", "mentions"),
    [
        ("变装 # 穿搭 # 变装 结尾", "变装 结尾", ("穿搭", "变装"), ()),
        ("no tags here", "no tags here", (), ()),
        ("#a#b@c@d", "", ("a", "b"), ("c", "d")),
        ("", "", (), ()),
    ],
)
def test_split_title_shapes(raw, text, hashtags, mentions):
    title = split_title(raw)
    assert (title.text, title.hashtags, title.mentions) == (text, hashtags, mentions)


def test_douyin_play_url_expiry_is_the_hex_path_segment():
    url = (
        "https://v5-se-qn-daily-cm-cold.douyinvod.com/7431e7f94360f08eddb39d5f01d1f67b/6891d8bd/"
        "video/tos/cn/tos-cn-ve-15c000-ce/x/?a=1128&dy_q=1754384917"
    )
    expires = signed_url_expiry(url)
    assert expires == datetime(2025, 8, 5, 10, 11, 9)
    issued = datetime.utcfromtimestamp(1754384917)
    assert 0 < (expires - issued).total_seconds() < 4 * 3600


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://p9-sign.douyinpic.com/a.webp?lk3s=1&x-expires=1755594000&x-signature=y",
            datetime(2025, 8, 19, 9, 0),
        ),
        (
            "https://upos-sz.bilivideo.com/v.m4s?e=x&deadline=1754448466&gen=playurl",
            datetime(2025, 8, 6, 2, 47, 46),
        ),
        (
            "https://rr1.googlevideo.com/videoplayback?expire=1754448466&ei=x",
            datetime(2025, 8, 6, 2, 47, 46),
        ),
        ("https://example.com/no/expiry", None),
        ("https://x.douyinvod.com/short/path/", None),
        (None, None),
        ("not a url at all [", None),
        ("https://p.douyinpic.com/a?x-expires=99999999999999999999", None),
    ],
)
def test_query_parameter_expiries(url, expected):
    assert signed_url_expiry(url) == expected
