"""Benchmark 4, continued (docs/BENCHMARKS.md section 4): the full-text index at a million
documents (issue 37, item 4).

A warehouse holding N analysed transcripts (default 1,000,000) is made in minutes rather than by
segmenting a million texts: `--base` emulator transcripts (`benchmarks.text_speed`'s) go through
the real `update_text_tables`, then their rows in every text table are copied under new keys in
SQL, in key order as chunks store them, and the keyword document counts are scaled to match, so
every digest is current, nothing is pending and the BM25 index is built once. Each step below
runs in a child process, whose peak RSS is read from outside (`os.wait4`): `update_text_tables`
with nothing to do (what finding that costs), then with `--add` new transcripts, its time split
into the chunks (plan, segment and store), the keywords, the index rebuild and the final commit
(with the summary counts). Then a few queries through `pipeline.text.search`.

`--engine tantivy` measures beside it what an incremental index would cost: tantivy, BM25 too,
over the same documents, the project's own tokens split on whitespace and lower-cased, as fts
splits them; the N documents indexed in one child process, the `--add` new ones upserted by
video key and committed in another; and the same queries on both engines (hits, top scores,
latency). The pipeline's engine stays DuckDB's fts: this is a measurement, not a switch.

Copies share their base's words, so the vocabulary stops growing at `--base` transcripts; the
postings, which the index's size and rebuild grow with, are as many as N transcripts have.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
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
from pipeline.text import analysis, keywords
from pipeline.text.index import index_in_place
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
# What tantivy indexes: fts's documents are the title and the body, both split on whitespace.
DOCUMENT_TEXT = "coalesce(title, '') || ' ' || body"
TOKENIZER = "project_tokens"
TANTIVY_HEAP = 128_000_000

log = logging.getLogger("benchmarks.fts_scale")


def key(number: int) -> str:
    return f"{PREFIX}{number:017d}"


def build_corpus(db: Path, documents: int, base: int) -> dict[str, float]:
    """`documents` analysed transcripts with their BM25 index, `base` of them segmented for real
    and the rest copies of those; the seconds of each step and the sizes on disk."""
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
        unindexed = _used_bytes(conn)
        index_in_place(conn)
        conn.execute("CHECKPOINT")
        indexed = time.perf_counter()
        index_bytes = _used_bytes(conn) - unindexed
    return {
        "analyse_base_seconds": round(analysed - started, 2),
        "copy_seconds": round(copied - analysed, 2),
        "index_seconds": round(indexed - copied, 2),
        "warehouse_mib": _mib(db.stat().st_size),
        "fts_index_mib": _mib(index_bytes),
    }


def _used_bytes(conn: duckdb.DuckDBPyConnection) -> int:
    """What the warehouse's blocks in use hold, free blocks left out."""
    used, size = conn.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size()"
    ).fetchone()
    return used * size


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


def add_with_duckdb(db: Path) -> dict[str, Any]:
    """The pending transcripts analysed by the pipeline's `update_text_tables`, timed in its
    parts: what a run that adds them costs today."""
    started = time.perf_counter()
    segmenter()
    loaded = time.perf_counter()
    spans: dict[str, tuple[float, float, int]] = {}
    with timed(keywords, "score", spans), timed(analysis, "index_in_place", spans):
        stats = analysis.update_text_tables(lambda: connect(db), log)
    ended = time.perf_counter()
    score_start, score_end, _ = spans["score"]
    index_start, index_end, peak_before_index = spans["index_in_place"]
    return {
        "stored": stats.processed,
        "seconds": round(ended - started, 2),
        "segmenter_load_seconds": round(loaded - started, 2),
        "chunks_seconds": round(score_start - loaded, 2),
        "keywords_seconds": round(score_end - score_start, 2),
        "index_seconds": round(index_end - index_start, 2),
        "commit_and_stats_seconds": round(ended - index_end, 2),
        "peak_rss_before_index_mib": round(peak_before_index / 1024),
    }


