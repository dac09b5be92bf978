"""Reading link files: whatever bytes people paste, never a crash."""

from __future__ import annotations

import codecs
import os

import polars as pl

from pipeline.links.vectorized import parse_text


def decode_link_bytes(data: bytes) -> str:
    """UTF-8 (BOM dropped); else GB18030 when that decodes cleanly (files saved by Windows
    tools in China); else UTF-8 with undecodable bytes replaced by U+FFFD."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def parse_file(path: str | os.PathLike[str]) -> pl.DataFrame:
    with open(path, "rb") as handle:
        return parse_text(decode_link_bytes(handle.read()))
