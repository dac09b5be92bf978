"""What each workflow is sent for a video: pure functions of its link."""

from __future__ import annotations

from pipeline.reads.work import WorkItem

# The seed sends the share text as pasted; the workflow also accepts a bare URL. Past this many
# characters a "share text" is not one (pasted notes, a garbage line), so only its URL is sent.
MAX_SHARE_TEXT_CHARS = 1000
# Past this many characters a URL is tracking junk that no web server takes (most refuse a few
# KB), so the canonical URL is sent instead when the link has one.
MAX_URL_CHARS = 2000


def metadata_input(item: WorkItem) -> str:
    """The share text as pasted, else the URL, else (a URL too long to send) the canonical one."""
    text = item.raw_text.strip()
    if 0 < len(text) <= MAX_SHARE_TEXT_CHARS:
        return text
    if len(item.url) > MAX_URL_CHARS and item.canonical_url:
        return item.canonical_url
    return item.url


def transcript_input(item: WorkItem) -> str:
    """The transcript workflow takes a video page URL (the seed sends one); tracking-free."""
    return item.canonical_url or item.url
