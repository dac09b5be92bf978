"""Benchmark 4, continued (docs/BENCHMARKS.md section 4): the search index at a million
documents (issue 37, item 4).

A warehouse holding N analysed transcripts (default 1,000,000) is made in minutes rather than by
segmenting a million texts: `--base` emulator transcripts (`benchmarks.text_speed`'s) go through
the real `update_text_tables`, then their rows in every text table are copied under new keys in
SQL, in key order as chunks store them, and the keyword document counts are scaled to match, so
every digest is current and nothing is pending. Each step below runs in a child process, whose
peak RSS is read from outside (`os.wait4`):

1. the tantivy index of the N documents, built from nothing by the pipeline's `build_index`
   (its size and segments);
2. `update_text_tables` with nothing to do: what finding that costs, the index's check
   included;
3. `update_text_tables` with `--add` new transcripts, its time split into the chunks (plan,
   segment and store), the keywords, the index (`follow_warehouse` upserting the new documents)
   and the rest (the keyword transaction's commit and the summary counts).

Then a few queries through `pipeline.text.search`.

Copies share their base's words, so the vocabulary stops growing at `--base` transcripts; the
postings, which the index's size and build grow with, are as many as N transcripts have.

The figures of DuckDB's fts in section 4 came from this file as it was before commit ed1d95e,
which replaced fts with tantivy (`git show ed1d95e~1:benchmarks/fts_scale.py`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.text_speed import build_warehouse, transcript_rows
from pipeline.schema.transaction import transaction
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect
from pipeline.storage.extensions import sql_literal
from pipeline.storage.location import Warehouse
from pipeline.text import analysis, keywords
from pipeline.text.index import build_index, open_index, ranked
from pipeline.text.normalize import normalize_text
from pipeline.text.search import search
from pipeline.text.segment import query_terms, segmenter

# The benchmark's video keys: text_speed's, numbered from 0.
PREFIX = "douyin:76"
_NUMBER = f"CAST(substr(video_key, {len(PREFIX) + 1}) AS BIGINT)"
_SHIFTED = f"'{PREFIX}' || lpad(CAST({_NUMBER} + $offset AS VARCHAR), 17, '0')"
# Every table with a row per analysed video. Their rows are in key order already (chunks store
# them so), and a copy keeps that order (DuckDB preserves insertion order).
COPIED = (
    "videos",
    "transcripts",
    "transcript_sentences",
    "transcript_tokens",
    "search_documents",
    "text_state",
    "video_keywords",
)
# Two queries any corpus answers (a topic, two words); the third is the corpus's rarest word.
QUERIES = ("比特币", "航海王 穿搭")
REPEATS = 5

log = logging.getLogger("benchmarks.fts_scale")


def key(number: int) -> str:
    return f"{PREFIX}{number:017d}"


def build_corpus(db: Path, documents: int, base: int) -> dict[str, Any]:
    """`documents` analysed transcripts and their search index, `base` of them segmented for
    real and the rest copies of those: the seconds of each step, the warehouse's size, and the
    index's build (`index`, step 1)."""
    base = min(base, documents)
    started = time.perf_counter()
    build_warehouse(db, transcript_rows(base))
    analysis.update_text_tables(lambda: connect(db), log)
    analysed = time.perf_counter()
    with connect(db) as conn:
        # A checkpoint every 1 GiB of log rather than every 16 MiB: halves the copying.
        conn.execute("SET checkpoint_threshold = '1GiB'")
        for offset in range(base, documents, base):
            upto = key(min(base, documents - offset))
            with transaction(conn):
                for table in COPIED:
                    conn.execute(
                        f"INSERT INTO {table} SELECT * REPLACE ({_SHIFTED} AS video_key) "
                        f"FROM {table} WHERE video_key < $upto",
                        {"offset": offset, "upto": upto},
                    )
        with transaction(conn):
            _scale_keyword_counts(conn, documents, base)
        conn.execute("CHECKPOINT")
    copied = time.perf_counter()
    return {
        "analyse_base_seconds": round(analysed - started, 2),
        "copy_seconds": round(copied - analysed, 2),
        "warehouse_mib": _mib(db.stat().st_size),
        "index": in_child("index", str(db)),
    }


