"""`media_files` rows as downloads settle them: held briefly, committed in short transactions.

Unlike an API answer, a row lost to a crash costs nothing paid: the next run finds the file's
video again (`pipeline.reads.work.media_todo`), resumes its partial download, and the store
keeps one copy of any bytes it already has. So rows wait in memory for the next commit (every
few seconds, and at the end of the step) instead of going through the spool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict

from pipeline.media.files import MediaFile
from pipeline.storage.db import connect
from pipeline.storage.frames import frame, upsert
from pipeline.storage.location import Warehouse
from pipeline.storage.recorder import COMMIT_FAILURES, COMMITS, naive


class MediaRecorder:
    def __init__(
        self,
        warehouse: Warehouse,
        *,
        lock_wait_seconds: float,
        logger: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        self.warehouse = warehouse
        self.lock_wait_seconds = lock_wait_seconds
        self.log = logger
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], MediaFile] = {}

    def add(self, files: Iterable[MediaFile]) -> None:
        """Thread-safe; a later row of the same file replaces an earlier one not yet committed."""
        with self._lock:
            for file in files:
                self._rows[(file.video_key, file.kind)] = file

    def flush(self, *, wait: bool) -> bool:
        """Commit what is held. Without `wait`, a locked warehouse just means later."""
        with COMMITS:
            with self._lock:
                rows, self._rows = self._rows, {}
            if not rows:
                return True
            try:
                with connect(
                    self.warehouse,
                    wait_seconds=self.lock_wait_seconds if wait else 0.0,
                    logger=self.log,
                ) as conn:
                    upsert(conn, "media_files", frame("media_files", _records(rows.values())))
            except COMMIT_FAILURES:
                with self._lock:
                    self._rows = rows | self._rows
                if wait:
                    raise
                return False
        return True


def _records(files: Iterable[MediaFile]) -> list[dict]:
    return [naive(asdict(file)) for file in files]
