"""The warehouse's tables, declared once with their column docs.

`docs/schema.md` is generated from `TABLES` (`python -m pipeline schema-doc`) and a test checks
that it matches both this module and the live database, so the doc cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.status import ItemStatus, JobStatus, LinkStatus, Outcome, listed
from pipeline.warehouse.transaction import transaction


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def ddl(self, *, keyed: bool = True) -> str:
        """`keyed=False` for a DuckLake, which has no keys: its key columns stay NOT NULL and
        writers keep them unique by MERGE (`pipeline.warehouse.frames.upsert`)."""
        cols = [
            f"{c.name} {c.type}{' NOT NULL' if self._not_null(c, keyed) else ''}"
            for c in self.columns
        ]
        if self.primary_key and keyed:
            cols.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  " + ",\n  ".join(cols) + "\n)"

    def _not_null(self, column: Column, keyed: bool) -> bool:
        """A key column is NOT NULL through its key, or said so where there is no key."""
        if column.name in self.primary_key:
            return not keyed
        return not column.nullable


C = Column

TABLES: tuple[Table, ...] = (
    Table(
        "links",
        "One row per non-skipped input line of a batch (a link file), then one per line since "
        "removed from the file whose video has a paid transcript job (listed false): kept so "
        "the job is still polled and the video stays in link_status. Rewritten whole when the "
        "batch is re-read.",
        (
            C("batch", "VARCHAR", "Link file name (the Dagster partition key).", False),
            C("line_no", "BIGINT", "1-based physical line number in the file.", False),
            C("raw_text", "VARCHAR", "The line exactly as read (after decoding).", False),
            C("url", "VARCHAR", "The URL found in the line."),
            C(
                "platform",
                "VARCHAR",
                "douyin, bilibili, tiktok, kuaishou, xiaohongshu, weibo, youtube.",
            ),
            C("video_id", "VARCHAR", "Platform video id when the URL carries it."),
            C(
                "canonical_url",
                "VARCHAR",
                "Tracking-free URL; the platform's canonical page when the id is known.",
            ),
            C(
                "video_key",
                "VARCHAR",
                "Warehouse-wide video identity: platform:id, else canonical_url.",
            ),
            C(
                "error",
                "VARCHAR",
                "no_url, bad_scheme or unsupported_platform; NULL for a valid link.",
            ),
            C("loaded_at", "TIMESTAMP", "When the line was last read from the file.", False),
            C(
                "listed",
                "BOOLEAN",
                "Whether the line is in the file now; false for a removed line kept for its paid "
                "job, numbered after the file's last line.",
                False,
            ),
        ),
        ("batch", "line_no"),
    ),
    Table(
        "raw_responses",
        "Every Coze answer the pipeline acted on, as received, written before any normalization. "
        "The normalized tables can be rebuilt from it (`python -m pipeline rebuild`). Never holds a token.",
        (
            C("response_id", "VARCHAR", "Unique id assigned on receipt.", False),
            C("kind", "VARCHAR", "metadata, submit or poll.", False),
            C("video_key", "VARCHAR", "The video the call was made for.", False),
            C("workflow_id", "VARCHAR", "Coze workflow id.", False),
            C(
                "request_input",
                "VARCHAR",
                "The `input` parameter sent, or the execute_id polled.",
                False,
            ),
            C("execute_id", "VARCHAR", "Async run id (submit and poll answers)."),
            C(
                "http_status",
                "INTEGER",
                "HTTP status; NULL when no answer arrived (connection error).",
            ),
            C(
                "outcome",
                "VARCHAR",
                f"{listed(Outcome)}: what the client made of the answer. `service_fault`: "
                "retryable, but every call of its kind in its run had failed, so it cost no "
                "attempt; `uncertain`: a submit that may have started a paid job whose answer "
                "was lost.",
                False,
            ),
            C("error_code", "BIGINT", "Coze code or workflow error_code when not ok."),
            C("error_message", "VARCHAR", "Human-readable reason when not ok."),
            C("logid", "VARCHAR", "Coze log id, for support requests."),
            C("received_at", "TIMESTAMP", "When the answer arrived (UTC).", False),
            C("body", "VARCHAR", "Response body exactly as received."),
            C(
                "seq",
                "BIGINT",
                "Order of recording (1, 2, ...), causal within a run: state is replayed in this "
                "order, never by received_at, which a clock step can reorder.",
            ),
        ),
        ("response_id",),
    ),
    Table(
        "item_state",
        "Per video and workflow step: where the work stands. Derived from raw_responses.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("step", "VARCHAR", "metadata or transcript.", False),
            C(
                "status",
                "VARCHAR",
                f"{listed(ItemStatus)}. `failed`: permanent or out of attempts; `uncertain`: a "
                "submit that may have reached Coze with no answer, resubmitted only with "
                "--resubmit-uncertain.",
                False,
            ),
            C("attempts", "INTEGER", "Calls that failed or submits made.", False),
            C("error_code", "BIGINT", "Last error code."),
            C("error_message", "VARCHAR", "Last error reason."),
            C("updated_at", "TIMESTAMP", "Time of the answer that set this state.", False),
        ),
        ("video_key", "step"),
    ),
    Table(
        "service_halts",
        "Runs that Coze stopped with an account- or workflow-wide error (balance, quota, plan, "
        "token, unpublished workflow). The sensor and the schedule start no run before the "
        "latest row's resume_after; the next run that gets answers from Coze again empties it.",
        (
            C("halted_at", "TIMESTAMP", "When the run stopped (UTC).", False),
            C("scope", "VARCHAR", "account, workflow or endpoint (COZE_BASE_URL).", False),
            C("code", "BIGINT", "Coze's code; NULL when only an HTTP status said it."),
            C("http_status", "INTEGER", "HTTP status of the answer."),
            C("message", "VARCHAR", "The line the run ended with.", False),
            C("resume_after", "TIMESTAMP", "Automated runs wait until then (UTC).", False),
        ),
        (),
    ),
    Table(
        "transcript_jobs",
        "One row per accepted transcript submit. The execute_id is stored the moment Coze returns "
        "it, so a crash never causes a second paid submit.",
        (
            C("execute_id", "VARCHAR", "Coze async run id.", False),
            C("video_key", "VARCHAR", "The video transcribed.", False),
            C("workflow_id", "VARCHAR", "Transcript workflow id.", False),
            C("status", "VARCHAR", f"{listed(JobStatus)} (Coze's execute_status).", False),
            C(
                "attempt",
                "INTEGER",
                "1 for the first submit of this video, 2 for the next...",
                False,
            ),
            C("submitted_at", "TIMESTAMP", "When the submit was answered.", False),
            C("finished_at", "TIMESTAMP", "When a terminal status was seen."),
            C("error_code", "BIGINT", "Workflow error_code of a Fail."),
            C("error_message", "VARCHAR", "Workflow error_message of a Fail."),
            C("is_output_trimmed", "BOOLEAN", "Coze cut the stored output (content incomplete)."),
            C("logid", "VARCHAR", "Coze log id of the latest answer."),
            C("debug_url", "VARCHAR", "Coze debug page for the run."),
            C("token_count", "BIGINT", "Tokens the run used."),
            C("poll_count", "INTEGER", "Poll answers received.", False),
            C(
                "run_seconds",
                "DOUBLE",
                "How long Coze ran the finished job (its update_time minus create_time); the "
                "poll schedule learns from it.",
            ),
        ),
        ("execute_id",),
    ),
    Table(
        "videos",
        "One row per resolved video, from its latest successful metadata answer.",
        (
            C("video_key", "VARCHAR", "Warehouse-wide video identity.", False),
            C("platform", "VARCHAR", "Platform of the link."),
            C("video_id", "VARCHAR", "Platform video id when known."),
            C("source_url", "VARCHAR", "URL as found in the link file."),
            C("canonical_url", "VARCHAR", "Canonical, tracking-free URL."),
            C("title", "VARCHAR", "Title with #hashtags and @mentions removed."),
            C("raw_title", "VARCHAR", "Title as the workflow returned it."),
            C("author_nickname", "VARCHAR", "Author's display name."),
            C("author_avatar_url", "VARCHAR", "Author avatar image URL."),
            C("cover_image_url", "VARCHAR", "Cover image (the workflow's `output` field)."),
            C(
                "cover_image_expires_at",
                "TIMESTAMP",
                "Expiry of the signed cover URL, when it carries one.",
            ),
            C("play_url", "VARCHAR", "Video play URL (the workflow's `cover_url` field)."),
            C("play_url_expires_at", "TIMESTAMP", "Expiry of the signed play URL, parsed from it."),
            C("fetched_at", "TIMESTAMP", "When the metadata answer arrived.", False),
        ),
        ("video_key",),
    ),
    Table(
        "video_hashtags",
        "Hashtags of a video's title.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("hashtag", "VARCHAR", "Hashtag without the #.", False),
        ),
        ("video_key", "hashtag"),
    ),
    Table(
        "video_mentions",
        "@mentions in a video's title.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("mention", "VARCHAR", "Mentioned account without the @.", False),
        ),
        ("video_key", "mention"),
    ),
    Table(
        "authors",
        "Authors seen in metadata answers.",
        (
            C("platform", "VARCHAR", "Platform.", False),
            C("nickname", "VARCHAR", "Display name.", False),
            C("avatar_url", "VARCHAR", "Latest avatar URL."),
            C("first_seen_at", "TIMESTAMP", "First metadata answer naming this author.", False),
        ),
        ("platform", "nickname"),
    ),
    Table(
        "transcripts",
        "One row per video with a successful transcript job (the latest one).",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("execute_id", "VARCHAR", "The job that produced it.", False),
            C("title", "VARCHAR", "Title the transcript workflow returned."),
            C("content", "VARCHAR", "The spoken text (文案)."),
            C("char_count", "INTEGER", "Characters in content.", False),
            C(
                "is_trimmed",
                "BOOLEAN",
                "Coze cut the output as too large: content (and title) hold the text before the "
                "cut.",
                False,
            ),
            C("fetched_at", "TIMESTAMP", "When the successful poll answer arrived.", False),
            C(
                "response_id",
                "VARCHAR",
                "The raw_responses answer it was read from: for a trimmed transcript, the output "
                "exactly as Coze cut it.",
            ),
        ),
        ("video_key",),
    ),
    Table(
        "transcript_sentences",
        "Sentences of a transcript, split on Chinese and Western sentence punctuation.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("sentence_no", "INTEGER", "1-based position in the transcript.", False),
            C("text", "VARCHAR", "The sentence as in transcripts.content.", False),
            C(
                "normalized_text",
                "VARCHAR",
                "NFKC-folded, traditional converted to simplified, whitespace and punctuation "
                "cleaned: what tokens and the index are built from.",
                False,
            ),
            C("char_start", "INTEGER", "Offset of the sentence in content (0-based).", False),
            C(
                "char_end",
                "INTEGER",
                "Offset just past its end: content[start:end] is text.",
                False,
            ),
        ),
        ("video_key", "sentence_no"),
    ),
    Table(
        "transcript_tokens",
        "Words of each sentence's normalized text (rjieba, jieba's algorithm); stop words and "
        "punctuation dropped. No primary key: a video's rows are replaced whole, and the key's "
        "index cost text analysis a fifth of its time.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("sentence_no", "INTEGER", "The sentence.", False),
            C("token_no", "INTEGER", "1-based position in the sentence.", False),
            C("token", "VARCHAR", "The word, lower-cased.", False),
            C("pos", "VARCHAR", "jieba part-of-speech tag (n, v, nz, eng, …)."),
        ),
        (),
    ),
    Table(
        "video_keywords",
        "Top keywords of a video by TF-IDF over the whole corpus (tokens of 2+ characters).",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("keyword", "VARCHAR", "The token.", False),
            C("score", "DOUBLE", "Term frequency in the transcript × smoothed IDF.", False),
        ),
        ("video_key", "keyword"),
    ),
    Table(
        "search_documents",
        "What the BM25 index (DuckDB fts, macro search_videos) covers: one document per video.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("title", "VARCHAR", "Title shown with a hit."),
            C("author", "VARCHAR", "Author shown with a hit."),
            C("body", "VARCHAR", "Segmented title and transcript, words joined by spaces.", False),
        ),
        ("video_key",),
    ),
    Table(
        "text_state",
        "Bookkeeping of the incremental text analysis: what each video was segmented from.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C(
                "content_hash",
                "VARCHAR",
                "md5 of the segmenter's fingerprint (user dictionary, stop words, rjieba and "
                "OpenCC versions), title, author and transcript; a different digest now means "
                "segment again.",
                False,
            ),
        ),
        ("video_key",),
    ),
    Table(
        "token_documents",
        "Bookkeeping of keyword scoring: in how many transcripts each keyword token occurs.",
        (
            C("token", "VARCHAR", "The token.", False),
            C("docs", "INTEGER", "Transcripts using it.", False),
        ),
        ("token",),
    ),
    Table(
        "keyword_refresh",
        "Bookkeeping of keyword scoring, one row: the last full refresh and changes since.",
        (
            C("documents", "INTEGER", "Transcripts with keywords at the last full refresh.", False),
            C("changed_since", "INTEGER", "Transcripts re-scored incrementally since.", False),
        ),
        (),
    ),
)

LINK_STATUS_VIEW = """
CREATE OR REPLACE VIEW link_status AS
WITH keys AS (
    SELECT video_key, min(url) AS url, min(platform) AS platform, bool_or(listed) AS listed
    FROM links WHERE error IS NULL GROUP BY video_key
)
SELECT
    k.video_key,
    k.url,
    k.platform,
    CASE m.status WHEN 'ok' THEN 'ok' WHEN 'failed' THEN 'failed' ELSE 'pending' END
        AS metadata_status,
    CASE WHEN m.status <> 'ok' THEN m.error_message END AS metadata_error,
    CASE
        WHEN t.status = 'ok' THEN 'ok'
        WHEN t.status = 'failed' OR m.status = 'failed' THEN 'failed'
        WHEN t.status = 'uncertain' THEN 'uncertain'
        ELSE 'pending'
    END AS transcript_status,
    CASE
        WHEN t.status <> 'ok' THEN t.error_message
        WHEN m.status = 'failed' THEN 'no metadata'
    END AS transcript_error,
    k.listed
