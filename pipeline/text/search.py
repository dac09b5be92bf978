"""Full-text search over the analysis tables: DuckDB's BM25 index (`fts`, loaded from its pinned
wheel, never downloaded) and snippets around the matched words. Read-only: the index is built by
`pipeline.text.analysis`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.storage.extensions import load_fts
from pipeline.text.normalize import normalize_text
from pipeline.text.segment import query_terms


@dataclass(frozen=True)
class SearchHit:
    video_key: str
    title: str | None
    author: str | None
    score: float
    snippet: str


def search(
    conn: duckdb.DuckDBPyConnection,
    query: str,
    limit: int = 10,
    *,
    dictionary_dir: Path | None = None,
) -> list[SearchHit]:
    """BM25 over titles and transcripts; the query is cut by the same tokenizer and dictionary
    as the text."""
    terms = query_terms(normalize_text(query), dictionary_dir)
    if not terms:
        return []
    load_fts(conn)
    rows = conn.execute(
        "SELECT s.video_key, s.title, s.author, s.score, t.content FROM search_videos(?) s "
        "LEFT JOIN transcripts t USING (video_key) ORDER BY s.score DESC, s.video_key LIMIT ?",
        [" ".join(terms), limit],
    ).fetchall()
    return [
        SearchHit(key, title, author, score, snippet(content or title or "", terms))
        for key, title, author, score, content in rows
    ]


def snippet(
    text: str, terms: list[str], width: int = 60, mark: tuple[str, str] = ("【", "】")
) -> str:
    """The stretch of text around the first matched term, every matched term marked."""
    lowered = text.lower()
    hits = [lowered.find(term) for term in terms if lowered.find(term) >= 0]
    start = max(0, min(hits) - width // 3) if hits else 0
    piece = text[start : start + width]
    pattern = re.compile(
        "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )
    marked = pattern.sub(lambda m: f"{mark[0]}{m.group(0)}{mark[1]}", piece)
    return ("…" if start else "") + marked + ("…" if start + width < len(text) else "")
