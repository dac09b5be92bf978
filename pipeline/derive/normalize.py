"""Pure normalization of decoded Coze answers into warehouse rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pipeline.media.expiry import url_expires_at

# A hashtag runs to the next whitespace, '#' or '@'; Douyin writes both '#话题' and '# 话题'.
_HASHTAG = re.compile(r"#\s*([^\s#@]+)")
_MENTION = re.compile(r"@([^\s#@]+)")


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
    """When a signed media URL stops working, as the warehouse keeps times (naive UTC)."""
    expiry = url_expires_at(url)
    return None if expiry is None else expiry.replace(tzinfo=None)