def update_with_nothing_pending(db: Path) -> dict[str, Any]:
    """`update_text_tables` when every digest is current: what finding that nothing changed
    costs at this size."""
    segmenter()
    started = time.perf_counter()
    stats = analysis.update_text_tables(lambda: connect(db), log)
    return {"stored": stats.processed, "seconds": round(time.perf_counter() - started, 2)}


def tantivy_index(path: Path, create: bool = False) -> Any:
    """The tantivy index at `path`: a video key to find a document by, and the text fts indexes,
    split on whitespace and lower-cased, with term frequencies (BM25 needs no positions, and fts
    has no phrase search)."""
    import tantivy

    if create:
        path.mkdir(parents=True)
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("video_key", stored=True, tokenizer_name="raw")
        builder.add_text_field("text", tokenizer_name=TOKENIZER, index_option="freq")
        index = tantivy.Index(builder.build(), path=str(path))
    else:
        index = tantivy.Index.open(str(path))
    words = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
    index.register_tokenizer(TOKENIZER, words.filter(tantivy.Filter.lowercase()).build())
    return index


def build_with_tantivy(db: Path, path: Path, upto: str) -> dict[str, Any]:
    """Every document before key `upto` indexed into a new tantivy index, as a rebuild would."""
    import tantivy

    started = time.perf_counter()
    index = tantivy_index(path, create=True)
    writer = index.writer(TANTIVY_HEAP)
    with connect(db, read_only=True) as conn:
        cursor = conn.execute(
            f"SELECT video_key, {DOCUMENT_TEXT} FROM search_documents WHERE video_key < ?",
            [upto],
        )
        while rows := cursor.fetchmany(10_000):
            for video_key, text in rows:
                writer.add_document(tantivy.Document(video_key=video_key, text=text))
    added = time.perf_counter()
    return {"add_seconds": round(added - started, 2), **_commit(index, writer, path, started)}


def _commit(index: Any, writer: Any, path: Path, started: float) -> dict[str, Any]:
    """Commit, wait for tantivy's merges and reload the searcher: the figures both tantivy
    steps report from there on (`seconds` since `started`, a `time.perf_counter` reading)."""
    added = time.perf_counter()
    writer.commit()
    committed = time.perf_counter()
    writer.wait_merging_threads()
    merged = time.perf_counter()
    index.reload()
    return {
        "documents": index.searcher().num_docs,
        "seconds": round(merged - started, 2),
        "commit_seconds": round(committed - added, 2),
        "merge_seconds": round(merged - committed, 2),
        "segments": index.searcher().num_segments,
        "size_mib": _mib(_size(path)),
    }


