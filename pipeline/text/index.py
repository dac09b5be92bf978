"""The BM25 search index: tantivy, fed the project's own tokens, in a directory beside the
warehouse (`<stem>.search/`).

DuckDB's fts rebuilt its index whole on every update: three quarters of the time of a run that
adds 1,000 transcripts to a million, and 4.5 GiB (docs/BENCHMARKS.md section 4). tantivy takes a
video's new document in place of its old one, at a cost that does not grow with the corpus.

The warehouse and the index are two commits, so the index follows the warehouse: videos whose
document was stored wait in `index_unfinished` until their documents are upserted (the old one
deleted by key, the new one added) and the index committed; only then are they forgotten. A crash
in between upserts them again, which changes nothing. An index that does not hold exactly the
warehouse's documents afterwards (none yet, lost, damaged, or a warehouse restored from an older
backup) is rebuilt from the warehouse; tantivy's commit is atomic, so a searcher sees the old
index or the new one.

On a lake every host keeps its own index of the lake's documents, rebuilt when their fingerprint
moved: another host may have changed them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import tantivy

from pipeline.storage.db import connect, first_line
from pipeline.storage.location import Warehouse

Logger = logging.Logger | logging.LoggerAdapter
log = logging.getLogger("pipeline.text")

TOKENIZER = "project_tokens"
# The writer flushes a segment whenever its buffer fills, so this bounds what indexing holds.
WRITER_HEAP = 64_000_000
_BATCH = 10_000
# fts indexed the title and the body, both split on whitespace; the index keeps that text.
_TEXT = "coalesce(title, '') || ' ' || body"
# What the index was built from, on a lake: another host may have changed the documents since.
_FINGERPRINT = (
    "SELECT count(*) || ':' || coalesce(bit_xor(hash(video_key, title, author, body)), 0) "
    "FROM search_documents"
)
_BUILT_FROM = "built_from"
_FOOTER_MAGIC = 1337


class SearchIndexError(Exception):
    """The index cannot be read: missing or damaged. Rebuilding it mends both."""


def _schema() -> tantivy.Schema:
    """A video key to find a document by, and its words with their frequencies (BM25 needs no
    positions; there is no phrase search)."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("video_key", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name=TOKENIZER, index_option="freq")
    return builder.build()


def _with_tokenizer(index: tantivy.Index) -> tantivy.Index:
    """Words are already cut and space-joined; the index only splits on spaces and lower-cases."""
    words = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
    index.register_tokenizer(TOKENIZER, words.filter(tantivy.Filter.lowercase()).build())
    return index


@contextmanager
def _reading(directory: Path) -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # damaged files can make tantivy panic: pyo3's PanicException
        raise SearchIndexError(
            f"the search index {directory} is damaged or unreadable ({first_line(error)})"
        ) from None


def index_exists(directory: Path) -> bool:
    """Whether an index was ever committed there: tantivy writes `meta.json` at its first
    commit."""
    return (directory / "meta.json").exists()


def open_index(directory: Path) -> tantivy.Index:
    """The index for reading; SearchIndexError when there is none or it does not open."""
    if not index_exists(directory):
        raise SearchIndexError(f"no search index in {directory}")
    with _reading(directory):
        return _with_tokenizer(tantivy.Index.open(str(directory)))


def index_directory(conn: duckdb.DuckDBPyConnection) -> Path:
    """Where the index of the connection's warehouse file lives."""
    (path,) = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not path:
        raise SearchIndexError("an in-memory database has no search index beside it")
    return Warehouse(Path(path)).search_index


def ranked(directory: Path, terms: list[str], limit: int) -> list[tuple[str, float]]:
    """The best `limit` video keys for any of `terms`, with their BM25 scores, best first."""
    index = open_index(directory)
    with _reading(directory):
        searcher = index.searcher()
        should = tantivy.Occur.Should
        query = tantivy.Query.boolean_query(
            [(should, tantivy.Query.term_query(index.schema, "text", t.lower())) for t in terms]
        )
        found = searcher.search(query, limit)
        hits = [(searcher.doc(address)["video_key"][0], score) for score, address in found.hits]
    return sorted(hits, key=lambda hit: (-hit[1], hit[0]))


def indexed_keys(directory: Path) -> list[str]:
    """Every video key the index holds, read from its stored documents (so every block of its
    store is read): what `check` compares with the warehouse."""
    index = open_index(directory)
    with _reading(directory):
        searcher = index.searcher()
        found = searcher.search(tantivy.Query.all_query(), max(searcher.num_docs, 1))
        return [searcher.doc(address)["video_key"][0] for _, address in found.hits]


def damaged_files(directory: Path) -> list[str]:
    """The live segment files whose bytes fail their checksum: what tantivy's own
    `validate_checksum` checks, which its Python bindings leave out. Every segment file ends
    with a footer, `<JSON {"version", "crc"}><its length: u32><1337: u32>`, little-endian, the
    CRC32 being of the bytes before the footer; a search reads only the blocks it needs, so
    damage elsewhere goes unseen until then."""
    with _reading(directory):
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        live = {segment["segment_id"].replace("-", "") for segment in meta["segments"]}
    return [
        path.name
        for path in sorted(directory.iterdir())
        if path.name.split(".")[0] in live and not _checksum_holds(path)
    ]


