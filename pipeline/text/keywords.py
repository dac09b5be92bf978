"""Keywords: TF-IDF over the whole corpus, paid for by what changed.

Document frequencies live in `token_documents`, updated by the changed videos' tokens as each
chunk of them is stored; only the changed videos are scored, once, when the whole update is
stored, so their scores see the corpus as one pass would. Older videos keep the IDF of the last
full refresh, which runs once the videos changed since then exceed `FULL_REFRESH_SHARE` of the
corpus. A full refresh owed is said by `keyword_refresh` having no row, so a run resuming a
killed one owes it too.

`changed` below is a condition on `video_key` naming the changed videos: a chunk's, or every
video stored since the last finished update (`text_unfinished`).
"""

from __future__ import annotations

import duckdb

KEYWORDS_PER_VIDEO = 10
FULL_REFRESH_SHARE = 0.1

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


def needs_full_refresh(conn: duckdb.DuckDBPyConnection, changing: int) -> bool:
    row = conn.execute("SELECT documents, changed_since FROM keyword_refresh").fetchone()
    return row is None or row[1] + changing > FULL_REFRESH_SHARE * row[0]


def owe_full_refresh(conn: duckdb.DuckDBPyConnection) -> None:
    """Said durably, before any chunk of a full refresh is stored."""
    conn.execute("DELETE FROM keyword_refresh")


def forget_documents(conn: duckdb.DuckDBPyConnection, changed: str) -> None:
    """Take the changed videos' old tokens out of the counts, before their tokens are replaced."""
    conn.execute(
        "UPDATE token_documents SET docs = token_documents.docs - old.docs "
        f"FROM ({_DOCUMENT_COUNTS.format(scope=changed)}) old "
        "WHERE token_documents.token = old.token"
    )


def count_documents(conn: duckdb.DuckDBPyConnection, changed: str, changing: int) -> None:
    """Add the changed videos' new tokens to the counts; their keywords wait for the end."""
    _count_documents(conn, changed)
    conn.execute("DELETE FROM token_documents WHERE docs <= 0")
    conn.execute(f"DELETE FROM video_keywords WHERE {changed}")
    conn.execute("UPDATE keyword_refresh SET changed_since = changed_since + ?", [changing])


def score(conn: duckdb.DuckDBPyConnection, changed: str) -> None:
    """Score the changed videos, or every video when a full refresh is owed."""
    if conn.execute("SELECT count(*) FROM keyword_refresh").fetchone() == (0,):
        _refresh_all(conn)
        return
    corpus = _corpus_size(conn, changed)
    conn.execute(_SCORE_KEYWORDS.format(scope=changed), {"corpus": corpus})


def _count_documents(conn: duckdb.DuckDBPyConnection, scope: str) -> None:
    conn.execute(
        f"MERGE INTO token_documents USING ({_DOCUMENT_COUNTS.format(scope=scope)}) AS counted "
        "USING (token) WHEN MATCHED THEN UPDATE SET docs = token_documents.docs + counted.docs "
        "WHEN NOT MATCHED THEN INSERT *"
    )


def _refresh_all(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("DELETE FROM token_documents")
    _count_documents(conn, "TRUE")
    corpus = conn.execute(f"SELECT count(DISTINCT video_key) FROM ({_KEYWORD_TOKENS})").fetchone()
    conn.execute("DELETE FROM video_keywords")
    conn.execute(_SCORE_KEYWORDS.format(scope="TRUE"), {"corpus": corpus[0]})
    conn.execute("INSERT INTO keyword_refresh VALUES (?, 0)", [corpus[0]])


def _corpus_size(conn: duckdb.DuckDBPyConnection, changed: str) -> int:
    """Transcripts with any keyword token. Every such transcript has keywords but the changed
    ones, whose keywords were taken out, so the others are counted from the small
    `video_keywords` instead of the token table."""
    return conn.execute(
        "SELECT (SELECT count(DISTINCT video_key) FROM video_keywords) + "
        f"(SELECT count(DISTINCT video_key) FROM ({_KEYWORD_TOKENS}) WHERE {changed})"
    ).fetchone()[0]
