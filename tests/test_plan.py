"""`python -m pipeline plan`: the call count of a batch, read from a real warehouse, no API.

The warehouse is built with the pipeline's own schema and filled by SQL with one video in each
state the plan distinguishes; the link file repeats videos and holds lines that are no link.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.plan import LinkCounts, VideoFacts, WarehouseView, make_plan, render_text
from pipeline.status import ItemStatus
from pipeline.storage.db import connect

T0 = datetime(2025, 1, 1, 12, 0, 0)
NUMBER = re.compile(r"^  \D+? (\d+)(?:  \S|$)")


def key(n: int) -> str:
    return f"douyin:74000000000000000{n:02d}"


def url(n: int) -> str:
    return f"https://www.douyin.com/video/74000000000000000{n:02d}"


# The batch's videos, by what the warehouse knows of them: (metadata, transcript) status.
DONE, RUNNING, UNCERTAIN, T_RETRY, T_FAILED, M_FAILED, M_RETRY, NEW1, NEW2, META_ONLY = range(1, 11)
STATES: dict[int, tuple[str | None, str | None]] = {
    DONE: ("ok", "ok"),
    RUNNING: ("ok", "running"),
    UNCERTAIN: ("ok", "uncertain"),
    T_RETRY: ("ok", "retry"),
    T_FAILED: ("ok", "failed"),
    M_FAILED: ("failed", None),
    M_RETRY: ("retry", None),
    NEW1: (None, None),
    NEW2: (None, None),
    META_ONLY: ("ok", None),
}
# Not in the link file: its running job and retryable metadata must not be counted.
OTHER = 50
FILLER = 60  # videos 60.. carry finished jobs only, for the polls-per-job mean

LINK_LINES = [
    "# a batch for the plan test",
    f"第一个 {url(DONE)} 复制此链接",
    url(RUNNING),
    "",
    url(UNCERTAIN),
    url(T_RETRY),
    "这一行没有链接，只是笔记",
    url(T_FAILED),
    url(M_FAILED),
    url(M_RETRY),
    url(NEW1),
    f"again {url(NEW1)}",
    "ftp://example.com/video.mp4",
    url(NEW2),
    url(META_ONLY),
    url(DONE),
    url(NEW1),
]


def _job(
    conn: Any, execute_id: str, video: int, status: str, polls: int, finished: bool = True
) -> None:
    conn.execute(
        "INSERT INTO transcript_jobs (execute_id, video_key, workflow_id, status, attempt, "
        "submitted_at, finished_at, poll_count) VALUES (?, ?, 'wf', ?, 1, ?, ?, ?)",
        [execute_id, key(video), status, T0, T0 if finished else None, polls],
    )


def add_finished_jobs(db: Path, polls: list[int]) -> None:
    """Finished jobs of videos outside the batch: only the polls-per-job mean sees them."""
    with connect(db) as conn:
        start = conn.execute(
            "SELECT count(*) FROM transcript_jobs WHERE execute_id LIKE 'filler-%'"
        ).fetchone()[0]
        for i, count in enumerate(polls, start=start):
            _job(conn, f"filler-{i}", FILLER + i, "Success", count)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIPELINE_DB", "PIPELINE_MAX_CALLS", "PIPELINE_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def links_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.txt"
    path.write_text("\n".join(LINK_LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:  # the writing connect creates the pipeline's schema
        for line_no, n in enumerate([*STATES, OTHER], start=1):
            batch = "other.txt" if n == OTHER else "batch.txt"
            conn.execute(
                "INSERT INTO links (batch, line_no, raw_text, url, platform, video_id, "
                "canonical_url, video_key, error, loaded_at, listed) "
                "VALUES (?, ?, ?, ?, 'douyin', ?, ?, ?, NULL, ?, true)",
                [batch, line_no, url(n), url(n), key(n).split(":")[1], url(n), key(n), T0],
            )
        for n, steps in [*STATES.items(), (OTHER, ("retry", "running"))]:
            for step, status in zip(("metadata", "transcript"), steps, strict=True):
                if status is not None:
                    conn.execute(
                        "INSERT INTO item_state (video_key, step, status, attempts, updated_at) "
                        "VALUES (?, ?, ?, 1, ?)",
                        [key(n), step, status, T0],
                    )
        _job(conn, "job-done", DONE, "Success", 3)
        _job(conn, "job-failed", T_FAILED, "Fail", 1)
        _job(conn, "job-running", RUNNING, "Running", 5, finished=False)
        _job(conn, "job-other", OTHER, "Running", 4, finished=False)
        # An earlier job of the retried video, failed: finished, but the video needs a submit.
        _job(conn, "job-retry-1", T_RETRY, "Fail", 2)
    yield db


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["plan", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def plan_text(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["plan", *args]) == 0
    return capsys.readouterr().out.splitlines()


def squeezed(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_number_of_a_batch_against_the_warehouse(
    links_file: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(warehouse)
    result = plan_json(capsys, "--links", str(links_file), "--db", str(warehouse))
    assert result == {
        "links_file": str(links_file),
        "warehouse": str(warehouse),
        "warehouse_exists": True,
        "lines": 15,  # 17 lines, a blank one and a comment not counted
        "usable_links": 13,
        "distinct_videos": 10,
        "metadata_ok": 6,
        "transcripts_ok": 1,
        "running_jobs": 1,
        "failed_metadata": 1,
        "failed_transcript": 1,
        "uncertain": 1,
        "resubmit_uncertain": False,
        "metadata_calls": 3,
        "metadata_never_tried": 2,
        "metadata_retry": 1,
        "submits": 5,  # T_RETRY; M_RETRY, NEW1, NEW2, META_ONLY never tried
        "submits_never_tried": 4,
        "submits_retry": 1,
        "submits_uncertain": 0,
        "finished_jobs": 3,
        "polls_per_job": 2.0,
        "polls_per_job_source": "default",
        "expected_polls": 12,  # (5 submits + 1 running) x 2.0
        "total_calls": 20,
        "max_calls": None,
        "media_kinds": ["cover", "avatar"],
        "media_files": 18,  # the 3 videos called and the 6 resolved before media: 2 files each
        "media_expired": 0,
        "refresh_expired": False,
        "metadata_refresh": 0,
        "fits": None,
    }
    assert digest(warehouse) == before  # read only: the file is byte for byte the same
    assert not warehouse.with_name(warehouse.name + ".wal").exists()


def test_the_text_is_aligned_and_says_the_same(
    links_file: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = plan_text(capsys, "--links", str(links_file), "--db", str(warehouse))
    assert lines[0] == "plan for batch.txt (no API call made)"
    text = squeezed(lines)
    assert "usable links 13 2 not usable" in text
    assert "distinct videos 10 a video on many lines is called once" in text
    assert f"already in the warehouse ({warehouse})" in text
    assert "running jobs 1 will only be polled" in text
    assert "failed for good 2 metadata 1, transcript 1" in text
    assert "uncertain 1 not resubmitted (add --resubmit-uncertain to resubmit)" in text
    assert "metadata calls 3 2 never tried, 1 retry" in text
    assert "transcript submits 5 4 never tried, 1 retry" in text
    assert (
        "expected polls 12 (5 submits + 1 running) × 2.00 polls per job "
        "(default; 3 finished jobs, fewer than 20 to average)" in text
    )
    assert "total API calls 20 if every call succeeds first time" in text
    assert "media files to fetch 18 cover, avatar; from the media hosts, no API call" in text
    assert not any(line.startswith("PIPELINE_MAX_CALLS") for line in lines)
    # Numbers end in one column: the label, spaces, the number right-aligned, then the note.
    numbered = [NUMBER.match(line) for line in lines if line.startswith("  ")]
    assert len(numbered) == 13
    assert all(numbered)
    assert len({m.end(1) for m in numbered if m}) == 1


def test_resubmit_uncertain_adds_the_uncertain_submits(
    links_file: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = plan_json(
        capsys, "--links", str(links_file), "--db", str(warehouse), "--resubmit-uncertain"
    )
    assert result["resubmit_uncertain"] is True
    assert result["uncertain"] == 1
    assert (result["submits"], result["submits_uncertain"]) == (6, 1)
    assert (result["submits_never_tried"], result["submits_retry"]) == (4, 1)
    assert result["metadata_calls"] == 3
    assert result["expected_polls"] == 14  # (6 + 1) x 2.0
    assert result["total_calls"] == 23
    text = squeezed(
        plan_text(
            capsys, "--links", str(links_file), "--db", str(warehouse), "--resubmit-uncertain"
        )
    )
    assert "uncertain 1 resubmitted (--resubmit-uncertain)" in text
    assert "transcript submits 6 4 never tried, 1 retry, 1 uncertain" in text


def test_polls_per_job_is_the_warehouse_mean_from_20_finished_jobs(
    links_file: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--links", str(links_file), "--db", str(warehouse))
    # 3 finished jobs (3 + 1 + 2 polls) and 16 more of 1 poll: 19, still the default.
    add_finished_jobs(warehouse, [1] * 16)
    result = plan_json(capsys, *args)
    assert result["finished_jobs"] == 19
    assert (result["polls_per_job"], result["polls_per_job_source"]) == (2.0, "default")
    assert result["expected_polls"] == 12
    # The 20th: 30 polls over 20 jobs, 1.5 each; the running jobs' polls are not in the mean.
    add_finished_jobs(warehouse, [8])
    result = plan_json(capsys, *args)
    assert result["finished_jobs"] == 20
    assert (result["polls_per_job"], result["polls_per_job_source"]) == (1.5, "warehouse")
    assert result["expected_polls"] == 9  # (5 + 1) x 1.5
    assert result["total_calls"] == 17
    text = squeezed(plan_text(capsys, *args))
    assert (
        "expected polls 9 (5 submits + 1 running) × 1.50 polls per job "
        "(mean of 20 finished jobs)" in text
    )


def test_without_a_warehouse_every_video_is_new(
    links_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none" / "warehouse.duckdb"
    result = plan_json(capsys, "--links", str(links_file), "--db", str(db))
    assert result["warehouse_exists"] is False
    assert (result["lines"], result["usable_links"], result["distinct_videos"]) == (15, 13, 10)
    for name in (
        "metadata_ok",
        "transcripts_ok",
        "running_jobs",
        "failed_metadata",
        "failed_transcript",
        "uncertain",
        "metadata_retry",
        "submits_retry",
        "finished_jobs",
    ):
        assert result[name] == 0, name
    assert (result["metadata_calls"], result["metadata_never_tried"]) == (10, 10)
    assert (result["submits"], result["submits_never_tried"]) == (10, 10)
    assert result["expected_polls"] == 20
    assert result["total_calls"] == 40
    text = squeezed(plan_text(capsys, "--links", str(links_file), "--db", str(db)))
    assert f"no warehouse at {db}: every video is new" in text
    assert "total API calls 40 if every call succeeds first time" in text
    assert not db.parent.exists()  # nothing created


def test_the_default_warehouse_is_pipeline_db(
    links_file: Path,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIPELINE_DB", str(warehouse))
    result = plan_json(capsys, "--links", str(links_file))
    assert result["warehouse"] == str(warehouse)
    assert result["total_calls"] == 20


@pytest.mark.parametrize(
    ("limit", "fits", "last_line"),
    [
        ("20", True, "PIPELINE_MAX_CALLS=20: this batch needs about 20; it fits"),
        (
            "19",
            False,
            "PIPELINE_MAX_CALLS=19: this batch needs about 20; a run stops cleanly at 19 "
            "and leaves the rest pending",
        ),
    ],
)
def test_max_calls_says_whether_the_batch_fits(
    links_file: Path,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    limit: str,
    fits: bool,
    last_line: str,
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_CALLS", limit)
    args = ("--links", str(links_file), "--db", str(warehouse))
    result = plan_json(capsys, *args)
    assert (result["max_calls"], result["fits"]) == (int(limit), fits)
    assert plan_text(capsys, *args)[-1] == last_line


def test_an_unusable_max_calls_is_named_and_exits_2(
    links_file: Path,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_CALLS", "0")
    assert main(["plan", "--links", str(links_file), "--db", str(warehouse)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "PIPELINE_MAX_CALLS must be a whole number >= 1, got '0'"
    assert captured.out == ""


def test_a_missing_link_file_is_named_and_exits_2(
    tmp_path: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    assert main(["plan", "--links", str(missing), "--db", str(warehouse)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"no link file at {missing}"
    assert captured.out == ""


def test_expected_polls_round_up_without_float_noise() -> None:
    links = LinkCounts(lines=25, usable=25, distinct=25)
    # 44 polls over 20 jobs is 2.2 a job; 25 jobs x 2.2 is 55.00000000000001 in floats.
    plan = make_plan(links, WarehouseView({}, 0, 20, 44))
    assert (plan.submits, plan.polls_per_job, plan.expected_polls) == (25, 2.2, 55)
    # A fraction of a poll is still a call: 26 x 2.2 = 57.2.
    plan = make_plan(links, WarehouseView({}, 1, 20, 44))
    assert plan.expected_polls == 58


def test_media_files_to_fetch_and_the_paid_refresh_of_expired_links() -> None:
    # Five videos: new (unknown to the warehouse), resolved, expired, saved, failed.
    links = LinkCounts(lines=5, usable=5, distinct=5)
    ok = ItemStatus.OK
    view = WarehouseView(
        videos={
            VideoFacts(
                ok, ok, (("cover", "pending"),)
            ): 1,  # the avatar never recorded: fetched too
            VideoFacts(ok, ok, (("avatar", "ok"), ("cover", "expired"))): 1,
            VideoFacts(ok, ok, (("avatar", "ok"), ("cover", "ok"))): 1,
            VideoFacts(ItemStatus.FAILED): 1,
        },
        running_jobs=0,
        finished_jobs=0,
        finished_polls=0,
    )
    kinds = ("cover", "avatar")
    plain = make_plan(links, view, media_kinds=kinds)
    assert (plain.media_files, plain.media_expired, plain.metadata_calls) == (2 + 2, 1, 1)
    assert plain.metadata_refresh == 0 and "--refresh-expired" in render_text(
        plain, Path("b.txt"), "w.duckdb", True
    )
    refreshed = make_plan(links, view, media_kinds=kinds, refresh_expired=True)
    assert refreshed.metadata_refresh == 1 and refreshed.metadata_calls == 2
    assert refreshed.media_files == plain.media_files + 1, "the expired cover, not the saved avatar"
    assert refreshed.total_calls == plain.total_calls + 1
    assert make_plan(links, view).media_files == 0, "PIPELINE_MEDIA=none"
