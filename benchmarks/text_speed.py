"""Benchmark 4: text analysis throughput, transcripts per second.

N emulator transcripts (398 characters on average; the recorded real one has 488), each with
its video, in a fresh DuckDB file built as tests/text build theirs. The emulator says only a
dozen topics in ten clauses, so half the videos talk about a name of their own instead, made
of two or three characters of the real transcript: words no dictionary knows, as names and
slang are, so the vocabulary grows with the corpus. Measured twice: segmenting alone
(sentences, normalization, words: the rows the warehouse gets, no DuckDB), then
`update_text_tables` end to end (find what changed, segment, insert, keywords, BM25 index).
Transcripts are made, segmented and inserted a chunk at a time, so the process's peak memory
(`peak_rss_mib`, or `/usr/bin/time -v` around it) is the text analysis's, not the fixture's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import polars as pl

from pipeline.emulator import content
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from pipeline.storage.frames import TABLE_BY_NAME, frame, registered
from pipeline.text.analysis import CHUNK, Pending, segment_transcripts, update_text_tables
from pipeline.text.segment import SEGMENTING_PACKAGES, segmenter

AUTHORS = content.NICKNAMES
# The emulator ends a transcript's sentences with commas but the last: real transcripts end
# one every 100 characters or so (the recorded one: 4 in 488), so every tenth comma is a stop.
SENTENCE_CLAUSES = 10
RECORDED = PROJECT_ROOT / "tests" / "coze" / "recorded" / "transcript_run_history_success.json"


def name_characters() -> list[str]:
    """The Chinese characters of the recorded real transcript."""
    record = json.loads(RECORDED.read_text(encoding="utf-8"))["data"][0]
    text = json.loads(json.loads(record["output"])["Output"])["content"]
    return sorted({ch for ch in text if "\u4e00" <= ch <= "\u9fff"})


def transcripts(count: int, seed: int = 7) -> list[Pending]:
    """(video key, title, author, content, digest) of `count` distinct emulator videos."""
    return list(transcript_rows(count, seed))


def transcript_rows(count: int, seed: int = 7, start: int = 0) -> Iterator[Pending]:
    """The same, one at a time; `start` numbers them on from another corpus's end."""
    rng = random.Random(seed)
    characters = name_characters()
    for n in range(start, start + count):
        url = f"https://www.douyin.com/video/76{n:017d}"
        text, title = content.transcript(url)
        if n % 2:
            topic = next(t for t in content.TOPICS if title.startswith(t))
            name = "".join(rng.choices(characters, k=rng.choice((2, 3))))
            text, title = text.replace(topic, name), title.replace(topic, name)
        clauses = text.split("，")
        text = "".join(
            clause + ("。" if i % SENTENCE_CLAUSES == SENTENCE_CLAUSES - 1 else "，")
            for i, clause in enumerate(clauses[:-1])
        )
        text += clauses[-1]
        yield (f"douyin:76{n:017d}", title, AUTHORS[n % len(AUTHORS)], text, "")


def batches(rows: Iterable[Pending], size: int) -> Iterator[list[Pending]]:
    """`rows` `size` at a time (itertools.batched from Python 3.12)."""
    each = iter(rows)
    while part := list(islice(each, size)):
        yield part


def build_warehouse(db: Path, rows: Iterable[Pending]) -> None:
    """Videos and transcripts only, as the pipeline leaves them before text analysis, inserted
    10,000 at a time. Each row is built from the table's declared schema, so a column added
    later is filled, not missed."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for part in batches(rows, 10_000):
        videos = [
            {"video_key": key, "title": title, "author_nickname": author}
            for key, title, author, _, _ in part
        ]
        texts = [
            {"video_key": key, "title": title, "content": text, "char_count": len(text or "")}
            for key, title, _, text, _ in part
        ]
        with connect(db) as conn:  # closed each time, so DuckDB's cache does not hold them all
            for table, given in (("videos", videos), ("transcripts", texts)):
                with registered(conn, "_bench", schema_frame(table, given, now)):
                    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _bench")


def schema_frame(table: str, rows: list[dict[str, object]], now: datetime) -> pl.DataFrame:
    """`rows` as a frame of every column `table` declares: a NOT NULL column the row leaves out
    gets a placeholder of its type (an id of the row's number, 0, false, `now`), a nullable one
    NULL."""
    placeholders: dict[str, object] = {"INTEGER": 0, "BIGINT": 0, "DOUBLE": 0.0}
    placeholders |= {"BOOLEAN": False, "TIMESTAMP": now}
    required = [c for c in TABLE_BY_NAME[table].columns if not c.nullable]
    filled = [
        {
            **{c.name: placeholders.get(c.type, str(n)) for c in required if c.name not in row},
            **row,
        }
        for n, row in enumerate(rows)
    ]
    return frame(table, filled)


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--transcripts", "40")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transcripts", type=int, default=10_000, help="videos to analyse")
    parser.add_argument(
        "--chunk", type=int, default=CHUNK, help=f"transcripts per chunk (default {CHUNK})"
    )
    args = parser.parse_args(argv)
    count = args.transcripts
    log = logging.getLogger("benchmarks.text_speed")
    segmenter().segment("")  # loads the tokenizer: segmenting alone is measured loaded

    segment_seconds, chars, sentences, tokens = 0.0, 0, 0, 0
    for part in batches(transcript_rows(count), args.chunk):
        started = time.perf_counter()
        frames = segment_transcripts(part, segmenter())
        segment_seconds += time.perf_counter() - started
        chars += sum(len(row[3] or "") for row in part)
        sentences += frames["transcript_sentences"].height
        tokens += frames["transcript_tokens"].height

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "text.duckdb"
        build_warehouse(db, transcript_rows(count))
        segmenter.cache_clear()  # a run loads the segmenter afresh: that is part of its time
        started = time.perf_counter()
        stats = update_text_tables(lambda: connect(db), log, chunk=args.chunk)
        update_seconds = time.perf_counter() - started
    result = {
        "benchmark": "text_speed",
        "transcripts": count,
        "chunk": args.chunk,
        "mean_chars": round(chars / count),
        "segmenter": {p: importlib.metadata.version(p) for p in SEGMENTING_PACKAGES},
        "cpus": os.cpu_count(),
        "sentences": sentences,
        "tokens": tokens,
        "segment_seconds": round(segment_seconds, 2),
        "segment_transcripts_per_second": round(count / segment_seconds),
        "update_seconds": round(update_seconds, 2),
        "update_transcripts_per_second": round(count / update_seconds),
        "stored": stats.processed,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
