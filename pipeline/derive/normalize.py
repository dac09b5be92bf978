"""Pure normalization of decoded Coze answers into warehouse rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

# A hashtag runs to the next whitespace, '#' or '@'; Douyin writes both '#话题' and '# 话题'.
_HASHTAG = re.compile(r"#\s*([^\s#@]+)")
_MENTION = re.compile(r"@([^\s#@]+)")
_VOD_EXPIRY = re.compile(r"^/[0-9a-f]{32}/([0-9a-f]{8})/")
_EXPIRY_PARAMS = ("x-expires", "deadline", "expire", "expires")


@dataclass(frozen=True, slots=True)
class Title:
    text: str
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]


def split_title(raw: str) -> Title:
    """Hashtags and mentions are metadata, not title words: take them out, keep their order."""
    hashtags = tuple(dict.fromkeys(m.group(1) for m in _HASHTAG.finditer(raw)))
    mentions = tuple(dict.fromkeys(m.group(1) for m in _MENTION.finditer(raw)))
    text = _MENTION.sub(" ", _HASHTAG.sub(" ", raw))
    return Title(" ".join(text.split()), hashtags, mentions)


def signed_url_expiry(url: str | None) -> datetime | None:
    """When a signed media URL stops working (naive UTC), from the signature it carries.

    Douyin play URLs carry it as the 8-hex path segment after the 32-hex one; image, Bilibili
    and YouTube URLs as a unix-seconds query parameter.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    seconds: int | None = None
    if parts.hostname and parts.hostname.endswith("douyinvod.com"):
        match = _VOD_EXPIRY.match(parts.path)
        if match:
            seconds = int(match.group(1), 16)
    if seconds is None:
        query = parse_qs(parts.query)
        for name in _EXPIRY_PARAMS:
            values = query.get(name)
            if values and values[0].isdigit():
                seconds = int(values[0])
                break
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