def add_with_tantivy(db: Path, path: Path, first: str) -> dict[str, Any]:
    """The documents from key `first` on, as `update_text_tables` stored them, upserted into the
    tantivy index (the old document of each video key deleted, the new one added) and committed:
    what would replace the rebuild."""
    import tantivy

    with connect(db, read_only=True) as conn:
        rows = conn.execute(
            f"SELECT video_key, {DOCUMENT_TEXT} FROM search_documents WHERE video_key >= ?",
            [first],
        ).fetchall()
    started = time.perf_counter()
    index = tantivy_index(path)
    writer = index.writer(TANTIVY_HEAP)
    opened = time.perf_counter()
    for video_key, text in rows:
        writer.delete_documents_by_term("video_key", video_key)
        writer.add_document(tantivy.Document(video_key=video_key, text=text))
    added = time.perf_counter()
    return {
        "upserted": len(rows),
        "open_seconds": round(opened - started, 2),
        "add_seconds": round(added - opened, 2),
        **_commit(index, writer, path, started),
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
    step, db, *rest = argv
    steps: dict[str, Callable[..., dict[str, Any]]] = {
        "duckdb-idle": update_with_nothing_pending,
        "duckdb-add": add_with_duckdb,
        "tantivy-build": build_with_tantivy,
        "tantivy-add": add_with_tantivy,
    }
    arguments = [Path(rest[0]), *rest[1:]] if rest else []
    print(json.dumps(steps[step](Path(db), *arguments)), flush=True)


def queries(db: Path, base: int, documents: int, tantivy_path: Path | None) -> list[dict]:
    """A topic, two words and the rarest word, through `pipeline.text.search` (the first call
    after opening, then the median of the next ones), and the same terms on tantivy."""
    with connect(db, read_only=True) as conn:
        (rarest,) = conn.execute(
            "SELECT token FROM token_documents ORDER BY docs, token LIMIT 1"
        ).fetchone()
        results = []
        for query in (*QUERIES, rarest):
            terms = query_terms(normalize_text(query))
            times, hits = _timed_calls(lambda q=query: search(conn, q, limit=10))
            (matched,) = conn.execute(
                "SELECT count(*) FROM search_videos(?)", [" ".join(terms)]
            ).fetchone()
            found = {
                "hits": matched,
                **times,
                "top_scores": [round(hit.score, 4) for hit in hits],
                "top_base": _bases([hit.video_key for hit in hits], base, documents),
            }
            results.append({"query": query, "terms": terms, "duckdb": found})
    if tantivy_path is not None:
        index = tantivy_index(tantivy_path)
        searcher = index.searcher()
        for result in results:
            result["tantivy"] = _tantivy_query(index, searcher, result["terms"], base, documents)
            duck, tant = result["duckdb"]["top_scores"], result["tantivy"]["top_scores"]
            differences = (abs(a - b) / a for a, b in zip(duck, tant, strict=False) if a)
            result["max_score_difference"] = round(max(differences, default=0.0), 4)
    return results


def _tantivy_query(
    index: Any, searcher: Any, terms: list[str], base: int, documents: int
) -> dict[str, Any]:
    """BM25 over the same terms, any of them (fts's default): scores in fts's scale (fts takes
    log10 for the IDF where tantivy takes ln)."""
    import tantivy

    should = tantivy.Occur.Should
    query = tantivy.Query.boolean_query(
        [(should, tantivy.Query.term_query(index.schema, "text", term.lower())) for term in terms]
    )
    times, found = _timed_calls(lambda: searcher.search(query, 10, count=True))
    keys = [searcher.doc(address)["video_key"][0] for _, address in found.hits]
    return {
        "hits": found.count,
        **times,
        "top_scores": [round(score / math.log(10), 4) for score, _ in found.hits],
        "top_base": _bases(keys, base, documents),
    }


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


def _bases(video_keys: list[str], base: int, documents: int) -> list[int]:
    """The transcripts the hits are copies of, so that two engines breaking ties among copies
    differently still agree."""
    numbers = (int(video_key.removeprefix(PREFIX)) for video_key in video_keys)
    return sorted({n % base if n < documents else n for n in numbers})


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
        "--engine",
        choices=("duckdb", "tantivy"),
        default="duckdb",
        help="tantivy: also index with tantivy, incrementally, and compare",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where the warehouse goes (default a temp dir)"
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="fts_scale_", dir=args.workdir))
    try:
        db, index = workdir / "fts.duckdb", workdir / "tantivy"
        first = key(args.documents)
        build = build_corpus(db, args.documents, args.base)
        tantivy = args.engine == "tantivy"
        if tantivy:
            tantivy_build = in_child("tantivy-build", str(db), str(index), first)
        duckdb_idle = in_child("duckdb-idle", str(db))
        build_warehouse(db, transcript_rows(args.add, seed=args.documents, start=args.documents))
        duckdb_add = in_child("duckdb-add", str(db))
        if tantivy:
            tantivy_add = in_child("tantivy-add", str(db), str(index), first)
        asked = queries(db, args.base, args.documents, index if tantivy else None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "benchmark": "fts_scale",
        "engine": args.engine,
        "documents": args.documents,
        "base": min(args.base, args.documents),
        "added": args.add,
        "cpus": os.cpu_count(),
        "load_average": {"start": _load(load_before), "end": _load(os.getloadavg())},
        "build": build,
        "duckdb_idle": duckdb_idle,
        "duckdb_add": duckdb_add,
        **({"tantivy_build": tantivy_build, "tantivy_add": tantivy_add} if tantivy else {}),
        "queries": asked,
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


if __name__ == "__main__":
    main()
