"""The analysis tables inside the warehouse, kept up to date incrementally.

Only transcripts whose title, author or text changed since the last call are re-segmented (a
digest per video in `text_state`, compared in SQL); the digest includes the segmenter's
fingerprint, so a user-dictionary edit re-segments everything. Keywords are TF-IDF over the
whole corpus, yet a run pays only for what changed: document frequencies live in
`token_documents`, updated by the changed videos' tokens, and only the changed videos are
scored. Older videos keep the IDF of the last full refresh, which runs once the videos changed
since then exceed `FULL_REFRESH_SHARE` of the corpus. The BM25 index has no incremental update
in DuckDB's `fts`; it is rebuilt when anything changed (seconds for 100,000 videos, see
docs/BENCHMARKS.md), in the warehouse file or, on a lake, in a local file
(`pipeline.text.index`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import duckdb
import polars as pl

from pipeline.schema import is_lake
from pipeline.schema.transaction import transaction
from pipeline.storage.frames import lookup, registered, tuple_frame
from pipeline.text.index import index_in_place
from pipeline.text.normalize import normalize_lines, normalize_text
from pipeline.text.segment import Segmenter, segmenter
from pipeline.text.sentences import split_sentences

KEYWORDS_PER_VIDEO = 10
FULL_REFRESH_SHARE = 0.1
PROGRESS_SECONDS = 10.0
# Transcripts segmented at a time, between progress reports.
CHUNK = 1_000

Opener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
Logger = logging.Logger | logging.LoggerAdapter
# A video waiting for (re)segmentation: key, title, author, content, its digest now.
Pending = tuple[str, str | None, str | None, str | None, str]
# Rows for the text tables, by table name.
Frames = dict[str, pl.DataFrame]

# Keywords count only tokens of two characters or more: single characters are mostly particles.
_KEYWORD_TOKENS = "SELECT video_key, token FROM transcript_tokens WHERE length(token) > 1"
_DOCUMENT_COUNTS = (
    f"SELECT token, count(DISTINCT video_key) AS docs FROM ({_KEYWORD_TOKENS}) WHERE {{scope}} "
    "GROUP BY token"
)
# TF-IDF: term frequency within a transcript times the smoothed inverse share of transcripts that
# use the term; $corpus is the number of transcripts with any keyword token.
_SCORE_KEYWORDS = f"""
INSERT INTO video_keywords
WITH tf AS (
  SELECT video_key, token, count(*) AS n, sum(count(*)) OVER (PARTITION BY video_key) AS total
  FROM ({_KEYWORD_TOKENS}) WHERE {{scope}} GROUP BY video_key, token)
