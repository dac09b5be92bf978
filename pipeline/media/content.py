"""What a kind of media file accepts, decided from the declared type and the first bytes.

Media hosts answer an expired or blocked request with a page, not an error status, and send
`application/octet-stream` for half their files: the type a server declares is checked against
the bytes, never trusted. The bytes win when they name a known format; a generic type
(octet-stream, empty, `text/plain`) is decided by them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["cover", "avatar", "video"]
KINDS: tuple[Kind, ...] = ("cover", "avatar", "video")
HEAD_BYTES = 64
"""How many first bytes `judge` needs to see (fewer only when the body is that short)."""

_FAMILY: dict[Kind, str] = {"cover": "image", "avatar": "image", "video": "video"}
_GENERIC = {
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "application/binary",
    "application/force-download",
    "application/x-download",
    "text/plain",
}
_DOCUMENTS = {
    "text/html": "an HTML page",
    "application/xhtml+xml": "an HTML page",
    "application/json": "a JSON document",
    "text/json": "a JSON document",
    "application/xml": "an XML document",
    "text/xml": "an XML document",
    "application/vnd.apple.mpegurl": "an HLS playlist",
    "application/x-mpegurl": "an HLS playlist",
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/3gpp": "3gp",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-flv": "flv",
    "image/svg+xml": "svg",
    "audio/mp4": "m4a",
}
# ISO base media (`ftyp` box) major brands that are not plain MP4 video.
_FTYP_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"hevc": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"M4A ": "audio/mp4",
}


@dataclass(frozen=True, slots=True)
class Accepted:
    """The file's checked content type and the extension it is stored under."""

    content_type: str
    extension: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


Verdict = Accepted | Refused


def sniff(head: bytes) -> str | None:
    """The media type the first bytes announce, or None for a format this does not know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM says so in its DocType
        return "video/webm" if b"webm" in head[:HEAD_BYTES] else "video/x-matroska"
    if head.startswith(b"FLV\x01"):
        return "video/x-flv"
    return None


def _document(head: bytes) -> str | None:
    """What kind of text document the bytes start, if any: the pages hosts send instead."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if text.startswith(b"<?xml") or text.startswith(b"<error"):
        return "an XML document"
    if text.startswith((b"{", b"[")):
        return "a JSON document"
    if text.startswith(b"#extm3u"):
        return "an HLS playlist"
    return None


def judge(kind: Kind, declared: str | None, head: bytes) -> Verdict:
    """Whether a body fits `kind`, from the declared Content-Type and its first bytes."""
    declared_type = (declared or "").split(";")[0].strip().lower()
    wanted = _FAMILY[kind]
    noun = "an image" if wanted == "image" else "a video"
    if not head:
        return Refused("empty body")
    document = _document(head) or _DOCUMENTS.get(declared_type)
    sniffed = sniff(head)
    if sniffed is None and document is not None:
        return Refused(f"{document}, not {noun}")
    if sniffed is None and declared_type in _GENERIC:
        return Refused(f"unrecognised content ({declared_type or 'no type'}), not {noun}")
    content_type = sniffed or declared_type
    if content_type.split("/")[0] != wanted:
        return Refused(f"{content_type}, not {noun}")
    return Accepted(content_type, _extension(content_type))


def _extension(content_type: str) -> str:
    """The type's usual extension; a type this does not know keeps its subtype's letters."""
    known = EXTENSIONS.get(content_type)
    if known:
        return known
    subtype = "".join(c for c in content_type.split("/")[-1] if c.isalnum())
    return subtype[:8] or "bin"
