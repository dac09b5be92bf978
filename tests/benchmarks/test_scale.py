import json
import subprocess
import sys

import polars as pl
import pytest

from benchmarks.local_scale import generate
from benchmarks.scale import (
    BEGIN,
    DOCS,
    END,
    HEADER,
    measure,
    merged_rows,
    replace_block,
    run_status,
    table_row,
    target_cell,
    write_docs,
)
from pipeline.links import parse_file
from pipeline.settings import PROJECT_ROOT
from tests.benchmarks.helpers import run_smoke

MACHINE = {
    "date": "2026-12-07 17:00 UTC",
    "commit": "abc1234",
    "cpus": 2,
    "ram_gib": 23.4,
    "python": "3.11.7",
    "platform": "Linux 6.18 x86_64",
    "launcher_rss_mib": 15,
    "duckdb_memory": "256MiB",
}


def row(work: str, size: int, rss: int, seconds: float = 1.0, **extras: object) -> dict:
    unit = {"plan": "lines", "links": "lines", "text": "transcripts", "run": "links"}[work]
    figures = {
        "plan": {"lines": 7, "usable_links": 5, "distinct_videos": 4},
        "links": {"lines": 7, "bad_lines": 2, "distinct_videos": 4},
        "text": {
            "transcripts_per_second": 3100,
            "update_seconds": 64.5,
            "segment_transcripts_per_second": 9000,
        },
        "run": {
            "videos": size,
            "transcripts_ok": size,
            "pending": 0,
            "failed": 0,
            "uncertain": 0,
            "requests": 3 * size,
            "sustained_rps": 200.0,
            "http_429": 0,
        },
    }[work]
    return {
        "work": work,
        "size": size,
        "unit": unit,
        "peak_rss_mib": rss,
        "seconds": seconds,
        "load": [2.0, 3.5],
        "date": "2026-12-07",
        "commit": "abc1234",
        **figures,
        **extras,
    }


def test_measures_every_row_in_a_child_and_counts_what_plan_and_links_read(tmp_path) -> None:
    docs_before = DOCS.read_bytes()
    rows = run_smoke("benchmarks.scale")
    assert [(r["work"], r["size"]) for r in rows] == [
        ("plan", 300),
        ("links", 300),
        ("text", 40),
        ("run", 20),
    ]
    for r in rows:
        assert r["benchmark"] == "scale"
        assert r["peak_rss_mib"] > r["launcher_rss_mib"] > 0
        assert r["seconds"] > 0
    plan, links, text, run = rows
    # The benchmark's file is generate()'s, which is deterministic: count it here another way.
    file = tmp_path / "lines.txt"
    generate(file, 300)
    written = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    records = sum(1 for line in written if line and not line.startswith("#"))
    usable = parse_file(file).filter(pl.col("error").is_null())
    assert plan["lines"] == links["lines"] == records
    assert plan["usable_links"] == records - links["bad_lines"] == usable.height
    assert plan["distinct_videos"] == links["distinct_videos"] == usable["video_key"].n_unique()
    assert plan["metadata_calls"] == plan["submits"] == plan["distinct_videos"]
    assert text["stored"] == 40 and text["transcripts_per_second"] > 0
    assert run["lines"] == run["videos"] == run["metadata_ok"] == run["transcripts_ok"] == 20
    assert run["pending"] == run["failed"] == run["uncertain"] == 0
    assert run["submits"] == 20 <= run["polls"]
    assert run["requests"] >= 3 * 20
    assert DOCS.read_bytes() == docs_before


def test_each_child_reports_its_own_peak_not_the_largest_so_far(tmp_path) -> None:
    """A child holding 256 MiB, then one holding nothing: RUSAGE_CHILDREN would give the second
    the first's peak. Launched from a small process, whose own RSS every child counts."""
    script = (
        "import json, sys; from pathlib import Path; from benchmarks.scale import measure; "
        "big = 'b = bytearray(256 * 2**20); b[::4096] = b\"x\" * len(b[::4096])'; "
        "print(json.dumps([measure([sys.executable, '-c', code], Path(sys.argv[1])).peak_rss_mib "
        "for code in (big, 'pass')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    big, small = json.loads(done.stdout)
    assert big >= 256
    assert small < 64


def test_a_failing_child_raises_with_its_error(tmp_path) -> None:
    failing = "import sys; print('boom', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3.*boom"):
        measure([sys.executable, "-c", failing], tmp_path)


