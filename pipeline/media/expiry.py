"""When a signed media URL stops working, read from the URL's shape alone, whatever its host.

The shapes, from real answers (docs/coze.md's recorded metadata, the platforms' own pages):

- Douyin play URLs: `…douyinvod.com/<32 hex signature>/<8 hex unix time>/video/tos/…`, about
  1–3 hours after issue; any host with the same two segments is read the same way (the
  emulator's CDN, mirrors);
- Douyin/TikTok images: `?x-expires=<unix seconds>&x-signature=…`, 2–4 weeks;
- Bilibili `upos-…bilivideo.com`: `?deadline=<unix seconds>`; YouTube `googlevideo.com`
  (and TikTok play URLs): `?expire=<unix seconds>`; Weibo, CloudFront: `?Expires=`;
- S3 presigned URLs: `?X-Amz-Date=<YYYYMMDDTHHMMSSZ>&X-Amz-Expires=<seconds>`.

A value that is not a plausible unix time (before 2001 or after 2100) is not an expiry: the URL
then has none. When a URL carries several, the earliest counts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

_HEX_TIME = re.compile(r"/[0-9a-f]{32}/([0-9a-f]{8})(?:/|$)")
_SECONDS_PARAMS = ("x-expires", "deadline", "expire", "expires")
_EARLIEST = 1_000_000_000  # 2001-09-09
_LATEST = 4_102_444_800  # 2100-01-01


def url_expires_at(url: str | None) -> datetime | None:
    """The URL's expiry (tz-aware UTC), or None when its shape carries none."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    found = [int(m, 16) for m in _HEX_TIME.findall(parts.path)]
    query = {name.lower(): value for name, value in parse_qsl(parts.query)}
    found += [int(query[name]) for name in _SECONDS_PARAMS if query.get(name, "").isdigit()]
    times = [datetime.fromtimestamp(s, UTC) for s in found if _EARLIEST <= s < _LATEST]
    presigned = _amz_expiry(query)
    if presigned is not None:
        times.append(presigned)
    return min(times, default=None)


def _amz_expiry(query: dict[str, str]) -> datetime | None:
    """An S3 presigned URL's end: its signing time plus its lifetime in seconds."""
    signed, seconds = query.get("x-amz-date", ""), query.get("x-amz-expires", "")
    if not seconds.isdigit() or len(seconds) > 9:
        return None
    try:
        start = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return start + timedelta(seconds=int(seconds))


def expired(url: str, now: datetime) -> bool:
    """Whether the URL's own expiry has passed at `now` (tz-aware); False when it has none."""
    expiry = url_expires_at(url)
    return expiry is not None and expiry <= now
