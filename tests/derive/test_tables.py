"""Which videos' normalized rows need a rewrite, on the warehouse of a real run."""

from __future__ import annotations

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
