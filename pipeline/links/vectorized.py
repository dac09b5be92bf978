"""The link parser: pasted lines -> one link record each, with the per-line work in polars.

A line may be a share text copied from an app (title, hashtags, a share code, a trailer in
Chinese), a bare URL, a note, or blank. Blank lines and lines starting with `#` are skipped.
Every other line yields a record; a line with no usable link carries `error` instead of raising:

- `no_url`: no `scheme://` anywhere in the line;
- `bad_scheme`: only non-http(s) URLs (`ftp://…`);
- `unsupported_platform`: http(s) URLs, none of a supported platform.

When a line holds several URLs, the first one of a supported platform wins. `video_key` is
`{platform}:{video_id}` (Bilibili parts other than the first add `:p{N}`), else the canonical
URL (`pipeline.links.parse`).

Lines are cut, filtered and searched for URLs by polars (Rust regex). Short share links, the
URL every app's share text carries, are settled in polars too: they name no video id and are
their own canonical URL. Every other distinct URL goes through Python's `classify`, once. One
line (`parse_line`) takes the same path as a million: there is one parser, and it is this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from pipeline.links.parse import (
    ANY_SCHEME_PATTERN,
    TRAILING,
    URL_PATTERN,
    WHITESPACE,
    classify,
    platform_of,
)

LINK_COLUMNS: tuple[str, ...] = (
    "line_no",
    "raw",
    "url",
    "platform",
    "video_id",
    "canonical_url",
    "video_key",
    "error",
)
SHORT_LINK_HOSTS = (
    "v.douyin.com",
    "b23.tv",
    "xhslink.com",
    "v.kuaishou.com",
    "vm.tiktok.com",
    "vt.tiktok.com",
    "t.cn",
)
# One path segment of letters and digits, nothing after it: no id rule of `classify` can match
# such a path on these hosts, and cleaning leaves the URL as it is.
SHORT_LINK_PATTERN = rf"^https?://({'|'.join(map(re.escape, SHORT_LINK_HOSTS))})/[A-Za-z0-9]+/?$"
_CLASSIFIED = {
    "url": pl.Utf8,
    "platform": pl.Utf8,
    "video_id": pl.Utf8,
    "canonical_url": pl.Utf8,
    "part": pl.Int64,
}


@dataclass(frozen=True, slots=True)
class Link:
    """One line's record, as `parse_line` gives it (a row of `parse_lines`)."""

    raw: str
    url: str | None
    platform: str | None
    video_id: str | None
    canonical_url: str | None
    video_key: str | None
    error: str | None


def parse_line(text: str) -> Link | None:
    """None for a skipped line (blank or a `#` comment)."""
    rows = parse_lines([text]).drop("line_no").rows()
    return Link(*rows[0]) if rows else None


def split_lines(text: str) -> list[str]:
    """Lines as a file holds them: cut on \\n only, one trailing \\r dropped (CRLF files)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def parse_text(text: str) -> pl.DataFrame:
    return parse_lines(split_lines(text))


def parse_lines(raw_lines: list[str], first_line: int = 1) -> pl.DataFrame:
    """Lines already cut, numbered from `first_line`: as `rekey` re-reads the stored
    `links.raw_text`, and as a file's blocks follow each other."""
    lines = pl.DataFrame({"raw": raw_lines}, schema={"raw": pl.Utf8})
    lines = lines.with_row_index("line_no", offset=first_line).with_columns(
        pl.col("line_no").cast(pl.Int64)
    )
    stripped = pl.col("raw").str.strip_chars(WHITESPACE)
    lines = lines.filter((stripped != "") & ~stripped.str.starts_with("#"))
    lines = lines.with_columns(
        pl.col("raw")
        .str.extract_all(URL_PATTERN)
        .list.eval(pl.element().str.strip_chars_end(TRAILING))
        .alias("urls")
    )
    candidates = (
        lines.select("line_no", "urls")
        .with_columns(pl.int_ranges(pl.col("urls").list.len()).alias("pos"))
        .explode(["urls", "pos"])
        .drop_nulls("urls")
        .rename({"urls": "url"})
    )
    classified = classify_distinct(candidates.get_column("url").unique())
    chosen = (
        candidates.join(classified, on="url", how="left")
        .sort(["line_no", pl.col("platform").is_null(), "pos"])
        .group_by("line_no", maintain_order=True)
        .first()
    )
    supported = pl.col("platform").is_not_null()
    has_url = pl.col("url").is_not_null()
    error = (
        pl.when(~has_url & pl.col("raw").str.contains(ANY_SCHEME_PATTERN))
        .then(pl.lit("bad_scheme"))
        .when(~has_url)
        .then(pl.lit("no_url"))
        .when(~supported)
        .then(pl.lit("unsupported_platform"))
    )
    key = (
        pl.when(pl.col("error").is_not_null())
        .then(None)
        .when(pl.col("video_id").is_not_null())
        .then(
            pl.concat_str(
                pl.col("platform"),
                pl.lit(":"),
                pl.col("video_id"),
                pl.when(pl.col("part") > 1)
                .then(pl.lit(":p") + pl.col("part").cast(pl.Utf8))
                .otherwise(pl.lit("")),
            )
        )
        .otherwise(pl.col("canonical_url"))
    )
    return (
        lines.drop("urls")
        .join(chosen.drop("pos"), on="line_no", how="left", maintain_order="left")
        .with_columns(error.alias("error"))
        .with_columns(key.alias("video_key"))
        .select(LINK_COLUMNS)
    )


def classify_distinct(urls: pl.Series) -> pl.DataFrame:
    """What `classify` says of each URL: short links by polars, the rest in Python."""
    host = urls.str.extract(SHORT_LINK_PATTERN, 1)
    short = pl.DataFrame(
        {
            "url": urls.filter(host.is_not_null()),
            "platform": host.drop_nulls().replace_strict(
                {h: platform_of(h) for h in SHORT_LINK_HOSTS}, return_dtype=pl.Utf8
            ),
        }
    ).with_columns(
        pl.lit(None, pl.Utf8).alias("video_id"),
        pl.col("url").alias("canonical_url"),
        pl.lit(1, pl.Int64).alias("part"),
    )
    others = urls.filter(host.is_null()).to_list()
    found = [classify(url) for url in others]
    rest = pl.DataFrame(
        {
            "url": others,
            "platform": [f.platform for f in found],
            "video_id": [f.video_id for f in found],
            "canonical_url": [f.canonical_url for f in found],
            "part": [f.part for f in found],
        },
        schema=_CLASSIFIED,
    )
    return pl.concat([short.select(list(_CLASSIFIED)).cast(_CLASSIFIED), rest])
