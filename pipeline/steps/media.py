"""Saving a batch's media while its Coze calls run.

A play URL lives one to three hours; a big batch's Coze step lives longer. So each file is
fetched the moment the metadata answer naming it is recorded, not after the step. Downloads run
in a thread with an event loop of their own: they go to the media hosts (a connection limit per
host, `PIPELINE_MEDIA_CONNECTIONS`), never through the Coze rate limit, and neither loop waits
on the other's work. Rows are committed every few seconds and when the step ends
(`pipeline.storage.media_rows`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

from pipeline.coze.models import MetadataResult
from pipeline.media.content import Kind
from pipeline.media.download import Downloader, Limits
from pipeline.media.files import MediaFile, media_urls, settle, wanted_files
from pipeline.media.store import MediaStore
from pipeline.status import MediaStatus
from pipeline.storage.media_rows import MediaRecorder

Logger = logging.Logger | logging.LoggerAdapter
COMMIT_EVERY_SECONDS = 5.0
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class MediaFetcher:
    """`with` it around the Coze calls; `offer` files from any thread."""

    def __init__(
        self,
        store: MediaStore,
        limits: Limits,
        recorder: MediaRecorder,
        log: Logger,
        *,
        kinds: Sequence[Kind],
        saved: Mapping[str, Collection[str]] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`saved`: the kinds each video has in the store already, which a refreshed answer
        (one `--refresh-expired` paid for) does not fetch again."""
        self.store = store
        self.kinds = tuple(kinds)
        self.saved = saved or {}
        self.limits = limits
        self.recorder = recorder
        self.log = log
        self.clock = clock
        self.settled: Counter[MediaStatus] = Counter()
        self.saved_bytes = 0
        self.offered = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="media", daemon=True)
        self._downloader: Downloader | None = None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> MediaFetcher:
        self._thread.start()
        self._downloader = self._call(self._open())
        asyncio.run_coroutine_threadsafe(self._commit_now_and_then(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        """Every offered file settled (or the step is failing: then what is settled), the rows
        committed, the thread ended."""
        try:
            if exc[0] is None:
                self.wait()
        finally:
            self._call(self._cancel_the_rest())
            if self._downloader is not None:
                self._call(self._downloader.__aexit__(None, None, None))
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self.recorder.flush(wait=True)

    def offer_answer(self, video_key: str, answer: MetadataResult) -> None:
        """The wanted files a metadata answer names, at once."""
        urls = media_urls(answer.cover_image_url, answer.avatar_url, answer.play_url)
        files = wanted_files(video_key, urls, self.kinds, self.clock())
        self.offer(f for f in files if f.kind not in self.saved.get(video_key, ()))

    def offer(self, files: Iterable[MediaFile]) -> None:
        """Record the files (pending, or expired already) and fetch the pending ones."""
        files = list(files)
        self.recorder.add(files)
        for file in files:
            if file.status != MediaStatus.PENDING:
                with self._lock:
                    self.settled[file.status] += 1
                continue
            future = asyncio.run_coroutine_threadsafe(self._fetch(file), self._loop)
            with self._lock:
                self.offered += 1
                self._pending.add(future)
            future.add_done_callback(self._done)

    def wait(self) -> None:
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                future.result()

    def summary(self) -> str:
        counts = ", ".join(f"{count} {status}" for status, count in sorted(self.settled.items()))
        return f"media: {counts or 'nothing to fetch'}; {self.saved_bytes:,} bytes saved"

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open(self) -> Downloader:
        return await Downloader(self.store, self.limits, clock=self.clock).__aenter__()

    async def _fetch(self, file: MediaFile) -> None:
        assert self._downloader is not None
        outcome = await self._downloader.fetch(file.url, file.kind, file.key)
        settled = settle(file, outcome, self.clock())
        self.recorder.add([settled])
        with self._lock:
            self.settled[settled.status] += 1
            if settled.status == MediaStatus.OK:
                self.saved_bytes += settled.bytes or 0
        if settled.status in (MediaStatus.FAILED, MediaStatus.EXPIRED):
            self.log.warning(
                "media: %s of %s %s: %s", file.kind, file.video_key, settled.status, settled.error
            )

    async def _cancel_the_rest(self) -> None:
        """The committer, and downloads a failing step leaves (their partial files stay for
        the next run), each ended and its file closed."""
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _commit_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(COMMIT_EVERY_SECONDS)
            await asyncio.to_thread(self.recorder.flush, wait=False)
