"""Which videos' normalized rows need a rewrite, on the warehouse of a real run."""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg

from pipeline.derive.tables import refresh_normalized, stale_keys
from pipeline.reads import work as queries
from pipeline.storage.db import connect
from tests.pipeline.helpers import Project

LINKS = [f"https://www.douyin.com/video/74{n:017d}" for n in range(4)]


def test_only_videos_whose_sources_moved_on_are_stale(
    project: Project, instance: dg.DagsterInstance
) -> None:
    """After a run every video is current. Then each source moves on for one video: a metadata
    answer newer than its row, another link to it, a newer successful poll answer; exactly
    those are stale, and one refresh makes them current again."""
    batch = project.write_batch("batch.txt", LINKS)
    assert project.run(instance, batch).success
    with connect(project.warehouse) as conn:
        keys = sorted(queries.batch_video_keys(conn, [batch]))
        assert len(keys) == 4 and stale_keys(conn, keys) == []
        newer_metadata, new_link, newer_poll, _ = keys
        conn.execute(
            "UPDATE videos SET fetched_at = fetched_at - INTERVAL 1 HOUR WHERE video_key = ?",
            [newer_metadata],
        )
        conn.execute(
            "INSERT INTO links SELECT * REPLACE ('other.txt' AS batch, "
            "'https://v.douyin.com/aaaa/' AS url) FROM links WHERE video_key = ?",
            [new_link],
        )
        conn.execute(
            "UPDATE transcripts SET response_id = 'older' WHERE video_key = ?", [newer_poll]
        )
        assert sorted(stale_keys(conn, keys)) == [newer_metadata, new_link, newer_poll]
        refreshed = refresh_normalized(conn, stale_keys(conn, keys))
        assert (refreshed.videos, refreshed.transcripts) == (3, 3)
        assert stale_keys(conn, keys) == []
        url = conn.execute("SELECT source_url FROM videos WHERE video_key = ?", [new_link])
        assert url.fetchone() == ("https://v.douyin.com/aaaa/",), "min(url) of its links"


NORMALIZED = ("videos", "video_hashtags", "video_mentions", "authors", "transcripts")


def test_normalizing_in_chunks_gives_the_rows_of_one_pass(
    project: Project, instance: dg.DagsterInstance
) -> None:
    """Seven videos in chunks of two (four chunks, each its own transaction) give exactly the
    rows one pass gives. All seven name one author, each with an avatar of its own, and the
    latest answer is the first chunk's: an avatar chosen chunk by chunk would be the last
    chunk's, not the latest."""
    batch = project.write_batch(
        "batch.txt", [f"https://www.douyin.com/video/73{n:017d}" for n in range(7)]
    )
    assert project.run(instance, batch).success
    with connect(project.warehouse) as conn:
        keys = sorted(queries.batch_video_keys(conn, [batch]))
        answers = conn.execute(
            "SELECT response_id, video_key, body FROM raw_responses WHERE kind = 'metadata'"
        ).fetchall()
        for response_id, key, body in answers:
            outer = json.loads(body)
            data = json.loads(outer["data"])
            data |= {"nickname": "同一个作者", "avatar": f"{data['avatar']}&v={key}"}
            outer["data"] = json.dumps(data, ensure_ascii=False)
            conn.execute(
                "UPDATE raw_responses SET body = ?, received_at = ? WHERE response_id = ?",
                [
                    json.dumps(outer, ensure_ascii=False),
                    datetime(2026, 1, 8 - keys.index(key)),
                    response_id,
                ],
            )

        def tables() -> dict[str, list[tuple]]:
            return {
                t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in NORMALIZED
            }

        def emptied() -> None:
            for table in NORMALIZED:
                conn.execute(f"DELETE FROM {table}")

        emptied()
        one_pass = refresh_normalized(conn, keys)
        expected = tables()
        emptied()
        chunked = refresh_normalized(conn, keys, chunk=2, commit_each_chunk=True)
        assert chunked == one_pass
        assert tables() == expected
        ((avatar, first_seen),) = conn.execute(
            "SELECT avatar_url, first_seen_at FROM authors"
        ).fetchall()
        assert avatar.endswith(f"&v={keys[0]}")
        assert first_seen == datetime(2026, 1, 8 - 6)
