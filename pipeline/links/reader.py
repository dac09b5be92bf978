"""Reading link files: whatever bytes people paste, never a crash."""

from __future__ import annotations

import codecs
import os

import polars as pl

from pipeline.links.vectorized import parse_text


def decode_link_bytes(data: bytes) -> str:
    """UTF-8 (BOM dropped) when the whole file is; UTF-16 when it starts with its BOM (Windows
    Notepad's "Unicode"); else line by line, so one bad line never changes how the others read:
    UTF-8, else GB18030 when the line decodes cleanly (files saved by Windows tools in China),
    else UTF-8 with the undecodable bytes replaced by U+FFFD."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(line) for line in data.split(b"\n"))


def _decode_line(line: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    return line.decode("utf-8", errors="replace")


def parse_file(path: str | os.PathLike[str]) -> pl.DataFrame:
    with open(path, "rb") as handle:
        return parse_text(decode_link_bytes(handle.read()))
