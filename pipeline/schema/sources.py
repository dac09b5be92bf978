"""The tables runs write as answers arrive: the links, the raw answers and the state they imply.
Everything else is derived from these and can be rebuilt from them (`python -m pipeline rebuild`)."""

from __future__ import annotations

from pipeline.schema.declarations import C, Table
from pipeline.status import ItemStatus, JobStatus, MediaStatus, Outcome, listed

SOURCE_AND_STATE: tuple[Table, ...] = (
    Table(
        "links",
        "One row per non-skipped input line of a batch (a link file), then one per line since "
        "removed from the file whose video has a paid transcript job (listed false): kept so "
        "the job is still polled and the video stays in link_status. Rewritten whole when the "
        "batch is re-read, so one line per (batch, line_no) without a key: a key's index of "
        "every line of a large file was held in memory until the commit.",
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
        (),
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
            C("scope", "VARCHAR", "account, workflow, endpoint (COZE_BASE_URL) or service.", False),
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
        "media_files",
        "One row per video and kind of file (cover, avatar, video) the run was asked to save "
        "(PIPELINE_MEDIA): its signed URL, and the file as saved in the media store "
        "(PIPELINE_MEDIA_DIR), named by its sha256, so the same bytes are stored once. Written "
        "by the Coze step as the metadata answers arrive; not derived, so `rebuild` keeps it.",
        (
            C("video_key", "VARCHAR", "The video.", False),
            C(
                "kind",
                "VARCHAR",
                "cover (the workflow's `output`), avatar, or video (its `cover_url`).",
                False,
            ),
            C("url", "VARCHAR", "The signed URL of the answer that named the file.", False),
            C("url_expires_at", "TIMESTAMP", "When the URL runs out, read from its shape (UTC)."),
            C(
                "status",
                "VARCHAR",
                f"{listed(MediaStatus)}. `pending`: not fetched yet, or a failure worth another "
                "try; `expired`: the URL ran out before the file was saved (`python -m pipeline "
                "run --refresh-expired` pays for a new one); `failed`: for good for this URL.",
                False,
            ),
            C("sha256", "VARCHAR", "sha256 of the saved bytes (hex)."),
            C("bytes", "BIGINT", "Size of the saved file."),
            C("content_type", "VARCHAR", "Its checked type (image/webp, video/mp4, ...)."),
            C(
                "path",
                "VARCHAR",
                "Where it is, relative to the media store's root: <sha[:2]>/<sha>.<ext>.",
            ),
            C("error", "VARCHAR", "Why the last download failed."),
            C("fetched_at", "TIMESTAMP", "When the file was saved (UTC)."),
            C("attempts", "INTEGER", "Downloads tried for this URL.", False),
        ),
        ("video_key", "kind"),
    ),
    Table(
        "schema_version",
        "The migrations applied to this warehouse (`pipeline/schema/migrations.py`), "
        "one row each: a writer runs only those after the highest.",
        (
            C("version", "INTEGER", "The migration's number.", False),
            C("applied_at", "TIMESTAMP", "When it ran (UTC).", False),
        ),
        (),
    ),
)
