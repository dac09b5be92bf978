"""The analysis tables inside the warehouse, kept up to date incrementally, a chunk at a time.

Only transcripts whose title, author or text changed since the last call are re-segmented (a
digest per video in `text_state`, compared in SQL); the digest includes the segmenter's
fingerprint, so a user-dictionary edit re-segments everything. They are read, segmented and
stored `chunk` transcripts at a time, each chunk committed on its own (and stored while the next
is segmented), so memory does not grow with the work, and a run killed midway resumes where it
stopped: the chunks it stored have current digests. Keywords (`pipeline.text.keywords`) wait for
the end, when the videos stored since the last finished update (`text_unfinished`) are scored in
one transaction, which also hands them to the search index (`pipeline.text.index`): tantivy,
beside the warehouse, takes their documents in place of the old ones. On a lake each host's
index is refreshed from the lake instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import duckdb
import polars as pl

from pipeline.schema import is_lake
from pipeline.schema.transaction import transaction
from pipeline.storage.extensions import sql_literal
from pipeline.storage.frames import lookup, registered, tuple_frame
from pipeline.text import keywords
from pipeline.text.index import follow_warehouse
from pipeline.text.normalize import normalize_lines, normalize_text
from pipeline.text.segment import Segmenter, segmenter
from pipeline.text.sentences import split_sentences

PROGRESS_SECONDS = 10.0
# Transcripts read, segmented and committed at a time: what bounds the memory of a run.
CHUNK = 5_000

Opener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
Logger = logging.Logger | logging.LoggerAdapter
# A video waiting for (re)segmentation: key, title, author, content, its digest now.
Pending = tuple[str, str | None, str | None, str | None, str]
# Rows for the text tables, by table name.
Frames = dict[str, pl.DataFrame]

# Transcripts (within `scope`) whose digest, text and segmenter, differs from the one segmented
# last. The scope filters each table before the joins: after them, DuckDB hashed every
# transcript for each chunk (14 of 82 s at 200,000 transcripts), and filtering the videos and
# digests too reads a chunk in 75 ms instead of 120 ms at 100,000.
_PENDING = (
    "SELECT video_key, title, author_nickname, content, digest FROM ("
    "SELECT t.video_key, coalesce(v.title, t.title) AS title, v.author_nickname, t.content, "
    "md5(concat_ws(chr(0), $fingerprint, coalesce(v.title, t.title, ''), "
    "coalesce(v.author_nickname, ''), coalesce(t.content, ''))) AS digest, s.content_hash "
    "FROM (SELECT * FROM transcripts WHERE {scope}) t "
    "LEFT JOIN (SELECT video_key, title, author_nickname FROM videos WHERE {scope}) v "
    "USING (video_key) "
    "LEFT JOIN (SELECT video_key, content_hash FROM text_state WHERE {scope}) s "
    "USING (video_key)) "
    "WHERE content_hash IS DISTINCT FROM digest"
)
# A chunk's range of keys.
_BOUNDS = {"after": "video_key > $after", "upto": "video_key <= $upto"}


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
    documents_changed: bool
    indexed: int

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


def _plan(conn: duckdb.DuckDBPyConnection, fingerprint: str, chunk: int) -> tuple[int, list[str]]:
    """How many transcripts are pending, and every `chunk`-th of their keys in key order: the
    chunks' bounds, so that each chunk reads only its own range."""
    total, bounds = conn.execute(
        "SELECT count(*), coalesce(list(video_key ORDER BY video_key) FILTER (n % $chunk = 0), []) "
        "FROM (SELECT video_key, row_number() OVER (ORDER BY video_key) AS n "
        f"FROM ({_PENDING.format(scope='TRUE')}))",
        {"fingerprint": fingerprint, "chunk": chunk},
    ).fetchone()
    return total, bounds


def _read_chunks(
    open_warehouse: Opener, fingerprint: str, bounds: list[str], chunk: int
) -> Iterator[list[Pending]]:
    """The pending transcripts, at most `chunk` at a time in key order, each read with the
    warehouse open only for the read. A transcript changed again after its chunk was read is
    left for the next run."""
    after: str | None = None
    for upto in [*bounds, None]:
        while True:
            given = {
                name: key for name, key in (("after", after), ("upto", upto)) if key is not None
            }
            scope = " AND ".join(_BOUNDS[name] for name in given) or "TRUE"
            with open_warehouse() as conn:
                rows = conn.execute(
                    f"{_PENDING.format(scope=scope)} ORDER BY video_key LIMIT $chunk",
                    {"fingerprint": fingerprint, "chunk": chunk, **given},
                ).fetchall()
            if rows:
                yield rows
                after = rows[-1][0]
            if len(rows) < chunk:
                break
        after = upto