@pytest.mark.parametrize(
    ("figures", "verdict"),
    [
        (row("plan", 2_000_000, 383, 10.9), "≤ 1,024 MiB **met**, ≤ 30 s **met**"),
        (row("plan", 2_000_000, 1562, 36.0), "≤ 1,024 MiB **missed**, ≤ 30 s **missed**"),
        (row("text", 200_000, 1453), "≤ 2,048 MiB **met**, ≥ 3,000 /s **met**"),
        (
            row("text", 200_000, 2100, transcripts_per_second=953),
            "≤ 2,048 MiB **missed**, ≥ 3,000 /s **missed**",
        ),
        (row("run", 100_000, 900), "≤ 2,048 MiB **met**"),
        (row("plan", 200_000, 275), ""),
        (row("text", 20_000, 577), ""),
    ],
)
def test_the_issues_targets_stand_beside_the_figures_at_their_sizes(figures, verdict) -> None:
    assert target_cell(figures) == verdict


def test_a_row_has_one_cell_per_header_column() -> None:
    line = table_row(row("links", 2_000_000, 817, 25.6))
    columns = HEADER[0].count("|") - 1
    assert line.count("|") - 1 == columns
    assert line.startswith("| `links` step | 2,000,000 lines | **817 MiB** | 25.6 s | ")
    assert "7 records (2 not usable), 4 videos" in line


def test_new_rows_replace_their_own_and_keep_the_others_in_order() -> None:
    old = "\n".join(
        (
            "Last written by …",
            *HEADER,
            table_row(row("run", 100_000, 1900)),
            table_row(row("plan", 2_000_000, 1562)),
            table_row(row("plan", 200_000, 334)),
        )
    )
    new = [row("text", 20_000, 577), row("plan", 2_000_000, 383)]
    lines = merged_rows(old, new)
    assert [line.split(" | ")[:3] for line in lines] == [
        ["| `plan`", "200,000 lines", "**334 MiB**"],
        ["| `plan`", "2,000,000 lines", "**383 MiB**"],
        ["| text analysis", "20,000 transcripts", "**577 MiB**"],
        ["| whole command", "100,000 links", "**1,900 MiB**"],
    ]


def test_only_the_marked_block_is_replaced() -> None:
    text = f"# B\n\n## 5. x\nkeep\n\n## 6. y\n{BEGIN}\nold\n{END}\nafter\n"
    assert (
        replace_block(text, "\nnew\n")
        == f"# B\n\n## 5. x\nkeep\n\n## 6. y\n{BEGIN}\nnew\n{END}\nafter\n"
    )
    with pytest.raises(ValueError, match="scale:begin"):
        replace_block("# B\n", "new")


def test_writing_twice_gives_the_same_file_and_keeps_the_other_sections(tmp_path) -> None:
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text(f"# B\n\n## 5. x\nkeep\n\n## 6. y\n{BEGIN}\n{END}\nafter\n", encoding="utf-8")
    rows = [row("plan", 200_000, 275, 3.1), row("run", 10_000, 512, 80.0)]
    write_docs(docs, rows, "python -m benchmarks.scale --run-links 10000", MACHINE)
    once = docs.read_text(encoding="utf-8")
    write_docs(docs, rows, "python -m benchmarks.scale --run-links 10000", MACHINE)
    assert docs.read_text(encoding="utf-8") == once
    assert once.startswith("# B\n\n## 5. x\nkeep\n\n## 6. y\n") and once.endswith(f"{END}\nafter\n")
    words = " ".join(once.split())
    assert "`python -m benchmarks.scale --run-links 10000`" in words
    assert "2 cores, 23.4 GiB RAM" in words and "abc1234" in words
    assert "DuckDB's memory cap (PIPELINE_DUCKDB_MEMORY) 256MiB." in words
    assert once.count("| `plan` |") == once.count("| whole command |") == 1


def test_the_runs_summary_gives_what_is_left_undone() -> None:
    printed = (
        "Warehouse w.duckdb, batch links-10\n"
        "  lines: 10 (0 not usable links)\n"
        "  videos: 10  metadata ok: 10  transcripts ok: 8  pending: 1  failed: 0  uncertain: 1  "
        "trimmed: 0\n"
        "  media: 20 files saved (2,048 bytes, 20 distinct) in m; pending: 0  expired: 0  failed: 0"
    )
    status = run_status(printed)
    assert status == {
        "lines": 10,
        "videos": 10,
        "metadata_ok": 10,
        "transcripts_ok": 8,
        "pending": 1,
        "failed": 0,
        "uncertain": 1,
        "trimmed": 0,
    }
    figures = row("run", 10, 700) | status
    assert "8 transcripts ok of 10 videos (1 pending, 1 uncertain), 30 requests" in table_row(
        figures
    )
