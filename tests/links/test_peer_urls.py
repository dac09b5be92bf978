"""Share URLs from well-known downloaders' own tests and docs, with the id each expects.

Sources: yt-dlp `_TESTS` and `test/test_all_urls.py`, `test/test_youtube_misc.py` (ytdlp);
gallery-dl `test/results/*.py` (gdl); f2 `f2/apps/*/test/*.py` (f2); MediaCrawler
`media_platform/*/help.py` (mc); other public repositories' tests and docs for forms these
four lack (other). Short links and pages that name no single video keep their canonical URL.
"""

from __future__ import annotations

import pytest

from pipeline.links import parse_line, parse_text

# (source, url, expected video_key)
PEER_CASES: list[tuple[str, str, str]] = [
    # YouTube
    ("ytdlp", "https://www.youtube.com/watch?v=YE7VzlLtp-4&t=1s&end=9", "youtube:YE7VzlLtp-4"),
    ("ytdlp", "https://www.youtube.com/watch?v=YE7VzlLtp-4&v=BaW_jenozKc", "youtube:YE7VzlLtp-4"),
    ("ytdlp", "https://www.youtube.com/embed/CsmdDsKjzN8", "youtube:CsmdDsKjzN8"),
    (
        "ytdlp",
        "https://www.youtube.com/watch?feature=player_embedded&amp;amp;v=V36LpHqtcDY",
        "youtube:V36LpHqtcDY",
    ),
    ("ytdlp", "https://music.youtube.com/watch?v=MgNrAu2pzNs", "youtube:MgNrAu2pzNs"),
    ("ytdlp", "https://www.youtubekids.com/watch?v=3b8nCWDgZ6Q", "youtube:3b8nCWDgZ6Q"),
    ("ytdlp", "https://www.youtube.com/watch_popup?v=63RmMXCd_bQ", "youtube:63RmMXCd_bQ"),
    ("ytdlp", "https://www.youtube.com/shorts/BGQWPY4IigY", "youtube:BGQWPY4IigY"),
    ("ytdlp", "https://www.youtube.com/live/qVv6vCqciTM", "youtube:qVv6vCqciTM"),
    ("ytdlp", "https://youtube.googleapis.com/v/BaW_jenozKc", "youtube:BaW_jenozKc"),
    ("ytdlp", "http://www.youtube.com/v/BaW_jenozKc", "youtube:BaW_jenozKc"),
    ("ytdlp", "http://youtu.be/BaW_jenozKc", "youtube:BaW_jenozKc"),
    ("ytdlp", "http://www.youtube.com/watch?&v=BaW_jenozKc", "youtube:BaW_jenozKc"),
    (
        "ytdlp",
        "https://www.youtube.com/watch?feature=player_embedded&v=BaW_jenozKc",
        "youtube:BaW_jenozKc",
    ),
    (
        "ytdlp",
        "http://www.youtube.com/watch?v=BaW_jenozKcsharePLED17F32AD9753930",
        "youtube:BaW_jenozKc",
    ),
    (
        "ytdlp",
        "https://youtu.be/yeWKywCrFtk?list=PL2qgrgXsNUG5ig9cat4ohreBjYLAPC0J5",
        "youtube:yeWKywCrFtk",
    ),
    (
        "ytdlp",
        "https://consent.youtube.com/m?continue=https%3A%2F%2Fwww.youtube.com%2Flive%2F"
        "qVv6vCqciTM%3Fcbrd%3D1&gl=NL&m=0&pc=yt&hl=en&src=1",
        "youtube:qVv6vCqciTM",
    ),
    (
        "ytdlp",
        "https://www.youtube.com/embed/live_stream?channel=UC2_KI6RB__jGdlnK6dvFEZA",
        "https://www.youtube.com/embed/live_stream?channel=UC2_KI6RB__jGdlnK6dvFEZA",
    ),
    (
        "ytdlp",
        "https://www.youtube.com/embed/videoseries?list=PLwP_SiAcdui0KVebT0mU9Apz359a4ubsC",
        "https://www.youtube.com/embed/videoseries?list=PLwP_SiAcdui0KVebT0mU9Apz359a4ubsC",
    ),
    (
        "ytdlp",
        "https://www.youtube.com/playlist?list=PLwP_SiAcdui0KVebT0mU9Apz359a4ubsC",
        "https://www.youtube.com/playlist?list=PLwP_SiAcdui0KVebT0mU9Apz359a4ubsC",
    ),
    (
        "other",
        "https://www.youtube-nocookie.com/embed/UxTJeEbZX-0?si=mwQUzXb6mmCg7aom",
        "youtube:UxTJeEbZX-0",
    ),
    # Bilibili
    ("ytdlp", "https://www.bilibili.com/video/BV13x41117TL", "bilibili:BV13x41117TL"),
    ("ytdlp", "http://www.bilibili.com/video/av1074402/", "bilibili:BV11x411K7CN"),
    ("ytdlp", "https://www.bilibili.com/video/av8903802/", "bilibili:BV13x41117TL"),
    ("ytdlp", "https://www.bilibili.com/video/BV1bK411W797?p=1", "bilibili:BV1bK411W797"),
    ("ytdlp", "https://www.bilibili.com/video/BV1ms411Q7vw/?p=4", "bilibili:BV1ms411Q7vw:p4"),
    (
        "ytdlp",
        "https://www.bilibili.com/festival/2023honkaiimpact3gala?bvid=BV1ay4y1d77f",
        "bilibili:BV1ay4y1d77f",
    ),
    (
        "ytdlp",
        "https://www.bilibili.com/festival/bh3-7th?bvid=BV1tr4y1f7p2&",
        "bilibili:BV1tr4y1f7p2",
    ),
    (
        "ytdlp",
        "https://www.bilibili.com/list/1958703906?sid=547718&oid=687146339&bvid=BV1DU4y1r7tz",
        "bilibili:BV1DU4y1r7tz",
    ),
    (
        "ytdlp",
        "https://www.bilibili.com/list/watchlater?oid=687146339&bvid=BV1DU4y1r7tz",
        "bilibili:BV1DU4y1r7tz",
    ),
    (
        "ytdlp",
        "http://player.bilibili.com/player.html?aid=92494333&cid=157926707&page=1",
        "bilibili:BV1xE411H755",
    ),
    (
        "mc",
        "https://www.bilibili.com/video/BV1dwuKzmE26/?spm_id_from=333.1387.homepage.video_card.click",
        "bilibili:BV1dwuKzmE26",
    ),
    # Weibo: every form of a post keys by its numeric mid
    ("ytdlp", "https://weibo.com/7827771738/N4xlMvjhI", "weibo:4910815147462302"),
    ("ytdlp", "https://m.weibo.cn/status/4189191225395228", "weibo:4189191225395228"),
    ("ytdlp", "https://m.weibo.cn/detail/4189191225395228", "weibo:4189191225395228"),
    ("ytdlp", "https://weibo.com/0/4224132150961381", "weibo:4224132150961381"),
    ("f2", "https://weibo.com/2265830070/O8DM0BLLm", "weibo:5020595169001740"),
    ("f2", "https://weibo.com/2265830070/O8DM0BLLm/?test=123", "weibo:5020595169001740"),
    ("f2", "https://weibo.com/2265830070/O8DM0BLLm/%$#", "weibo:5020595169001740"),
    ("f2", "https://www.weibo.com/2265830070/5020595169001740", "weibo:5020595169001740"),
    ("f2", "https://m.weibo.cn/2265830070/5020595169001740/", "weibo:5020595169001740"),
    ("f2", "https://weibo.cn/2265830070/O8DM0BLLm?test=123", "weibo:5020595169001740"),
    ("f2", "https://weibo.cn/status/5020595169001740/", "weibo:5020595169001740"),
    ("gdl", "https://weibo.cn/detail/4600272267522211", "weibo:4600272267522211"),
    ("gdl", "https://m.weibo.cn/5746766133/4339748116375525", "weibo:4339748116375525"),
    ("gdl", "https://weibo.com/2909128931/4409545658754086", "weibo:4409545658754086"),
    ("other", "http://t.cn/A6ItE5hM", "http://t.cn/A6ItE5hM"),
    # TikTok
    (
        "ytdlp",
        "https://www.tiktok.com/@leenabhushan/video/6748451240264420610",
        "tiktok:6748451240264420610",
    ),
    (
        "ytdlp",
        "https://www.tiktok.com/@patroxofficial/video/6742501081818877190?langCountry=en",
        "tiktok:6742501081818877190",
    ),
    (
        "ytdlp",
        "https://www.tiktokv.com/share/video/7668090902816017671/",
        "tiktok:7668090902816017671",
    ),
    (
        "ytdlp",
        "https://www.tiktok.com/share/video/7668090902816017671/",
        "tiktok:7668090902816017671",
    ),
    ("ytdlp", "https://www.tiktok.com/@/video/7668090902816017671/", "tiktok:7668090902816017671"),
    ("ytdlp", "https://vm.tiktok.com/ZTR45GpSF/", "https://vm.tiktok.com/ZTR45GpSF/"),
    (
        "gdl",
        "https://www.tiktok.com/@chillezy/photo/7240568259186019630",
        "tiktok:7240568259186019630",
    ),
    (
        "gdl",
        "https://www.tiktokv.com/share/video/7240568259186019630",
        "tiktok:7240568259186019630",
    ),
    (
        "f2",
        "https://www.tiktok.com/@justinbieber/video/7140296406429977898/?is_from_webapp=1"
        "&sender_device=pc&web_id=7451992228786750983",
        "tiktok:7140296406429977898",
    ),
    (
        "other",
        "https://www.tiktok.com/embed/v2/7342084920803446024",
        "tiktok:7342084920803446024",
    ),
    ("other", "https://m.tiktok.com/v/6749869095467945218.html", "tiktok:6749869095467945218"),
    ("other", "https://m.tiktok.com/v/6749869095467945218", "tiktok:6749869095467945218"),
    # Douyin
    ("ytdlp", "https://www.douyin.com/video/6961737553342991651", "douyin:6961737553342991651"),
    (
        "f2",
        "https://www.iesdouyin.com/share/video/7298145681699622182/?region=CN"
        "&mid=7298145762238565171&u_code=l1j9bkbd&with_sec_did=1&from=web_code_link",
        "douyin:7298145681699622182",
    ),
    (
        "f2",
        "https://www.douyin.com/video/7298145681699622182?previous_page=web_code_link",
        "douyin:7298145681699622182",
    ),
    ("f2", "https://www.douyin.com/note/7330042216045464883", "douyin:7330042216045464883"),
    ("f2", "https://v.douyin.com/iRNBho6u/", "https://v.douyin.com/iRNBho6u/"),
    (
        "mc",
        "https://www.douyin.com/user/MS4wLjABAAAATJPY7LAlaa5X-c8uNdWkvz0jUGgpw4eeXIwu_8BhvqE"
        "?from_tab_name=main&modal_id=7525082444551310602",
        "douyin:7525082444551310602",
    ),
    (
        "mc",
        "https://www.douyin.com/root/search/python?aid=b733a3b0-4662-4639-9a72-c2318fba9f3f"
        "&modal_id=7471165520058862848&type=general",
        "douyin:7471165520058862848",
    ),
    (
        "other",
        "https://www.douyin.com/user/MS4wLjABAAAATJPY7LAlaa5X-c8uNdWkvz0jUGgpw4eeXIwu_8BhvqE"
        "?from_tab_name=main&vid=7525082444551310602",
        "douyin:7525082444551310602",
    ),
    (
        "other",
        "https://www.iesdouyin.com/share/slides/7490606034948525372/?mid=123",
        "douyin:7490606034948525372",
    ),
    (
        "other",
        "https://www.iesdouyin.com/share/note/7424432820954598707/?from=web",
        "douyin:7424432820954598707",
    ),
    # Kuaishou
    (
        "mc",
        "https://www.kuaishou.com/short-video/3x3zxz4mjrsc8ke?authorId=3x84qugg4ch9zhs"
        "&streamSource=search",
        "kuaishou:3x3zxz4mjrsc8ke",
    ),
    ("other", "http://www.kuaishou.cn/short-video/3xburnkmj3auazc", "kuaishou:3xburnkmj3auazc"),
    ("other", "https://m.gifshow.com/fw/photo/3xburnkmj3auazc", "kuaishou:3xburnkmj3auazc"),
    (
        "other",
        "https://v.m.chenzhongtech.com/fw/photo/3xburnkmj3auazc",
        "kuaishou:3xburnkmj3auazc",
    ),
    (
        "other",
        "https://c.kuaishou.com/fw/photo/3xbjz7dvcx6qj3a?fid=2096594305&cc=share_copylink"
        "&followRefer=151&photoId=3xbjz7dvcx6qj3a",
        "kuaishou:3xbjz7dvcx6qj3a",
    ),
    ("other", "https://v.kuaishou.com/5FGpDa", "https://v.kuaishou.com/5FGpDa"),
    # Xiaohongshu
    (
        "ytdlp",
        "https://www.xiaohongshu.com/explore/6411cf99000000001300b6d9",
        "xiaohongshu:6411cf99000000001300b6d9",
    ),
    (
        "ytdlp",
        "https://www.xiaohongshu.com/discovery/item/674051740000000007027a15"
        "?xsec_token=CBgeL8Dxd1ZWBhwqRd568gAZ_iwG-9JIf9tnApNmteU2E=",
        "xiaohongshu:674051740000000007027a15",
    ),
    (
        "mc",
        "https://www.xiaohongshu.com/explore/66fad51c000000001b0224b8"
        "?xsec_token=AB3rO-QopW5sgrJ41GwN01WCXh6yWPxjSoFI9D5JIMgKw=&xsec_source=pc_search",
        "xiaohongshu:66fad51c000000001b0224b8",
    ),
    (
        "other",
        "https://www.rednote.com/explore/69e5c2340000000023012eb1"
        "?xsec_token=ABSJ5fXql0_RYweB4YHpGEEFBK-eZFkbVBu23jLwrDlgE=&xsec_source=pc_user",
        "xiaohongshu:69e5c2340000000023012eb1",
    ),
    (
        "other",
        "https://www.rednote.com/discovery/item/6ab7ada8000000000200daea",
        "xiaohongshu:6ab7ada8000000000200daea",
    ),
    (
        "other",
        "https://www.xiaohongshu.com/user/profile/5eb8e1d400000000010075ae/66fad51c000000001b0224b8",
        "xiaohongshu:66fad51c000000001b0224b8",
    ),
    ("other", "http://xhslink.cn/o/1JLlTKa04Vv", "http://xhslink.cn/o/1JLlTKa04Vv"),
]


@pytest.mark.parametrize(("source", "url", "key"), PEER_CASES)
def test_peer_urls_get_the_peers_id(source, url, key):
    link = parse_line(f"看看 {url} 复制此链接")
    assert link is not None and link.error is None, source
    assert link.url == url
    assert link.video_key == key


def test_whole_file_path_gives_the_same_keys():
    frame = parse_text("\n".join(url for _, url, _ in PEER_CASES))
    assert frame["video_key"].to_list() == [key for _, _, key in PEER_CASES]


@pytest.mark.parametrize(
    "url",
    [
        "https://consent.youtube.com/m?continue=http%3A%2F%2F%5Bx",
        "https://consent.youtube.com/m?continue=https%3A%2F%2Fconsent.youtube.com%2Fm",
        "https://weibo.com/2265830070/ABCDEFGHIJK",
        "https://www.bilibili.com/festival/x?bvid=BV1tr4y1f7p2x",
    ],
)
def test_what_names_no_single_video_keeps_its_canonical_url(url):
    link = parse_line(url)
    assert link is not None and link.error is None
    assert link.video_id is None and link.video_key == link.canonical_url