def _checksum_holds(path: Path) -> bool:
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        if size < 8:
            return False
        file.seek(size - 8)
        length, magic = struct.unpack("<II", file.read(8))
        if magic != _FOOTER_MAGIC or length > size - 8:
            return False
        file.seek(size - 8 - length)
        try:
            expected = json.loads(file.read(length))["crc"]
        except (ValueError, KeyError, TypeError):
            return False
        file.seek(0)
        crc, left = 0, size - 8 - length
        while left:
            block = file.read(min(left, 1 << 20))
            crc, left = zlib.crc32(block, crc), left - len(block)
    return crc == expected


def follow_warehouse(conn: duckdb.DuckDBPyConnection, logger: Logger | None = None) -> int:
    """Bring the file warehouse's index up to its documents: upsert the videos waiting in
    `index_unfinished`, or build it afresh when every document changed (a rebuild, a dictionary
    edit) or when it is missing, unreadable, or does not hold as many documents as the
    warehouse. Returns how many documents were written."""
    logger = logger or log
    directory = index_directory(conn)
    (documents,) = conn.execute("SELECT count(*) FROM search_documents").fetchone()
    (waiting,) = conn.execute("SELECT count(*) FROM index_unfinished").fetchone()
    written, held = 0, None
    try:
        index = open_index(directory)
        # Damage a search would not meet (a block no query reads) is caught here, before a
        # commit builds on it: the files' checksums cost a read of the index, 46 MiB at a
        # million documents.
        if not damaged_files(directory):
            if 0 < waiting < documents:
                with _reading(directory):
                    written = _upsert(index, conn)
                    index.reload()
            with _reading(directory):
                held = index.searcher().num_docs
    except SearchIndexError:
        pass
    if (waiting and waiting >= documents) or (held != documents and (documents or held)):
        logger.info(
            f"search index: building {directory} afresh from {documents} documents "
            f"({waiting} changed; it held {'none readable' if held is None else held})"
        )
        written = build_index(conn, directory)
    conn.execute("DELETE FROM index_unfinished")  # after the index's commit, never before
    return written


def _upsert(index: tantivy.Index, conn: duckdb.DuckDBPyConnection) -> int:
    """The waiting videos' documents, each replacing the video's old one, in one commit; a video
    whose document is gone is only deleted."""
    cursor = conn.execute(
        f"SELECT u.video_key, {_TEXT} FROM index_unfinished u "
        "LEFT JOIN search_documents d USING (video_key)"
    )
    return _write(index.writer(WRITER_HEAP, 1), cursor, replace=True)


def build_index(conn: duckdb.DuckDBPyConnection, directory: Path) -> int:
    """Every document of the connection's `search_documents`, in place of what the index held,
    in one commit. An index that does not open is removed first."""
    try:
        index = open_index(directory)
    except SearchIndexError:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        index = _with_tokenizer(tantivy.Index(_schema(), path=str(directory), reuse=False))
    writer = index.writer(WRITER_HEAP, 1)
    writer.delete_all_documents()
    cursor = conn.execute(f"SELECT video_key, {_TEXT} FROM search_documents")
    return _write(writer, cursor, replace=False)


def _write(writer: tantivy.IndexWriter, cursor: duckdb.DuckDBPyConnection, replace: bool) -> int:
    """The cursor's (video_key, text) rows as documents, each first deleting the video's old
    one when `replace`, in one commit; a NULL text (the video has no document any more) only
    deletes. Streamed, so the writer's heap bounds the memory."""
    written = 0
    while rows := cursor.fetchmany(_BATCH):
        for video_key, text in rows:
            if replace:
                writer.delete_documents_by_term("video_key", video_key)
            if text is not None:
                writer.add_document(tantivy.Document(video_key=video_key, text=text))
                written += 1
    writer.commit()
    writer.wait_merging_threads()
    return written


def refresh_lake_index(warehouse: Warehouse, changed: bool) -> bool:
    """On a lake, bring this host's index up to the lake's documents: when this host changed
    them, has no index yet, or finds that another host changed them (their fingerprint moved).
    Reads the lake without its write lock. On the file the text analysis keeps the index."""
    if warehouse.lake is None:
        return False
    directory = warehouse.search_index
    with connect(warehouse, read_only=True) as conn:
        (fingerprint,) = conn.execute(_FINGERPRINT).fetchone()
        if not changed and _built_from(directory) == fingerprint:
            return False
        if fingerprint.startswith("0:") and not directory.exists():
            return False  # nothing analysed yet: no index to make
        build_index(conn, directory)
    _write_built_from(directory, str(fingerprint))
    return True


def _built_from(directory: Path) -> str | None:
    try:
        return (directory / _BUILT_FROM).read_text()
    except OSError:
        return None


def _write_built_from(directory: Path, fingerprint: str) -> None:
    """Written after the index's commit: a crash between leaves the old fingerprint, and the
    next refresh builds again."""
    partial = directory / f"{_BUILT_FROM}.{os.getpid()}.partial"
    partial.write_text(fingerprint)
    os.replace(partial, directory / _BUILT_FROM)
