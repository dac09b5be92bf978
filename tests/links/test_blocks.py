"""A link file read in blocks parses exactly as read whole: every block size, every hostile byte.

The reference is the one-shot parse, `parse_text(decode_link_bytes(data))`, which the other
tests of this folder pin down; here each file is also cut at every possible block size, so each
boundary lands inside a CRLF, inside a multibyte character and inside a BOM somewhere.
"""

from __future__ import annotations

import codecs
import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.links import decode_link_bytes, parse_file, parse_stream, parse_text
from pipeline.links.reader import decoded_blocks

UTF8_LINES = [
    "# 标题行 a comment",
    "第一个 https://v.douyin.com/abc123/ 复制此链接",
    "",
    "   ",
    "https://www.douyin.com/video/7400000000000000001",
    "没有链接的一行",
    "ftp://example.com/v.mp4",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "【哔哩哔哩】 https://b23.tv/xyz987",
]
FILES = {
    "utf8_crlf_bom": codecs.BOM_UTF8 + "\r\n".join(UTF8_LINES).encode() + b"\r\n",
    "utf8_lf_no_final_newline": "\n".join(UTF8_LINES).encode(),
    "gbk": "\r\n".join(UTF8_LINES).encode("gbk") + b"\r\n",
    "mixed": (
        UTF8_LINES[1].encode()
        + b"\n"
        + "第二行 https://b23.tv/gbk0001".encode("gbk")
        + b"\r\n\xff\xfe\xc3 https://www.douyin.com/video/7400000000000000002\n"
        + "零\x00字节 https://b23.tv/nul".encode()
        + b"\n\n# tail comment\n"
    ),
    "utf16": "\r\n".join(UTF8_LINES).encode("utf-16"),
    "utf16_be": codecs.BOM_UTF16_BE + "\n".join(UTF8_LINES).encode("utf-16-be"),
    "bom_mid_file": b"https://b23.tv/a1\n" + codecs.BOM_UTF8 + b"https://b23.tv/a2\n",
    "empty": b"",
    "only_newlines": b"\n\r\n\n",
}


def whole(data: bytes) -> pl.DataFrame:
    return parse_text(decode_link_bytes(data))


def in_blocks(data: bytes, block_size: int) -> pl.DataFrame:
    return pl.concat(list(parse_stream(io.BytesIO(data), block_size)))


@pytest.mark.parametrize("name", FILES)
def test_every_block_size_decodes_and_parses_as_the_whole_file(name: str) -> None:
    data = FILES[name]
    for block_size in range(1, len(data) + 2):
        pieces = list(decoded_blocks(io.BytesIO(data), block_size))
        assert "".join(pieces) == decode_link_bytes(data), block_size
        assert all(p.endswith("\n") for p in pieces[:-1]), "cut after a line end"
        assert not pieces[-1].endswith("\n")
    # Where a read ends only moves the cuts checked above; parsing pieces is checked on a few.
    expected = whole(data)
    for block_size in (*range(1, 9), len(data) // 3 or 1, len(data) // 2 or 1, len(data) + 1):
        assert_frame_equal(in_blocks(data, block_size), expected)


def test_a_read_ending_inside_a_crlf_or_a_character_cuts_at_the_line_end() -> None:
    data = "https://b23.tv/a\r\n看 https://b23.tv/b".encode()
    inside_crlf = data.index(b"\r") + 1
    assert list(decoded_blocks(io.BytesIO(data), inside_crlf)) == [
        "https://b23.tv/a\r\n",
        "看 https://b23.tv/b",
    ]
    # The first read is "a\n" and two of 看's three bytes.
    assert list(decoded_blocks(io.BytesIO("a\n看 b".encode()), 4)) == ["a\n", "看 b"]


def test_the_reference_reads_what_people_meant() -> None:
    """The cases above compare against something right: one-shot numbers, text and errors."""
    crlf = whole(FILES["utf8_crlf_bom"])
    assert crlf["line_no"].to_list() == [2, 5, 6, 7, 8, 9]
    assert crlf["raw"][0] == UTF8_LINES[1], "no BOM, no \\r"
    assert crlf["error"].to_list() == [None, None, "no_url", "bad_scheme", None, None]
    assert_frame_equal(whole(FILES["gbk"]), crlf)
    mixed = whole(FILES["mixed"])
    assert mixed["raw"].to_list()[1:3] == [
        "第二行 https://b23.tv/gbk0001",
        "\ufffd\ufffd\ufffd https://www.douyin.com/video/7400000000000000002",
    ]
    assert whole(FILES["bom_mid_file"])["raw"][1] == "\ufeffhttps://b23.tv/a2"
    assert whole(FILES["empty"]).columns == crlf.columns


def test_a_line_longer_than_a_block_stays_one_line(tmp_path) -> None:
    line = "长" * 5000 + " https://www.douyin.com/video/7400000000000000004"
    file = tmp_path / "huge.txt"
    file.write_bytes(f"https://b23.tv/a\n{line}\r\nhttps://b23.tv/b".encode())
    frames = list(parse_stream(file.open("rb"), block_size=64))
    assert [f.height for f in frames] == [1, 1, 1]
    assert_frame_equal(parse_file(file, block_size=64), parse_file(file))
    assert parse_file(file)["raw"].to_list()[1] == line
    assert parse_file(file)["line_no"].to_list() == [1, 2, 3]


def test_a_file_of_many_blocks_keeps_its_line_numbers(tmp_path) -> None:
    lines = [f"{n} https://www.douyin.com/video/74{n:017d}" for n in range(3000)]
    lines[1234] = "# a comment"
    file = tmp_path / "many.txt"
    file.write_bytes("\r\n".join(lines).encode())
    frames = list(parse_stream(file.open("rb"), block_size=4096))
    assert len(frames) > 20
    parsed = pl.concat(frames)
    assert parsed.height == 2999
    assert parsed["line_no"].to_list() == [n + 1 for n in range(3000) if n != 1234]
    assert_frame_equal(parsed, parse_file(file))
