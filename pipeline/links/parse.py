"""What a URL is: its platform, video id and canonical form. Pure: no network, no file access.

The line rules (skipped lines, errors, which URL of a line wins) live in
`pipeline.links.vectorized`, the one parser, which uses these patterns and `classify`.

`video_key` identifies a video across the whole warehouse: `{platform}:{video_id}` when the URL
carries the id (Bilibili parts other than the first add `:p{N}`), else the canonical URL, which
for short share links (v.douyin.com, b23.tv, xhslink.com …) is the cleaned short link itself.
One video pasted in two forms must get one key, or it is fetched and paid for twice: av ids
become BV ids, Weibo mblogids become the numeric mid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.links.bilibili import MAX_AID, av_to_bv
from pipeline.links.weibo import mblogid_to_mid

# Only ASCII URL characters: a URL ends where Chinese text or full-width punctuation begins.
# No case-insensitive flag: it would let Unicode look-alikes (the Kelvin sign) match [A-Za-z].
URL_PATTERN = r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
ANY_SCHEME_PATTERN = r"[A-Za-z][A-Za-z0-9+.\-]*://"
# Sentence punctuation glued to a URL's end is not part of it.
TRAILING = ".,;:!?)]'\""
# Explicit, so no engine's own idea of whitespace decides which lines are blank.
WHITESPACE = " \t\r\n\x0b\x0c\u3000\u00a0\ufeff"


PLATFORM_HOSTS: tuple[tuple[str, str], ...] = (
    ("iesdouyin.com", "douyin"),
    ("douyin.com", "douyin"),
    ("tiktok.com", "tiktok"),
    ("tiktokv.com", "tiktok"),
    ("bilibili.com", "bilibili"),
    ("b23.tv", "bilibili"),
    ("kuaishou.com", "kuaishou"),
    ("kuaishou.cn", "kuaishou"),
    ("gifshow.com", "kuaishou"),
    ("chenzhongtech.com", "kuaishou"),
    ("xiaohongshu.com", "xiaohongshu"),
    ("rednote.com", "xiaohongshu"),
    ("xhslink.com", "xiaohongshu"),
    ("xhslink.cn", "xiaohongshu"),
    ("weibo.com", "weibo"),
    ("weibo.cn", "weibo"),
    ("t.cn", "weibo"),
    ("youtube.com", "youtube"),
    ("youtube-nocookie.com", "youtube"),
    ("youtubekids.com", "youtube"),
    ("youtube.googleapis.com", "youtube"),
    ("youtu.be", "youtube"),
)

TRACKING_PARAMS = frozenset(
    {
        "spm_id_from",
        "vd_source",
        "share_source",
        "share_medium",
        "share_plat",
        "share_session_id",
        "share_tag",
        "share_from",
        "share_times",
        "share_app_id",
        "share_token",
        "from",
        "from_spmid",
        "from_source",
        "si",
        "feature",
        "timestamp",
        "unique_k",
        "bbid",
        "ts",
        "is_story_h5",
        "mid",
        "app_platform",
        "app_version",
        "previous_page",
        "enter_from",
        "enter_method",
        "source",
        "xsec_source",
        "shareRedId",
        "apptime",
        "appuid",
        "author_share",
        "shareId",
        "shareToken",
        "shareType",
        "shareMethod",
        "kpn",
        "subBiz",
        "did",
        "fid",
        "cc",
        "shareObjectId",
    }
)

_DOUYIN_VIDEO = re.compile(r"^/(?:video|share/video)/([0-9]{8,20})")
_DOUYIN_NOTE = re.compile(r"^/(?:note|slides|share/note|share/slides)/([0-9]{8,20})")
_BV = re.compile(r"(BV1[1-9A-HJ-NP-Za-km-z]{9})")
_AV = re.compile(r"/av([0-9]{1,16})(?:/|$)", re.IGNORECASE)
# Photo posts share the id space of videos; `/@/video/{id}` (no user) is a valid page.
_TIKTOK = re.compile(
    r"^/(?:@([^/]*)/(?:video|photo)|share/(?:video|photo)|embed(?:/v2)?|v)/([0-9]{8,25})"
    r"(?:\.html)?(?:/|$)"
)
_KUAISHOU = re.compile(r"^/(?:short-video|fw/photo|fw/long-video|u/[^/]+)/([A-Za-z0-9_-]+)")
_XHS = re.compile(r"^/(?:explore|discovery/item|user/profile/[0-9a-f]{24})/([0-9a-f]{24})")
# yt-dlp's YoutubeIE: an id after these path words, but a playlist or channel embed is none.
_YOUTUBE_PATH = re.compile(
    r"^/(?:v|embed|e|shorts|live)/(?!videoseries|live_stream)([0-9A-Za-z_-]{11})"
)
_YOUTUBE_ID = re.compile(r"^/([0-9A-Za-z_-]{11})")
# The first `v=`, also after HTML-escaped `&amp;` (`;` ends a parameter there).
_YOUTUBE_V = re.compile(r"(?:^|[&;])v=([0-9A-Za-z_-]{11})")
# A post: numeric mid or base-62 mblogid after the user id (any number, 0 too) or status/detail.
_WEIBO = re.compile(r"^/(?:[0-9]+|status|detail)/([A-Za-z0-9]+)(?:/|$)")


@dataclass(frozen=True, slots=True)
class Classified:
    """What a single URL is, independent of the line it came from."""

    url: str
    platform: str | None
    video_id: str | None
    canonical_url: str
    part: int = 1


def platform_of(host: str) -> str | None:
    for suffix, platform in PLATFORM_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return platform
    return None


def _clean_query(query: str, keep: frozenset[str] | None = None) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    if keep is not None:
        kept = [(k, v) for k, v in pairs if k in keep]
    else:
        kept = [(k, v) for k, v in pairs if k not in TRACKING_PARAMS and not k.startswith("utm_")]
    return urlencode(kept)


def _query_value(query: str, name: str, default: str = "") -> str:
    if name not in query and "%" not in query:  # most URLs: no need to parse the query
        return default
    return dict(parse_qsl(query, keep_blank_values=True)).get(name, default)


@lru_cache(maxsize=65536)
def classify(url: str) -> Classified:
    """Platform, id and canonical URL of one URL (already cut out of its line)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return Classified(url, None, None, url)
    platform = platform_of(host)
    if platform is not None:
        identified = _identify(url, platform, host, parts.path, parts.query)
        if identified is not None:
            return identified
    netloc = host + (f":{parts.port}" if _safe_port(parts) else "")
    cleaned = urlunsplit((parts.scheme.lower(), netloc, parts.path, _clean_query(parts.query), ""))
    return Classified(url, platform, None, cleaned)


