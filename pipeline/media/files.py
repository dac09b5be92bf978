"""What a video's media files are, and what a download did to one. Pure: no I/O.

The metadata workflow names three files: its `output` is the cover image, `avatar` the author's
picture, and `cover_url` (despite its name) the video itself. A file's row starts `pending` with
the URL of the answer that named it; each download settles it (`settle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from pipeline.media.content import Kind
from pipeline.media.download import Outcome
from pipeline.media.expiry import url_expires_at
from pipeline.status import MediaStatus

# Downloads of one file that failed in a retryable way before it counts as failed for good:
# a host that refuses a file five runs in a row will not serve it on the sixth.
MAX_MEDIA_ATTEMPTS = 5
# PIPELINE_MEDIA's choices: the kinds of file each one saves.
MEDIA_CHOICES: dict[str, tuple[Kind, ...]] = {
    "none": (),
    "images": ("cover", "avatar"),
    "all": ("cover", "avatar", "video"),
}


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One row of `media_files`."""

    video_key: str
    kind: Kind
    url: str
    url_expires_at: datetime | None
    status: MediaStatus = MediaStatus.PENDING
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    path: str | None = None
    error: str | None = None
    fetched_at: datetime | None = None
    attempts: int = 0

    @property
    def key(self) -> str:
        """Names the file's partial download across runs."""
        return f"{self.video_key}\0{self.kind}"


def media_urls(cover_image_url: str, avatar_url: str, play_url: str) -> dict[Kind, str]:
    """A metadata answer's three files by kind, from its fields as decoded."""
    return {"cover": cover_image_url, "avatar": avatar_url, "video": play_url}


def wanted_files(
    video_key: str, urls: Mapping[Kind, str | None], kinds: Iterable[Kind], now: datetime
) -> list[MediaFile]:
    """Pending rows for the kinds wanted that have a URL; one that has run out already is
    `expired` at once, and costs no request."""
    files = []
    for kind in kinds:
        url = urls.get(kind)
        if not url:
            continue
        expires = url_expires_at(url)
        status = MediaStatus.EXPIRED if expires and expires <= now else MediaStatus.PENDING
        files.append(MediaFile(video_key, kind, url, expires, status))
    return files


def settle(file: MediaFile, outcome: Outcome, now: datetime) -> MediaFile:
    """The row after one download. A retryable failure stays `pending` until its attempts run
    out; a URL that expired meanwhile is `expired`."""
    attempts = file.attempts + 1
    status = outcome.status
    if status == MediaStatus.PENDING and file.url_expires_at and file.url_expires_at <= now:
        status = MediaStatus.EXPIRED
    elif status == MediaStatus.PENDING and attempts >= MAX_MEDIA_ATTEMPTS:
        status = MediaStatus.FAILED
    return replace(
        file,
        status=status,
        sha256=outcome.sha256,
        bytes=outcome.bytes,
        content_type=outcome.content_type,
        path=outcome.path,
        error=None if status == MediaStatus.OK else outcome.error,
        fetched_at=now if status == MediaStatus.OK else file.fetched_at,
        attempts=attempts,
    )
