"""The tables and views derived from the raw layer: normalized videos and transcripts, the text
analysis, and the views people query."""

from __future__ import annotations

from pipeline.schema.declarations import C, Table, View
from pipeline.status import LinkStatus, listed

DERIVED: tuple[Table, ...] = (
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
        "Sentences of a transcript, split on Chinese and Western sentence punctuation. One row "
        "per (video_key, sentence_no), kept so by its writer, which replaces a video's rows "
        "whole: no primary key, whose index every commit's checkpoint would write out whole.",
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
        (),
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
        "Top keywords of a video by TF-IDF over the whole corpus (tokens of 2+ characters). No "
        "primary key: a video's rows are replaced whole, and a full refresh held the key's index "
        "of every row in memory.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("keyword", "VARCHAR", "The token.", False),
            C("score", "DOUBLE", "Term frequency in the transcript × smoothed IDF.", False),
        ),
        (),
    ),
    Table(
        "search_documents",
        "What the BM25 search index (tantivy, `<stem>.search/` beside the warehouse) covers: one "
        "document per video, kept so by its writer (no key, as `transcript_sentences`).",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C("title", "VARCHAR", "Title shown with a hit."),
            C("author", "VARCHAR", "Author shown with a hit."),
            C("body", "VARCHAR", "Segmented title and transcript, words joined by spaces.", False),
        ),
        (),
    ),
    Table(
        "text_state",
        "Bookkeeping of the incremental text analysis: what each video was segmented from; one "
        "row per video, kept so by its writer (no key, as `transcript_sentences`).",
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
        (),
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
    Table(
        "text_unfinished",
        "Bookkeeping of a text analysis under way: videos its committed chunks stored, whose "
        "keywords wait for its end; a run killed before then leaves them here for the next one "
        "to finish. Each video once, kept so by its writer: no key, because emptying a keyed "
        "table costs a second per 40,000 rows.",
        (C("video_key", "VARCHAR", "The video.", False),),
        (),
    ),
    Table(
        "index_unfinished",
        "Bookkeeping of the search index, which commits apart from the warehouse: videos whose "
        "document changed and waits to be written into the index; forgotten only once the "
        "index has committed it, so a crash between the two commits is mended by the next run. "
        "Each video once, kept so by its writer, with no key, as `text_unfinished`.",
        (C("video_key", "VARCHAR", "The video.", False),),
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