def segment_transcripts(pending: Sequence[Pending], loaded: Segmenter) -> Frames:
    """The text tables' rows for one chunk, built column by column: polars takes columns about
    ten times faster than row tuples, and a sentence's tokens go in at once."""
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
    open_warehouse: Opener,
    log: Logger | None = None,
    *,
    dictionary_dir: Path | None = None,
    chunk: int = CHUNK,
) -> TextStats:
    """The warehouse is open only to read a chunk and to store one (a whole corpus
    re-segmented after a dictionary edit takes minutes), though one is nearly always being read
    or stored, so another writing process waits for the end. Each chunk's rows go in in one
    short transaction, then the keywords in one more, then the search index takes the changed
    documents, the warehouse open while it reads them (an index built afresh, after a
    dictionary edit or when it was lost, holds it for 16 s at a million documents). At most two
    chunks' rows are held at once, the one being stored and the next one being segmented, and
    the transcripts of a third."""
    log = log or logging.getLogger("pipeline.text")
    loaded = segmenter(dictionary_dir)
    fingerprint = loaded.fingerprint
    with open_warehouse() as conn:
        total, bounds = _plan(conn, fingerprint, chunk)
        # Decided once for the whole update, as if it were stored at once.
        full = total > 0 and keywords.needs_full_refresh(conn, total)

    def store(frames: Frames) -> int:
        with open_warehouse() as conn:
            # One DuckDB thread: the store runs beside the segmenting, and a second one would
            # take its core (40,000 transcripts: 14.4 -> 13.4 s, the store no slower).
            conn.execute("SET threads = 1")
            return _store(conn, frames, fingerprint, full)

    chunks = _read_chunks(open_warehouse, fingerprint, bounds, chunk)

    def store_then_read(frames: Frames | None) -> tuple[int, list[Pending] | None]:
        """Store the chunk before, then read the next one: DuckDB's work, which leaves the GIL,
        beside the segmenting, so the two use both cores."""
        return (0 if frames is None else store(frames)), next(chunks, None)

    stored = done = 0
    next_report = time.monotonic() + PROGRESS_SECONDS
    unstored: Frames | None = None
    pending = next(chunks, None)
    if pending:
        log.info(f"text analysis: segmenting {total} new or changed transcripts")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-store") as storer:
        while pending:
            # Chunk k is segmented while chunk k-1 is stored and chunk k+1 read; the ranges
            # are disjoint, and each store checks its digests anyway.
            work = storer.submit(store_then_read, unstored)
            unstored = segment_transcripts(pending, loaded)
            done += len(pending)
            just_stored, pending = work.result()
            stored += just_stored
            if time.monotonic() >= next_report:
                log.info(f"text analysis: {done}/{total} transcripts segmented, {stored} stored")
                next_report = time.monotonic() + PROGRESS_SECONDS
        if unstored is not None:
            stored += store(unstored)
    with open_warehouse() as conn:
        finished = _finish(conn, log)
        indexed = 0 if is_lake(conn) else follow_warehouse(conn, log)
        return _stats(conn, processed=stored, documents_changed=finished, indexed=indexed)


def _store(conn: duckdb.DuckDBPyConnection, frames: Frames, fingerprint: str, full: bool) -> int:
    """Write what was segmented, except videos whose digest moved on meanwhile: changed again
    (the next run takes them) or already stored by a concurrent run. The videos stored are
    noted in `text_unfinished` in the same transaction."""
    segmented = dict(frames["text_state"].iter_rows())
    with transaction(conn):
        with lookup(conn, "_segmented", "video_key", segmented):
            scope = "video_key IN (SELECT video_key FROM _segmented)"
            current = {
                row[0]: row[-1]
                for row in conn.execute(
                    _PENDING.format(scope=scope), {"fingerprint": fingerprint}
                ).fetchall()
            }
        keep = [key for key, digest in segmented.items() if current.get(key) == digest]
        if not keep:
            return 0
        # The range first: the chunks go in in key order, so DuckDB skips the other chunks'
        # row groups by their min and max instead of joining every row with the chunk's keys.
        changed = (
            f"video_key BETWEEN {sql_literal(min(keep))} AND {sql_literal(max(keep))} "
            "AND video_key IN (SELECT video_key FROM _changed)"
        )
        with lookup(conn, "_changed", "video_key", keep):
            # A video with no digest yet has no rows in the text tables (they are written and
            # dropped together), so a chunk of new videos skips the deletes, which read the
            # whole of each table (4 tables, 7 of 82 s at 200,000 new transcripts).
            (before,) = conn.execute(
                "SELECT count(*) FROM text_state "
                "WHERE video_key IN (SELECT video_key FROM _changed)"
            ).fetchone()
            if full:
                keywords.owe_full_refresh(conn)
            elif before:
                keywords.forget_documents(conn, changed)
            for table, frame in frames.items():
                if before:
                    conn.execute(f"DELETE FROM {table} WHERE {changed}")
                if len(keep) < len(segmented):
                    frame = frame.filter(pl.col("video_key").is_in(keep))
                _insert(conn, table, frame)
            if not full:
                keywords.count_documents(conn, changed, len(keep))
            conn.execute(
                "INSERT INTO text_unfinished SELECT video_key FROM _changed"
                + (
                    " WHERE video_key NOT IN (SELECT video_key FROM text_unfinished)"
                    if before
                    else ""
                )
            )
    return len(keep)


def _insert(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """A plain INSERT: the videos' old rows were just deleted and a frame holds each video once,
    so no key can clash, and INSERT OR REPLACE would cost a third more on the token table."""
    with registered(conn, "_text_rows", frame):
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _text_rows")


def _finish(conn: duckdb.DuckDBPyConnection, log: Logger) -> bool:
    """Score the videos stored since the last finished update, this run's or those of a run
    killed before its end, and hand them to the search index; whether there were any."""
    (unfinished,) = conn.execute("SELECT count(*) FROM text_unfinished").fetchone()
    if not unfinished:
        return False
    log.info(f"text analysis: keywords for {unfinished} transcripts stored")
    with transaction(conn):
        keywords.score(conn, "video_key IN (SELECT video_key FROM text_unfinished)")
        if not is_lake(conn):
            conn.execute(
                "INSERT INTO index_unfinished SELECT video_key FROM text_unfinished "
                "WHERE video_key NOT IN (SELECT video_key FROM index_unfinished)"
            )
        conn.execute("DELETE FROM text_unfinished")
    return True


def _stats(
    conn: duckdb.DuckDBPyConnection, processed: int, documents_changed: bool, indexed: int
) -> TextStats:
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
        documents_changed,
        indexed,
    )