def _scale_keyword_counts(conn: duckdb.DuckDBPyConnection, documents: int, base: int) -> None:
    """What the incremental keyword scoring keeps about the corpus, as if every copy had been
    counted: a base transcript numbered n has (documents - n) / base copies, itself included."""
    copies = f"({documents} - {_NUMBER} + {base} - 1) // {base}"
    originals = (
        f"FROM transcript_tokens WHERE length(token) > 1 AND video_key < {sql_literal(key(base))}"
    )
    conn.execute("DELETE FROM token_documents")
    conn.execute(
        "INSERT INTO token_documents SELECT token, CAST(sum(copies) AS INTEGER) FROM "
        f"(SELECT DISTINCT token, video_key, {copies} AS copies {originals}) GROUP BY token"
    )
    conn.execute(
        "UPDATE keyword_refresh SET changed_since = 0, documents = (SELECT "
        f"CAST(sum({copies}) AS INTEGER) FROM (SELECT DISTINCT video_key {originals}))"
    )


def index_from_nothing(db: Path) -> dict[str, Any]:
    """Every document indexed by the pipeline's `build_index` into a directory it creates: what
    a warehouse's first index costs (a rebuild, after a dictionary edit, writes as many)."""
    directory = Warehouse(db).search_index
    shutil.rmtree(directory, ignore_errors=True)
    with connect(db, read_only=True) as conn:
        started = time.perf_counter()
        written = build_index(conn, directory)
        seconds = time.perf_counter() - started
    return {"documents": written, "seconds": round(seconds, 2), **_index_figures(directory)}


@contextmanager
def timed(owner: object, name: str, spans: dict[str, tuple[float, float, int]]) -> Iterator[None]:
    """`owner.name` replaced, while inside, by itself noting when it ran (and the peak RSS when
    it started) in `spans`."""
    original: Callable[..., Any] = getattr(owner, name)

    def noted(*args: Any, **kwargs: Any) -> Any:
        started, peak = time.perf_counter(), _peak_kib()
        try:
            return original(*args, **kwargs)
        finally:
            spans[name] = (started, time.perf_counter(), peak)

    setattr(owner, name, noted)
    try:
        yield
    finally:
        setattr(owner, name, original)


def add_transcripts(db: Path) -> dict[str, Any]:
    """The pending transcripts analysed by the pipeline's `update_text_tables`, timed in its
    parts, which add up to the whole: what a run that adds them costs. The segmenter's load,
    its tokenizer's included (which the first chunk would pay otherwise), is timed apart."""
    started = time.perf_counter()
    segmenter().segment("")
    loaded = time.perf_counter()
    spans: dict[str, tuple[float, float, int]] = {}
    with timed(keywords, "score", spans), timed(analysis, "follow_warehouse", spans):
        stats = analysis.update_text_tables(lambda: connect(db), log)
    ended = time.perf_counter()
    score_start, score_end, _ = spans["score"]
    index_start, index_end, peak_before_index = spans["follow_warehouse"]
    return {
        "processed": stats.processed,
        "indexed": stats.indexed,
        "seconds": round(ended - started, 2),
        "segmenter_load_seconds": round(loaded - started, 2),
        "chunks_seconds": round(score_start - loaded, 2),
        "keywords_seconds": round(score_end - score_start, 2),
        "index_seconds": round(index_end - index_start, 2),
        "commit_and_stats_seconds": round(index_start - score_end + ended - index_end, 2),
        "peak_rss_before_index_mib": round(peak_before_index / 1024),
        "index_after": _index_figures(Warehouse(db).search_index),
    }


def update_with_nothing_pending(db: Path) -> dict[str, Any]:
    """`update_text_tables` when every digest is current and the index holds every document:
    what finding that nothing changed costs at this size."""
    segmenter()
    started = time.perf_counter()
    stats = analysis.update_text_tables(lambda: connect(db), log)
    return {
        "processed": stats.processed,
        "indexed": stats.indexed,
        "seconds": round(time.perf_counter() - started, 2),
    }