def _identify(url: str, platform: str, host: str, path: str, query: str) -> Classified | None:
    """The video id and canonical URL, where this platform's URL carries the id."""
    if platform == "douyin":
        match = _DOUYIN_VIDEO.match(path)
        # `modal_id` (a video opened over a page) and `vid` (over a user's page)
        in_query = _query_value(query, "modal_id") or _query_value(query, "vid")
        if match or in_query.isdigit():
            video_id = match.group(1) if match else in_query
            return Classified(url, platform, video_id, f"https://www.douyin.com/video/{video_id}")
        note = _DOUYIN_NOTE.match(path)
        if note:
            return Classified(
                url, platform, note.group(1), f"https://www.douyin.com/note/{note.group(1)}"
            )
    elif platform == "bilibili" and host != "b23.tv":
        bvid = _bilibili_id(host, path, query)
        if bvid is not None:
            page = _query_value(query, "p", "1")
            part = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
            suffix = f"?p={part}" if part > 1 else ""
            return Classified(
                url, platform, bvid, f"https://www.bilibili.com/video/{bvid}{suffix}", part
            )
    elif platform == "tiktok":
        match = _TIKTOK.match(path)
        if match:
            user, video_id = match.groups()
            return Classified(
                url, platform, video_id, f"https://www.tiktok.com/@{user or ''}/video/{video_id}"
            )
    elif platform == "kuaishou":
        match = _KUAISHOU.match(path)
        if match:
            return Classified(
                url,
                platform,
                match.group(1),
                f"https://www.kuaishou.com/short-video/{match.group(1)}",
            )
    elif platform == "xiaohongshu":
        match = _XHS.match(path)
        if match:
            token = _clean_query(query, keep=frozenset({"xsec_token"}))
            canonical = f"https://www.xiaohongshu.com/explore/{match.group(1)}" + (
                f"?{token}" if token else ""
            )
            return Classified(url, platform, match.group(1), canonical)
    elif platform == "youtube":
        video_id = _youtube_id(host, path, query)
        if video_id is not None:
            return Classified(
                url, platform, video_id, f"https://www.youtube.com/watch?v={video_id}"
            )
    elif platform == "weibo":
        mid = _weibo_mid(path)
        if mid is not None:
            return Classified(url, platform, mid, f"https://m.weibo.cn/status/{mid}")
    return None


def _safe_port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _bilibili_id(host: str, path: str, query: str) -> str | None:
    """From the path (BV or av), else `?bvid=` (festival, list and player pages), else the
    embedded player's `?aid=`."""
    bv = _BV.search(path)
    if bv:
        return bv.group(1)
    av = _AV.search(path)
    aid = av.group(1) if av else ""
    if not aid:
        bvid = _query_value(query, "bvid")
        if _BV.fullmatch(bvid):
            return bvid
        if host == "player.bilibili.com":
            aid = _query_value(query, "aid")
    if aid.isdigit() and 0 < int(aid) < MAX_AID:
        return av_to_bv(int(aid))
    return None


def _youtube_id(host: str, path: str, query: str) -> str | None:
    if host.startswith("consent."):  # the cookie wall names the page it stands before
        try:
            target = urlsplit(_query_value(query, "continue"))
            target_host = (target.hostname or "").lower()
        except ValueError:
            return None
        if target_host.startswith("consent.") or platform_of(target_host) != "youtube":
            return None
        return _youtube_id(target_host, target.path, target.query)
    if host == "youtu.be":
        match = _YOUTUBE_ID.match(path)
    else:
        match = _YOUTUBE_PATH.match(path) or _YOUTUBE_V.search(query.replace("&amp;", "&"))
    return match.group(1) if match else None


def _weibo_mid(path: str) -> str | None:
    match = _WEIBO.match(path)
    if match is None:
        return None
    post = match.group(1)
    if len(post) <= 9:  # a mid has 16 digits, an mblogid 9 characters
        return mblogid_to_mid(post)
    return post if post.isdigit() and not post.startswith("0") and len(post) <= 20 else None
