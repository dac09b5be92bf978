"""Whatever people paste, and whatever the service answers, fails one line or one item at most.

Link files carry NUL bytes, invalid UTF-8, GBK, CRLF, a BOM, a 10 MB line, 100,000 duplicates
and SQL; answers carry `data: null`, wrong types, no `output` and a 10 MB transcript (see the
emulator's poison inputs). Every line is stored literally and the run still succeeds.
"""

from __future__ import annotations

import codecs

import dagster as dg

from tests.pipeline.helpers import Project

NUL_LINE = "零\x00字节 https://www.douyin.com/video/7800000000000000001"
SQL_LINE = "'); drop table videos; -- https://www.douyin.com/video/7800000000000000003"
HUGE_LINE = "长" * 10_000_000 + " https://www.douyin.com/video/7800000000000000004"
GBK_LINES = ["【国标编码-哔哩哔哩】 https://b23.tv/gbk0001", "抖音 https://v.douyin.com/gbk0002/"]
DUPLICATE = "重复 https://www.douyin.com/video/7800000000000000006 复制此链接"
POISON = {
    "https://www.douyin.com/video/7800000000000000011 /poison/data-null/": "metadata",
    "https://www.douyin.com/video/7800000000000000012 /poison/wrong-types/": "metadata",
    "https://v.douyin.com/poison/no-output/": "transcript",
    "https://v.douyin.com/poison/huge/": "transcript",
}


def _write(project: Project, name: str, data: bytes) -> str:
    project.links_dir.mkdir(parents=True, exist_ok=True)
    (project.links_dir / name).write_bytes(data)
    return name


def test_hostile_link_files(project: Project, instance: dg.DagsterInstance) -> None:
    mixed = (
        codecs.BOM_UTF8
        + "\r\n".join(["https://www.douyin.com/video/7800000000000000000", NUL_LINE]).encode()
        + b"\r\n\xff\xfe\xc3 https://www.douyin.com/video/7800000000000000002\r\n"
        + SQL_LINE.encode()
        + b"\r\n"
    )
    batches = [
        _write(project, "mixed.txt", mixed),
        _write(project, "gbk.txt", "\n".join(GBK_LINES).encode("gbk")),
        _write(project, "huge.txt", HUGE_LINE.encode()),
        _write(project, "dupes.txt", (DUPLICATE + "\n").encode() * 100_000),
    ]
    assert project.run(instance, *batches).success

    stored = dict(project.query("SELECT batch || ':' || line_no, raw_text FROM links"))
    assert stored["mixed.txt:1"] == "https://www.douyin.com/video/7800000000000000000"
    assert stored["mixed.txt:2"] == NUL_LINE
    assert (
        stored["mixed.txt:3"]
        == "\ufffd\ufffd\ufffd https://www.douyin.com/video/7800000000000000002"
    )
    assert stored["mixed.txt:4"] == SQL_LINE
    assert [stored["gbk.txt:1"], stored["gbk.txt:2"]] == GBK_LINES
    assert stored["huge.txt:1"] == HUGE_LINE
    assert project.scalar("SELECT count(*) FROM links WHERE batch = 'dupes.txt'") == 100_000
    assert project.scalar("SELECT count(*) FROM links WHERE error IS NOT NULL") == 0

    # Every distinct video resolved once, SQL text included; the 10 MB line went out as its URL.
    assert project.scalar("SELECT count(*) FROM link_status") == 8
    assert project.scalar("SELECT count(*) FROM link_status WHERE transcript_status = 'ok'") == 8
    assert project.emulator.stats()["metadata_calls"] == 8
    assert (
        project.scalar(
            "SELECT max(length(request_input)) FROM raw_responses WHERE kind = 'metadata'"
        )
        < 1000
    )
    assert project.scalar("SELECT count(*) FROM videos") == 8


def test_poison_answers_fail_one_item_each(project: Project, instance: dg.DagsterInstance) -> None:
    healthy = "https://www.douyin.com/video/7800000000000000020"
    batch = project.write_batch("poison.txt", [healthy, *POISON])
    assert project.run(instance, batch).success

    status = {
        url: (m, m_error, t, t_error)
        for url, m, m_error, t, t_error in project.query(
            "SELECT l.raw_text, s.metadata_status, s.metadata_error, s.transcript_status, "
            "s.transcript_error FROM link_status s JOIN links l USING (video_key)"
        )
    }
    assert status[healthy] == ("ok", None, "ok", None)
    for line, step in POISON.items():
        metadata, metadata_error, transcript, transcript_error = status[line]
        assert transcript == "failed", line
        if step == "metadata":
            assert metadata == "failed" and "malformed" in metadata_error.lower(), status[line]
        else:
            assert metadata == "ok", status[line]
            assert "output cannot be read" in transcript_error, status[line]
    assert project.scalar("SELECT count(*) FROM transcripts") == 1
