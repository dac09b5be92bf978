"""Benchmark 4: text analysis throughput, transcripts per second.

N emulator transcripts (398 characters on average; the recorded real one has 488), each with
its video, in a fresh DuckDB file built as tests/text build theirs. The emulator says only a
dozen topics in ten clauses, so half the videos talk about a name of their own instead, made
of two or three characters of the real transcript: words no dictionary knows, as names and
slang are, so the vocabulary grows with the corpus. Measured twice: segmenting alone
(sentences, normalization, words: the rows the warehouse gets, no DuckDB), then
`update_text_tables` end to end (find what changed, segment, insert, keywords, BM25 index).
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
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.emulator import content
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from pipeline.storage.frames import TABLE_BY_NAME, frame, registered
from pipeline.text.analysis import Pending, segment_transcripts, update_text_tables
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
    rng = random.Random(seed)
    characters = name_characters()
    rows: list[Pending] = []
    for n in range(count):
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
        rows.append((f"douyin:76{n:017d}", title, AUTHORS[n % len(AUTHORS)], text, ""))
    return rows


def build_warehouse(db: Path, rows: list[Pending]) -> None:
    """Videos and transcripts only, as the pipeline leaves them before text analysis. Each row
    is built from the table's declared schema, so a column added later is filled, not missed."""
    now = datetime.now(UTC).replace(tzinfo=None)
    videos = [
        {"video_key": key, "title": title, "author_nickname": author}
        for key, title, author, _, _ in rows
    ]
    texts = [
        {"video_key": key, "title": title, "content": text, "char_count": len(text or "")}
        for key, title, _, text, _ in rows
    ]
    with connect(db) as conn:
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
    args = parser.parse_args(argv)
    rows = transcripts(args.transcripts)
    log = logging.getLogger("benchmarks.text_speed")
    segmenter().segment("")  # loads the tokenizer: segmenting alone is measured loaded

    started = time.perf_counter()
    frames = segment_transcripts(rows, segmenter(), log)
    segment_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "text.duckdb"
        build_warehouse(db, rows)
        segmenter.cache_clear()  # a run loads the segmenter afresh: that is part of its time
        started = time.perf_counter()
        stats = update_text_tables(lambda: connect(db), log)
        update_seconds = time.perf_counter() - started
    count = len(rows)
    result = {
        "benchmark": "text_speed",
        "transcripts": count,
        "mean_chars": round(sum(len(row[3] or "") for row in rows) / count),
        "segmenter": {p: importlib.metadata.version(p) for p in SEGMENTING_PACKAGES},
        "cpus": os.cpu_count(),
        "sentences": frames["transcript_sentences"].height,
        "tokens": frames["transcript_tokens"].height,
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
