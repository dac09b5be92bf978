"""The media fetcher beside a step: every offered file settled and recorded when the step ends
well; when it fails, it ends at once, keeps what a download had, and records the rest pending."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.media.download import Limits
from pipeline.media.files import wanted_files
from pipeline.media.store import FolderStore
from pipeline.schema.migrations import create_schema
from pipeline.steps.media import MediaFetcher
from pipeline.storage.location import Warehouse
from pipeline.storage.media_rows import MediaRecorder
from tests.media.test_download import answer

LOG = logging.getLogger("tests.media")


@pytest.fixture
def trickle() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(EmulatorConfig(profile="fast")) as process:
        yield process


def fetcher(tmp_path: Path) -> tuple[MediaFetcher, Path]:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        create_schema(conn)
    recorder = MediaRecorder(Warehouse(db), lock_wait_seconds=5, logger=LOG)
    store = FolderStore(tmp_path / "media")
    return MediaFetcher(store, Limits(), recorder, LOG, kinds=("cover", "video")), db


def rows(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return dict(conn.execute("SELECT kind, status FROM media_files").fetchall())


def test_a_step_that_ends_well_waits_for_every_file(
    trickle: EmulatorProcess, tmp_path: Path
) -> None:
    media, db = fetcher(tmp_path)
    urls = answer(trickle, "https://v.douyin.com/ok1/")
    with media:
        media.offer(wanted_files("douyin:1", urls, ("cover", "video"), datetime.now(UTC)))
    assert rows(db) == {"cover": "ok", "video": "ok"}
    assert "2 ok" in media.summary()


def test_a_failing_step_ends_at_once_and_leaves_the_downloads_pending(
    trickle: EmulatorProcess, tmp_path: Path
) -> None:
    trickle.set_faults(media_trickle=0.01)  # a file of kilobytes takes minutes
    media, db = fetcher(tmp_path)
    urls = answer(trickle, "https://v.douyin.com/slow1/")
    with pytest.raises(RuntimeError, match="the Coze step failed"), media:
        media.offer(wanted_files("douyin:1", urls, ("cover", "video"), datetime.now(UTC)))
        while not any((tmp_path / "media" / ".partial").glob("*.part")):
            time.sleep(0.05)
        raise RuntimeError("the Coze step failed")
    assert rows(db) == {"cover": "pending", "video": "pending"}, "it did not wait for them"
    assert any(p.stat().st_size for p in (tmp_path / "media" / ".partial").glob("*.part"))
