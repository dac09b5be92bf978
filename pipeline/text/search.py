"""Full-text search over the analysis tables: BM25 from the tantivy index beside the warehouse
(`pipeline.text.index`), then each hit's title, author and transcript from the warehouse, and a
snippet around the matched words. Read-only: the index is kept by `pipeline.text.analysis`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.text.index import ranked
from pipeline.text.normalize import normalize_text
from pipeline.text.segment import query_terms


@dataclass(frozen=True)
class SearchHit:
    video_key: str
    title: str | None
    author: str | None
    score: float
    snippet: str


def ranked_videos(
    index: Path, query: str, limit: int = 10, *, dictionary_dir: Path | None = None
) -> list[tuple[str, float]]:
    """The best videos for `query` as (video_key, score), best first, to join in SQL; the query
    is cut by the same tokenizer and dictionary as the text."""
    terms = query_terms(normalize_text(query), dictionary_dir)
    return ranked(index, terms, limit) if terms else []


def search(
    index: Path,
    conn: duckdb.DuckDBPyConnection,
    query: str,
    limit: int = 10,
    *,
    dictionary_dir: Path | None = None,
) -> list[SearchHit]:
    """BM25 over titles and transcripts, with what a reader shows of each hit. A hit the
    connection does not hold yet (an older snapshot than the index) is shown without them."""
    terms = query_terms(normalize_text(query), dictionary_dir)
    if not terms:
        return []
    hits = ranked(index, terms, limit)
    shown = {
        key: (title, author, content)
        for key, title, author, content in conn.execute(
            # Both sides filtered: DuckDB would scan every transcript for the join otherwise.
            "SELECT d.video_key, d.title, d.author, t.content FROM search_documents d "
            "LEFT JOIN (SELECT video_key, content FROM transcripts "
            "WHERE video_key IN (SELECT unnest($keys))) t USING (video_key) "
            "WHERE d.video_key IN (SELECT unnest($keys))",
            {"keys": [key for key, _ in hits]},
        ).fetchall()
    }
    results = []
    for key, score in hits:
        title, author, content = shown.get(key, (None, None, None))
        results.append(SearchHit(key, title, author, score, snippet(content or title or "", terms)))
    return results


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
