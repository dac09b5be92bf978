"""Share links: find, classify and canonicalize the link in every pasted line."""

from pipeline.links.reader import (
    decode_link_bytes,
    link_file_problem,
    parse_blocks,
    parse_file,
    parse_stream,
)
from pipeline.links.vectorized import LINK_COLUMNS, Link, parse_line, parse_text

__all__ = [
    "LINK_COLUMNS",
    "Link",
    "decode_link_bytes",
    "link_file_problem",
    "parse_blocks",
    "parse_file",
    "parse_line",
    "parse_stream",
    "parse_text",
]
