"""Reading link files: whatever bytes people paste, never a crash."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import polars as pl

from pipeline.links.vectorized import parse_text

_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def link_file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a link file, in one line; None when it can. A directory or
    a FIFO named `*.txt` exists, so "no link file" would send a person looking for a file that
    is there (and reading a FIFO would hang the run)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"no link file at {path}"
    except OSError as error:
        return f"cannot read the link file at {path}: {error.strerror or error}"
    if stat.S_ISREG(mode):
        return None
    what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
    return f"{path} is {what}, not a link file: give a text file of links"


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