FROM keys k
LEFT JOIN item_state m ON m.video_key = k.video_key AND m.step = 'metadata'
LEFT JOIN item_state t ON t.video_key = k.video_key AND t.step = 'transcript'
"""


@dataclass(frozen=True)
class View:
    name: str
    doc: str
    sql: str
    columns: tuple[Column, ...]


VIEWS: tuple[View, ...] = (
    View(
        "link_status",
        "One row per distinct video_key of the valid links: what happened to it. Statuses are "
        "ok, failed or pending; a trimmed transcript counts as ok (see transcripts.is_trimmed).",
        LINK_STATUS_VIEW,
        (
            C("video_key", "VARCHAR", "The video."),
            C("url", "VARCHAR", "A URL that named it."),
            C("platform", "VARCHAR", "Platform."),
            C("metadata_status", "VARCHAR", f"{listed(LinkStatus)}, never `uncertain`."),
            C("metadata_error", "VARCHAR", "Why metadata is not ok."),
            C(
                "transcript_status",
                "VARCHAR",
                f"{listed(LinkStatus)} (`uncertain`: a submit may have started a paid job "
                "whose answer was lost; `python -m pipeline run --resubmit-uncertain` pays "
                "again).",
            ),
            C("transcript_error", "VARCHAR", "Why the transcript is not ok."),
            C(
                "listed",
                "BOOLEAN",
                "Whether a link file lists it now; false when its lines were removed after its "
                "transcript job was paid for (the job is still polled).",
            ),
        ),
    ),
    View(
        "keyword_stats",
        "Corpus-level keyword counts.",
        "CREATE OR REPLACE VIEW keyword_stats AS "
        "SELECT keyword, count(*) AS videos, round(avg(score), 4) AS mean_score "
        "FROM video_keywords GROUP BY keyword",
        (
            C("keyword", "VARCHAR", "The keyword."),
            C("videos", "BIGINT", "Videos having it among their top keywords."),
            C("mean_score", "DOUBLE", "Its mean TF-IDF score there."),
        ),
    ),
    View(
        "hashtag_stats",
        "Corpus-level hashtag counts.",
        "CREATE OR REPLACE VIEW hashtag_stats AS "
        "SELECT h.hashtag, count(*) AS videos, min(v.fetched_at) AS first_seen, "
        "max(v.fetched_at) AS last_seen "
        "FROM video_hashtags h JOIN videos v USING (video_key) GROUP BY h.hashtag",
        (
            C("hashtag", "VARCHAR", "The hashtag, without the #."),
            C("videos", "BIGINT", "Videos whose title carries it."),
            C("first_seen", "TIMESTAMP", "Earliest fetch of such a video."),
            C("last_seen", "TIMESTAMP", "Latest fetch of such a video."),
        ),
    ),
)

# What `rebuild` never rewrites: answers and link files come from outside, halts from Coze's
# refusals. Every other table is derived from these and can be dropped and recomputed.
SOURCE_TABLES = ("links", "raw_responses", "service_halts")
SCHEMA_BY_NAME: dict[str, Table | View] = {item.name: item for item in (*TABLES, *VIEWS)}


def column_names(name: str) -> set[str]:
    """The columns of a table or view, as declared here (tests hold the live file to them)."""
    return {column.name for column in SCHEMA_BY_NAME[name].columns}


# Where DuckDB's fts keeps the BM25 index of search_documents (pipeline.text.analysis).
FTS_SCHEMA = "fts_main_search_documents"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS raw_responses_video ON raw_responses (video_key, kind)",
    "CREATE INDEX IF NOT EXISTS transcript_jobs_video ON transcript_jobs (video_key)",
    "CREATE INDEX IF NOT EXISTS links_video ON links (video_key)",
)


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default database is a DuckLake (no keys, indexes or fts)."""
    row = conn.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0] == "ducklake")


