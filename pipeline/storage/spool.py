"""A write-ahead file for API answers: each answer is fsynced here before anything else.

DuckDB allows one writing process and a commit can wait on another process's lock; the spool
keeps every paid answer safe meanwhile and across a crash. Each writer process owns its files
through an exclusive `flock`, so recovery only ever takes files whose owner is gone. A process's
files are numbered in the order it opened them, so recovery replays them in that order.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import uuid
from pathlib import Path

from pipeline.answers.raw import RawRow

_opened = itertools.count(1)


class SpoolFile:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"spool-{os.getpid()}-{next(_opened):06d}-{uuid.uuid4().hex[:12]}.jsonl"
        self.path = directory / name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def append(self, row: RawRow) -> None:
        """Unbuffered, so a failed write (a full disk) leaves nothing behind to be written later;
        after one, the caller must not append here again (the line may be torn)."""
        data = memoryview((json.dumps(row.to_json(), ensure_ascii=False) + "\n").encode())
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def discard(self) -> None:
        """Only once every row is committed to DuckDB."""
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


def read_spool(path: Path) -> list[RawRow]:
    """A crash can tear the last line; everything before it is whole."""
    rows: list[RawRow] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                rows.append(RawRow.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                continue
    return rows


def orphaned_spools(directory: Path) -> list[Path]:
    """Spool files whose writer has died (their lock is free)."""
    if not directory.is_dir():
        return []
    orphans: list[Path] = []
    for path in sorted(directory.glob("spool-*.jsonl")):
        try:
            with path.open("a") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        except BlockingIOError:
            continue
        except FileNotFoundError:
            continue
        orphans.append(path)
    return orphans