SELECT video_key, token, round(n / total * (ln(($corpus + 1) / (d.docs + 1)) + 1), 6) AS score
FROM tf JOIN token_documents d USING (token)
QUALIFY row_number() OVER (PARTITION BY video_key ORDER BY score DESC, token) <= {KEYWORDS_PER_VIDEO}
"""
_CHANGED_SCOPE = "video_key IN (SELECT video_key FROM _changed)"


@dataclass(frozen=True)
class TextStats:
    processed: int
    videos: int
    transcripts: int
    sentences: int
    tokens: int
    mean_chars_per_transcript: float
    top_hashtags: list[tuple[str, int]]
    top_keywords: list[tuple[str, int]]
    index_rebuilt: bool

    def markdown(self) -> str:
        def table(title: str, rows: list[tuple[str, int]]) -> list[str]:
            return [
                f"| {title} | videos |",
                "|---|---|",
                *(f"| {name} | {count} |" for name, count in rows),
            ]

        return "\n".join(
            [*table("hashtag", self.top_hashtags), "", *table("keyword", self.top_keywords)]
        )


def _pending(
    conn: duckdb.DuckDBPyConnection, fingerprint: str, scope: str = "TRUE"
) -> list[Pending]:
    """Transcripts (within `scope`) whose digest, text and segmenter, differs from the one
    segmented last."""
    return conn.execute(
        "SELECT video_key, title, author_nickname, content, digest FROM ("
        "SELECT t.video_key, coalesce(v.title, t.title) AS title, v.author_nickname, t.content, "
        "md5(concat_ws(chr(0), $fingerprint, coalesce(v.title, t.title, ''), "
        "coalesce(v.author_nickname, ''), coalesce(t.content, ''))) AS digest, s.content_hash "
        "FROM transcripts t LEFT JOIN videos v USING (video_key) "
        f"LEFT JOIN text_state s USING (video_key) WHERE {scope}) "
        "WHERE content_hash IS DISTINCT FROM digest",
        {"fingerprint": fingerprint},
    ).fetchall()


def segment_transcripts(pending: list[Pending], loaded: Segmenter, log: Logger) -> Frames:
    """The rows of the text tables for `pending`, a chunk at a time, so that a long
    re-segmentation (a dictionary edit) reports its progress."""
    parts: list[Frames] = []
    next_report = time.monotonic() + PROGRESS_SECONDS
    for start in range(0, len(pending), CHUNK):
        parts.append(_segment_chunk(pending[start : start + CHUNK], loaded))
        if time.monotonic() >= next_report:
            done = min(start + CHUNK, len(pending))
            log.info(f"text analysis: {done}/{len(pending)} transcripts segmented")
            next_report = time.monotonic() + PROGRESS_SECONDS
    if not parts:
        return _segment_chunk([], loaded)
    return {table: pl.concat([part[table] for part in parts]) for table in parts[0]}


def _segment_chunk(pending: list[Pending], loaded: Segmenter) -> Frames:
    """Rows built column by column: polars takes columns about ten times faster than row
    tuples, and a sentence's tokens go in at once."""
    segment = loaded.segment
    s_key, s_no, s_text, s_normalized, s_start, s_end = ([] for _ in range(6))
    t_key, t_sentence, t_no, t_token, t_pos = ([] for _ in range(5))
    bodies = []
    for key, title, _, content, _ in pending:
        words = [token for token, _ in segment(normalize_text(title or ""))]
        sentences = split_sentences(content or "")
        for sentence, normalized in zip(
            sentences, normalize_lines([s.text for s in sentences]), strict=True
        ):
            s_key.append(key)
            s_no.append(sentence.sentence_no)
            s_text.append(sentence.text)
            s_normalized.append(normalized)
            s_start.append(sentence.char_start)
            s_end.append(sentence.char_end)
            pairs = segment(normalized)
            if pairs:
                tokens, tags = zip(*pairs, strict=True)
                t_key.extend(repeat(key, len(tokens)))
                t_sentence.extend(repeat(sentence.sentence_no, len(tokens)))
                t_no.extend(range(1, len(tokens) + 1))
                t_token.extend(tokens)
                t_pos.extend(tags)
                words.extend(tokens)
        bodies.append(" ".join(words))
    keys, titles, authors, _, digests = zip(*pending, strict=True) if pending else ((),) * 5
    return {
        "transcript_sentences": _frame(
            "transcript_sentences", s_key, s_no, s_text, s_normalized, s_start, s_end
        ),
        "transcript_tokens": _frame("transcript_tokens", t_key, t_sentence, t_no, t_token, t_pos),
        "search_documents": _frame("search_documents", keys, titles, authors, bodies),
        "text_state": _frame("text_state", keys, digests),
    }


def _frame(table: str, *columns: Sequence[object]) -> pl.DataFrame:
    schema = tuple_frame(table, ()).schema
    return pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=schema)


def update_text_tables(
    open_warehouse: Opener, log: Logger | None = None, *, dictionary_dir: Path | None = None
) -> TextStats:
    """Segmenting runs with the warehouse closed (10,000 transcripts take 1.5 s, a whole
    corpus re-segmented after a dictionary edit much longer), so other runs' writes and
    people's queries are not locked out meanwhile. Its results go in with the keywords and the
    rebuilt index in one short transaction."""
    log = log or logging.getLogger("pipeline.text")
    loaded = segmenter(dictionary_dir)
    fingerprint = loaded.fingerprint
    with open_warehouse() as conn:
        pending = _pending(conn, fingerprint)
    stored = 0
    if pending:
        log.info(f"text analysis: segmenting {len(pending)} new or changed transcripts")
        frames = segment_transcripts(pending, loaded, log)
        with open_warehouse() as conn:
            stored = _store(conn, frames, fingerprint)
    with open_warehouse() as conn:
        return _stats(conn, processed=stored, index_rebuilt=stored > 0)


def _store(conn: duckdb.DuckDBPyConnection, frames: Frames, fingerprint: str) -> int:
    """Write what was segmented, except videos whose digest moved on meanwhile: changed again
    (the next run takes them) or already stored by a concurrent run."""
    segmented = dict(frames["text_state"].iter_rows())
    with transaction(conn):
        with lookup(conn, "_segmented", "video_key", segmented):
            scope = "video_key IN (SELECT video_key FROM _segmented)"
            current = {row[0]: row[-1] for row in _pending(conn, fingerprint, scope)}
        keep = [key for key, digest in segmented.items() if current.get(key) == digest]
        if not keep:
            return 0
        with lookup(conn, "_changed", "video_key", keep):
            full = _needs_full_refresh(conn, len(keep))
            if not full:
                _forget_documents(conn)
            for table, frame in frames.items():
                conn.execute(f"DELETE FROM {table} WHERE {_CHANGED_SCOPE}")
                if len(keep) < len(segmented):
                    frame = frame.filter(pl.col("video_key").is_in(keep))
                _insert(conn, table, frame)
            if full:
                _refresh_all_keywords(conn)
            else:
                _refresh_changed_keywords(conn, len(keep))
        if not is_lake(conn):
            index_in_place(conn)
    return len(keep)


