"""The content check: the kind decides the family, the bytes decide the type, pages are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.media.content import HEAD_BYTES, KINDS, Accepted, Refused, judge, sniff

MEDIA = Path(__file__).parents[2] / "pipeline" / "emulator" / "media"
JPEG = (MEDIA / "avatar.jpg").read_bytes()[:HEAD_BYTES]
WEBP = (MEDIA / "cover-0.webp").read_bytes()[:HEAD_BYTES]
MP4 = (MEDIA / "video.mp4").read_bytes()[:HEAD_BYTES]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "
WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm"
MKV = b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x88matroska"
FLV = b"FLV\x01\x05\x00\x00\x00\x09"
HTML = b"\n  <!DOCTYPE html><html><head><title>403 Forbidden</title></head>"
XML = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code></Error>'
JSON = b'{"status_code":4,"status_msg":"url expired"}'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (MP4, "video/mp4"),
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (AVIF, "image/avif"),
        (HEIC, "image/heic"),
        (MOV, "video/quicktime"),
        (WEBM, "video/webm"),
        (MKV, "video/x-matroska"),
        (FLV, "video/x-flv"),
        (HTML, None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("kind", "declared", "head", "expected"),
    [
        ("cover", "image/webp", WEBP, Accepted("image/webp", "webp")),
        ("avatar", "image/jpeg", JPEG, Accepted("image/jpeg", "jpg")),
        ("video", "video/mp4", MP4, Accepted("video/mp4", "mp4")),
        # Generic types: the bytes decide.
        ("video", "application/octet-stream", MP4, Accepted("video/mp4", "mp4")),
        ("cover", "binary/octet-stream", PNG, Accepted("image/png", "png")),
        ("avatar", None, GIF, Accepted("image/gif", "gif")),
        ("cover", "text/plain; charset=utf-8", AVIF, Accepted("image/avif", "avif")),
        ("video", "", WEBM, Accepted("video/webm", "webm")),
        ("video", "application/octet-stream", FLV, Accepted("video/x-flv", "flv")),
        # A declared type the bytes contradict: the bytes win, within the kind's family.
        ("cover", "image/jpeg", WEBP, Accepted("image/webp", "webp")),
        ("video", "Video/MP4", MOV, Accepted("video/quicktime", "mov")),
        # A declared type of the right family whose bytes this does not know.
        ("cover", "image/bmp", b"BM\x36\x00\x00\x00\x00\x00", Accepted("image/bmp", "bmp")),
        ("video", "video/MP2T", b"\x47\x40\x00\x10\x00", Accepted("video/mp2t", "mp2t")),
    ],
)
def test_accepted(kind, declared, head, expected) -> None:
    assert judge(kind, declared, head) == expected


@pytest.mark.parametrize(
    ("kind", "declared", "head", "reason"),
    [
        ("video", "text/html; charset=utf-8", HTML, "an HTML page, not a video"),
        ("video", "video/mp4", HTML, "an HTML page, not a video"),  # a page under a video type
        ("cover", "application/octet-stream", HTML, "an HTML page, not an image"),
        ("cover", "application/xml", XML, "an XML document, not an image"),
        ("avatar", "application/json", JSON, "a JSON document, not an image"),
        (
            "video",
            "application/vnd.apple.mpegurl",
            b"#EXTM3U\n#EXT-X-VERSION:3",
            "an HLS playlist, not a video",
        ),
        ("video", "video/mp4", b"", "empty body"),
        ("cover", "image/webp", b"", "empty body"),
        (
            "cover",
            "application/octet-stream",
            b"\x00\x01\x02\x03",
            "unrecognised content (application/octet-stream), not an image",
        ),
        ("avatar", None, b"hello", "unrecognised content (no type), not an image"),
        # The right bytes for another kind.
        ("cover", "video/mp4", MP4, "video/mp4, not an image"),
        ("video", "application/octet-stream", JPEG, "image/jpeg, not a video"),
        ("video", "image/webp", WEBP, "image/webp, not a video"),
        (
            "cover",
            "image/heic",
            b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00",
            "audio/mp4, not an image",
        ),
        ("video", "audio/mpeg", b"ID3\x04\x00\x00\x00", "audio/mpeg, not a video"),
    ],
)
def test_refused_with_a_reason(kind, declared, head, reason) -> None:
    assert judge(kind, declared, head) == Refused(reason)


def test_every_kind_refuses_a_page() -> None:
    for kind in KINDS:
        assert isinstance(judge(kind, "text/html", HTML), Refused)
