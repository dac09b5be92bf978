"""Reading link files: whatever bytes people paste, never a crash, in bounded memory.

A file is read in blocks cut after a line end, each parsed on its own, so a file of any size
costs one block at a time (a block grows only to hold a line longer than itself).
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl

from pipeline.links.vectorized import parse_lines, split_lines

# Bytes read at a time. Parsing a block peaks at about 25 times its size; from 1 MiB on,
# polars' per-call cost is noise (2,000,000 lines: 1 MiB blocks as fast as 8 MiB, 145 MB peak
# RSS against 340 MB).
BLOCK_SIZE = 1 << 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

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
    """UTF-16 when the data starts with its BOM (Windows Notepad's "Unicode"); else line by
    line, so one bad line never changes how the others read: UTF-8 (a leading BOM dropped),
    else GB18030 when the line decodes cleanly (files saved by Windows tools in China), else
    UTF-8 with the undecodable bytes replaced by U+FFFD."""
    return "".join(decoded_blocks(io.BytesIO(data)))


def decoded_blocks(handle: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[str]:
    """The text of `handle` as `decode_link_bytes` reads it, in pieces that each end with a
    line end but the last (which may be empty). The encoding is the file's, decided once from
    its first bytes; a UTF-8 BOM is dropped only there."""
    first = handle.read(max(block_size, len(codecs.BOM_UTF8)))
    if first.startswith(_UTF16_BOMS):
        yield from _utf16_blocks(first, handle, block_size)
        return
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    for piece in _cut_at_line_ends(first, handle, block_size):
        yield _decode_piece(piece)


def _cut_at_line_ends(first: bytes, handle: BinaryIO, block_size: int) -> Iterator[bytes]:
    """Whole lines per piece: the bytes after a piece's last b"\\n" wait for the next read. A
    \\r\\n split between reads stays together, since the cut is after the \\n."""
    pending = b""
    for chunk in _reads(first, handle, block_size):
        data = pending + chunk
        cut = data.rfind(b"\n", len(pending))
        if cut < 0:
            pending = data
        else:
            yield data[: cut + 1]
            pending = data[cut + 1 :]
    yield pending


def _reads(first: bytes, handle: BinaryIO, block_size: int) -> Iterator[bytes]:
    """`first` (even when a dropped BOM left it empty), then the rest of `handle`."""
    yield first
    while chunk := handle.read(block_size):
        yield chunk


def _decode_piece(piece: bytes) -> str:
    """A b"\\n" byte is never inside a UTF-8 sequence, so a piece that decodes whole gives what
    its lines give one by one; only a piece that fails is decoded line by line."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(line) for line in piece.split(b"\n"))


def _decode_line(line: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    return line.decode("utf-8", errors="replace")


def _utf16_blocks(first: bytes, handle: BinaryIO, block_size: int) -> Iterator[str]:
    """UTF-16 is cut after decoding: its "\\n" is two bytes, either of which may be any other
    character's half."""
    decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
    pending = ""
    for chunk in _reads(first, handle, block_size):
        text = pending + decoder.decode(chunk)
        cut = text.rfind("\n", len(pending))
        if cut < 0:
            pending = text
        else:
            yield text[: cut + 1]
            pending = text[cut + 1 :]
    yield pending + decoder.decode(b"", final=True)


def parse_blocks(
    path: str | os.PathLike[str], block_size: int = BLOCK_SIZE
) -> Iterator[pl.DataFrame]:
    """The file's records a block at a time (`parse_stream`)."""
    with open(path, "rb") as handle:
        yield from parse_stream(handle, block_size)


def parse_stream(handle: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[pl.DataFrame]:
    """Records a block at a time, line numbers running on across blocks: together they are
    `parse_file`'s frame, row for row. At least one frame, empty for empty input."""
    lines_before = 0
    for piece in decoded_blocks(handle, block_size):
        # A piece's closing line end ends its last line; it opens no new one.
        lines = split_lines(piece[:-1] if piece.endswith("\n") else piece)
        yield parse_lines(lines, first_line=lines_before + 1)
        lines_before += len(lines)


def parse_file(path: str | os.PathLike[str], block_size: int = BLOCK_SIZE) -> pl.DataFrame:
    """The whole file as one frame, for callers that need it whole (small files, tests)."""
    return pl.concat(list(parse_blocks(path, block_size)))