def _insert(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """A plain INSERT: the videos' old rows were just deleted and a frame holds each video once,
    so no key can clash, and INSERT OR REPLACE would cost a third more on the token table."""
    with registered(conn, "_text_rows", frame):
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _text_rows")


def _needs_full_refresh(conn: duckdb.DuckDBPyConnection, changing: int) -> bool:
    row = conn.execute("SELECT documents, changed_since FROM keyword_refresh").fetchone()
    return row is None or row[1] + changing > FULL_REFRESH_SHARE * row[0]


def _count_documents(conn: duckdb.DuckDBPyConnection, scope: str) -> None:
    conn.execute(
        f"MERGE INTO token_documents USING ({_DOCUMENT_COUNTS.format(scope=scope)}) AS counted "
        "USING (token) WHEN MATCHED THEN UPDATE SET docs = token_documents.docs + counted.docs "
        "WHEN NOT MATCHED THEN INSERT *"
    )


def _forget_documents(conn: duckdb.DuckDBPyConnection) -> None:
    """Take the changed videos' old tokens out of the counts, before their tokens are replaced."""
    conn.execute(
        "UPDATE token_documents SET docs = token_documents.docs - old.docs "
        f"FROM ({_DOCUMENT_COUNTS.format(scope=_CHANGED_SCOPE)}) old "
        "WHERE token_documents.token = old.token"
    )


def _refresh_all_keywords(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("DELETE FROM token_documents")
    _count_documents(conn, "TRUE")
    corpus = _corpus_size(conn)
    conn.execute("DELETE FROM video_keywords")
    conn.execute(_SCORE_KEYWORDS.format(scope="TRUE"), {"corpus": corpus})
    conn.execute("DELETE FROM keyword_refresh")
    conn.execute("INSERT INTO keyword_refresh VALUES (?, 0)", [corpus])


def _refresh_changed_keywords(conn: duckdb.DuckDBPyConnection, changing: int) -> None:
    _count_documents(conn, _CHANGED_SCOPE)
    conn.execute("DELETE FROM token_documents WHERE docs <= 0")
    conn.execute(f"DELETE FROM video_keywords WHERE {_CHANGED_SCOPE}")
    corpus = _corpus_size(conn, unchanged_from_keywords=True)
    conn.execute(_SCORE_KEYWORDS.format(scope=_CHANGED_SCOPE), {"corpus": corpus})
    conn.execute("UPDATE keyword_refresh SET changed_since = changed_since + ?", [changing])


def _corpus_size(conn: duckdb.DuckDBPyConnection, unchanged_from_keywords: bool = False) -> int:
    """Transcripts with any keyword token. Every such transcript has keywords, so the unchanged
    ones can be counted from the small `video_keywords` instead of the token table."""
    if not unchanged_from_keywords:
        return conn.execute(
            f"SELECT count(DISTINCT video_key) FROM ({_KEYWORD_TOKENS})"
        ).fetchone()[0]
    return conn.execute(
        "SELECT (SELECT count(DISTINCT video_key) FROM video_keywords) + "
        f"(SELECT count(DISTINCT video_key) FROM ({_KEYWORD_TOKENS}) WHERE {_CHANGED_SCOPE})"
    ).fetchone()[0]


def _stats(conn: duckdb.DuckDBPyConnection, processed: int, index_rebuilt: bool) -> TextStats:
    videos, transcripts, sentences, tokens, mean_chars = conn.execute(
        "SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM transcripts), "
        "(SELECT count(*) FROM transcript_sentences), (SELECT count(*) FROM transcript_tokens), "
        "(SELECT coalesce(avg(char_count), 0) FROM transcripts)"
    ).fetchone()
    top_hashtags = conn.execute(
        "SELECT hashtag, videos FROM hashtag_stats ORDER BY videos DESC, hashtag LIMIT 10"
    ).fetchall()
    top_keywords = conn.execute(
        "SELECT keyword, videos FROM keyword_stats ORDER BY videos DESC, keyword LIMIT 10"
    ).fetchall()
    return TextStats(
        processed,
        videos,
        transcripts,
        sentences,
        tokens,
        float(mean_chars),
        top_hashtags,
        top_keywords,
        index_rebuilt,
    )