# Runs its arguments as a command, then prints the command's peak RSS (KiB) as `os.wait4` reads
# it. The step is started from this small process, not from the benchmark's: Linux keeps a
# process's `ru_maxrss` across fork and exec, so a child started by a process of 2 GiB counts
# those 2 GiB as its own (checked: 1,035 MiB for `python -c pass` under 1 GiB, 11 MiB so).
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "child.returncode = os.waitstatus_to_exitcode(status)\n"
    "print(usage.ru_maxrss, flush=True)\n"
    "sys.exit(child.returncode)\n"
)


def in_child(*args: str) -> dict[str, Any]:
    """One step in a child process: what it printed, and its peak RSS read from outside."""
    step = [sys.executable, "-m", "benchmarks.fts_scale", "--child", *args]
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *step],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{args[0]} exited with status {done.returncode}")
    *_, printed, peak_kib = done.stdout.splitlines()
    return json.loads(printed) | {"peak_rss_mib": round(int(peak_kib) / 1024)}


def run_child(argv: list[str]) -> None:
    step, db = argv
    steps: dict[str, Callable[[Path], dict[str, Any]]] = {
        "index": index_from_nothing,
        "idle": update_with_nothing_pending,
        "add": add_transcripts,
    }
    print(json.dumps(steps[step](Path(db))), flush=True)


def queries(db: Path) -> list[dict[str, Any]]:
    """A topic, two words and the rarest word, through `pipeline.text.search` as a reader asks
    them (the first call after opening the warehouse, then the median of the next ones; each
    call opens the index, as `search` does). `hits` is every match, counted by `ranked`, the
    query `search` runs, with the whole corpus as its limit: tantivy's own count would need a
    query built apart from the pipeline's."""
    directory = Warehouse(db).search_index
    with connect(db, read_only=True) as conn:
        (rarest,) = conn.execute(
            "SELECT token FROM token_documents ORDER BY docs, token LIMIT 1"
        ).fetchone()
        (documents,) = conn.execute("SELECT count(*) FROM search_documents").fetchone()
        results = []
        for query in (*QUERIES, rarest):
            terms = query_terms(normalize_text(query))
            times, hits = _timed_calls(lambda q=query: search(directory, conn, q, limit=10))
            results.append(
                {
                    "query": query,
                    "terms": terms,
                    "hits": len(ranked(directory, terms, documents)),
                    **times,
                    "top_scores": [round(hit.score, 4) for hit in hits],
                }
            )
    return results


def _timed_calls(call: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    took = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        answer = call()
        took.append((time.perf_counter() - started) * 1000)
    return {
        "first_ms": round(took[0], 2),
        "median_ms": round(statistics.median(took[1:]), 2),
    }, answer


def _index_figures(directory: Path) -> dict[str, Any]:
    """The index's live segments and its size on disk."""
    return {
        "segments": open_index(directory).searcher().num_segments,
        "size_mib": _mib(_size(directory)),
    }


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _load(average: tuple[float, float, float]) -> list[float]:
    return [round(x, 1) for x in average]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _mib(size: int) -> float:
    return round(size / 2**20, 1)


# A tiny size for the smoke test and `run_all --smoke`: checks the benchmark runs, measures
# nothing.
SMOKE = ("--documents", "300", "--base", "100", "--add", "20")


def main(argv: list[str] | None = None) -> dict | None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        run_child(argv[1:])
        return None
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1_000_000, help="the corpus")
    parser.add_argument("--base", type=int, default=10_000, help="transcripts segmented for real")
    parser.add_argument("--add", type=int, default=1_000, help="new transcripts analysed")
    parser.add_argument(
        "--workdir", type=Path, help="where the warehouse goes (default a temp dir)"
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="fts_scale_", dir=args.workdir))
    try:
        db = workdir / "warehouse.duckdb"
        build = build_corpus(db, args.documents, args.base)
        idle = in_child("idle", str(db))
        build_warehouse(db, transcript_rows(args.add, seed=args.documents, start=args.documents))
        add = in_child("add", str(db))
        asked = queries(db)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "benchmark": "fts_scale",
        "tantivy": importlib.metadata.version("tantivy"),
        "documents": args.documents,
        "base": min(args.base, args.documents),
        "added": args.add,
        "cpus": os.cpu_count(),
        "load_average": {"start": _load(load_before), "end": _load(os.getloadavg())},
        "build": build,
        "idle": idle,
        "add": add,
        "queries": asked,
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


if __name__ == "__main__":
    main()
