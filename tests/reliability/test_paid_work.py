"""Work the user paid for is never lost, through `python -m pipeline run` over real HTTP to the
emulator: a trimmed output keeps its text, a batch halted by a plan without async runs finishes
after the upgrade, and a line removed from the link file does not orphan its running job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg

from pipeline.emulator import EmulatorProcess, content
from pipeline.reads import work as queries
from pipeline.runs import EXIT_COZE_HALTED, EXIT_OK
from pipeline.storage.db import connect
from tests.reliability.helpers import failed_items, fast, query, run, write_batch
from tests.support import latest_check_results

SHARE = "6.15 03/10 goD:/ 看看这个{n} https://v.douyin.com/p{n:03d}Ab/ 复制此链接，打开Dou音搜索，直接观看视频！"


def share_texts(count: int) -> list[str]:
    return [SHARE.format(n=n) for n in range(count)]


def test_trimmed_outputs_keep_their_text_and_are_counted_everywhere(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, share_texts(32))
    with EmulatorProcess(fast(trim_rate=0.125, seed=3)) as emulator:
        status, output = run(links, emulator, dagster_home)
        stats = emulator.stats()
    assert status == EXIT_OK, output
    jobs = stats["jobs"]
    cut = {eid for eid, job in jobs.items() if job["status"] == "trim"}
    assert len(cut) >= 2, "the seed gives trimmed jobs"
    assert set(stats["submits_per_input"].values()) == {1}, "a trimmed job was submitted again"

    rows = query(
        links,
        "SELECT t.execute_id, t.content, t.title, t.is_trimmed, r.body FROM transcripts t "
        "JOIN raw_responses r USING (response_id)",
    )
    assert len(rows) == len(jobs) == 32, "every billed job has its transcript"
    assert {r[0] for r in rows if r[3]} == cut
    for execute_id, text, title, trimmed, body in rows:
        spoken, whole_title = content.transcript(jobs[execute_id]["input"])
        if not trimmed:
            assert (text, title) == (spoken, whole_title)
            continue
        assert text and spoken.startswith(text), "the text before the cut"
        assert title is None or whole_title.startswith(title)
        assert (text, title) != (spoken, whole_title)
        assert '"is_output_trimmed":true' in body.replace(" ", ""), "the raw answer is kept"

    assert f"transcripts ok: 32  pending: 0  failed: 0  uncertain: 0  trimmed: {len(cut)}" in output
    assert f"{len(cut)} of the transcripts ok were cut by Coze" in output
    assert latest_check_results(dagster_home)["trimmed_transcripts"] is False
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("transcripts"))
    assert event and event.asset_materialization
    assert event.asset_materialization.metadata["trimmed"].value == len(cut)


def test_a_batch_halted_by_a_plan_without_async_runs_finishes_after_the_upgrade(
    tmp_path: Path, dagster_home: Path
) -> None:
    links = write_batch(tmp_path, share_texts(8))
    with EmulatorProcess(fast(async_needs_paid_plan=True)) as emulator:
        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_COZE_HALTED, output
        assert "code 6003" in output.strip().splitlines()[-1]
        assert failed_items(links) == 0
        assert emulator.stats()["submits"] == 0

        emulator.set_faults(async_needs_paid_plan=False)  # the plan upgrade
        status, output = run(links, emulator, dagster_home)
        stats = emulator.stats()
    assert status == EXIT_OK, output
    assert "transcripts ok: 8  pending: 0" in output
    assert Counter(query(links, "SELECT transcript_status FROM link_status")) == {("ok",): 8}
    assert sorted(stats["submits_per_input"].values()) == [1] * 8, "exactly once each"
    assert stats["metadata_calls"] == 8, "no metadata paid twice"
    assert query(links, "SELECT count(*) FROM service_halts") == [(0,)]


def test_lines_removed_from_the_link_file_keep_their_paid_jobs_polled(
    tmp_path: Path, dagster_home: Path
) -> None:
    lines = share_texts(8)
    links = write_batch(tmp_path, lines)
    with EmulatorProcess(fast(hold_jobs=True)) as emulator:
        status, output = run(links, emulator, dagster_home, PIPELINE_POLL_BUDGET="0")
        assert status == EXIT_OK, output
        assert query(links, "SELECT status, count(*) FROM transcript_jobs GROUP BY 1") == [
            ("Running", 8)
        ]

        write_batch(tmp_path, lines[:2] + lines[3:5] + lines[6:7])  # three lines removed
        status, output = run(links, emulator, dagster_home, PIPELINE_POLL_BUDGET="0")
        assert status == EXIT_OK, output
        assert "lines: 5 (0 not usable links)" in output
        assert "3 lines removed from the link file had paid transcript jobs" in output
        assert query(
            links,
            "SELECT listed, transcript_status, count(*) FROM link_status GROUP BY ALL ORDER BY 1",
        ) == [(False, "pending", 3), (True, "pending", 5)]
        assert query(links, "SELECT line_no FROM links WHERE NOT listed ORDER BY 1") == [
            (6,),
            (7,),
            (8,),
        ], "numbered after the file's last line"
        with connect(links.with_suffix(".duckdb"), read_only=True) as conn:
            batch = conn.execute("SELECT DISTINCT batch FROM links").fetchone()[0]
            assert queries.unfinished_batches(conn) == [batch], "the schedule still sees it"

        emulator.set_faults(hold_jobs=False)
        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_OK, output
        assert "transcripts ok: 8  pending: 0" in output
        assert query(links, "SELECT count(*) FROM transcripts") == [(8,)]
        assert query(links, "SELECT count(*) FROM link_status WHERE NOT listed") == [(3,)]

        write_batch(tmp_path, lines)  # written back: listed again, one row per line
        status, output = run(links, emulator, dagster_home)
        assert status == EXIT_OK, output
        assert query(links, "SELECT count(*), bool_and(listed) FROM links") == [(8, True)]
        stats = emulator.stats()
    assert stats["submits"] == 8 and stats["metadata_calls"] == 8, "nothing paid twice"