def create_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Idempotent, so every writer can call it on open."""
    _drop_token_key(conn)
    _add_listed(conn)
    with transaction(conn):  # a reader of a new lake sees all the tables or none
        create_objects(conn)
    _add_seq(conn)
    conn.execute("ALTER TABLE transcript_jobs ADD COLUMN IF NOT EXISTS run_seconds DOUBLE")
    conn.execute("ALTER TABLE transcripts ADD COLUMN IF NOT EXISTS response_id VARCHAR")


def create_objects(conn: duckdb.DuckDBPyConnection) -> None:
    """Every missing table and index, and every view as this release defines it; runs inside
    the caller's transaction, if any. A lake has no keys and no indexes."""
    lake = is_lake(conn)
    for table in TABLES:
        conn.execute(table.ddl(keyed=not lake))
    if not lake:
        for statement in INDEXES:
            conn.execute(statement)
    for view in VIEWS:
        conn.execute(view.sql)


def _drop_token_key(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made when `transcript_tokens` had a primary key lose the table (DuckDB cannot
    drop a key) and their text digests, so the next text analysis fills it again; it is
    derived, and the segmenter's change re-segments every transcript anyway."""
    keyed = conn.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'transcript_tokens' "
        "AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    if keyed and keyed[0]:
        with transaction(conn):
            conn.execute("DROP TABLE transcript_tokens")
            conn.execute("DELETE FROM text_state")


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The live table's columns; none when it does not exist yet."""
    rows = conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def _add_listed(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before `links.listed` get it once, before the views that read it: every
    line they hold was listed, in one transaction, so no line is ever seen unlisted by mistake.
    DuckDB alters no table with an index on it (`create_objects` makes it again); a lake cannot
    make an existing column NOT NULL, so there only new lakes have the constraint."""
    columns = _columns(conn, "links")
    if not columns or "listed" in columns:
        return
    conn.execute("DROP INDEX IF EXISTS links_video")
    with transaction(conn):
        conn.execute("ALTER TABLE links ADD COLUMN listed BOOLEAN")
        conn.execute("UPDATE links SET listed = true")
    if not is_lake(conn):
        conn.execute("ALTER TABLE links ALTER COLUMN listed SET NOT NULL")


def _add_seq(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before `raw_responses.seq` get it once, numbered by received_at: the only
    order they kept."""
    if "seq" in _columns(conn, "raw_responses"):
        return
    with transaction(conn):
        conn.execute("ALTER TABLE raw_responses ADD COLUMN IF NOT EXISTS seq BIGINT")
        conn.execute(
            "UPDATE raw_responses SET seq = n.seq FROM (SELECT response_id, row_number() OVER "
            "(ORDER BY received_at, response_id) AS seq FROM raw_responses) n "
            "WHERE raw_responses.response_id = n.response_id"
        )


def schema_markdown() -> str:
    lines = [
        "# Warehouse schema",
        "",
        "Generated from `pipeline/warehouse/schema.py` by `python -m pipeline schema-doc`; "
        "a test checks it against the live database.",
        "",
    ]
    for table in TABLES:
        lines += [
            f"## `{table.name}`",
            "",
            table.doc,
            "",
        ]
        if table.primary_key:
            lines += [f"Primary key: `{', '.join(table.primary_key)}`", ""]
        lines += ["| column | type | null | meaning |", "|---|---|---|---|"]
        for col in table.columns:
            null = "" if col.nullable and col.name not in table.primary_key else "not null"
            lines.append(f"| `{col.name}` | {col.type} | {null} | {col.doc} |")
        lines.append("")
    for view in VIEWS:
        lines += [f"## `{view.name}` (view)", "", view.doc, ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in view.columns]
        lines.append("")
    return "\n".join(lines)
