"""The content-addressed media store: a folder, or S3-compatible object storage.

A file is stored as `<sha[:2]>/<sha>.<ext>` (the sha256 of its bytes in hex, the extension from
its checked content type), so the same bytes are stored once and a name says what it holds.
The two-letter folders keep a directory listing short at a million files.

A file appears only complete: downloads are staged in a local folder (`staging`; for a folder
store its hidden `.partial/`, on the same disk), and `put` moves a finished one in with one
`os.replace`, or one object PUT, which S3 makes visible only once whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from pipeline.object_store import ObjectStoreCredentials

PARTIAL_DIR = ".partial"
_CHUNK = 1 << 20


def media_path(sha256: str, extension: str) -> str:
    """Where a file with these bytes lives, relative to the store's root."""
    return f"{sha256[:2]}/{sha256}.{extension}"


class MediaStore(Protocol):
    """What downloads and checks need of a store, whatever holds the files."""

    staging: Path
    """A local folder for partial downloads, never inside the store's own namespace."""

    def exists(self, path: str) -> bool: ...

    def put(self, staged: Path, sha256: str, extension: str) -> str:
        """Move a finished staged file in (or drop it, when the bytes are there already);
        return its path relative to the store's root."""
        ...

    def chunks(self, path: str) -> Iterator[bytes]:
        """A stored file's bytes; FileNotFoundError when it is not there."""
        ...


def sha256_of(store: MediaStore, path: str) -> str:
    """The sha256 of a stored file's bytes, as read back: what `check` compares with its name."""
    digest = hashlib.sha256()
    for chunk in store.chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


class FolderStore:
    """Files under a local folder; partial downloads in its `.partial/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / PARTIAL_DIR

    def __repr__(self) -> str:
        return f"FolderStore({str(self.root)!r})"

    def __str__(self) -> str:
        return str(self.root)

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def put(self, staged: Path, sha256: str, extension: str) -> str:
        path = media_path(sha256, extension)
        target = self.root / path
        if target.is_file():
            staged.unlink()
            return path
        if staged.parent != self.staging:  # elsewhere (another disk maybe): copy in first
            self.staging.mkdir(parents=True, exist_ok=True)
            moved = self.staging / f"{uuid.uuid4().hex}.tmp"
            shutil.copyfile(staged, moved)
            staged.unlink()
            staged = moved
        with staged.open("rb") as file:
            os.fsync(file.fileno())  # the bytes on disk before the name says they are
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return path

    def chunks(self, path: str) -> Iterator[bytes]:
        with (self.root / path).open("rb") as file:
            while chunk := file.read(_CHUNK):
                yield chunk


class BucketStore:
    """Objects under `s3://bucket/prefix/` through obstore; partial downloads in a local folder.

    A file already there is not uploaded again (one HEAD first): a content-addressed object
    never changes, so two writers racing to upload the same bytes both leave the right file."""

    def __init__(self, url: str, credentials: ObjectStoreCredentials | None, staging: Path) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix/ URL: {url!r}")
        self.url = url
        self.staging = staging
        config = (
            {
                "access_key_id": credentials.access_key_id,
                "secret_access_key": credentials.secret_access_key,
                "session_token": credentials.session_token,
                "region": credentials.region,
                "endpoint": credentials.endpoint_url,
            }
            if credentials
            else {}
        )
        endpoint = (credentials.endpoint_url if credentials else None) or ""
        self._store = S3Store(
            parts.netloc,
            prefix=parts.path.strip("/") or None,
            config={k: v for k, v in config.items() if v},  # type: ignore[misc]
            client_options={"allow_http": endpoint.startswith("http://")},
        )

    def __repr__(self) -> str:
        return f"BucketStore({self.url!r})"

    def __str__(self) -> str:
        return self.url

    def exists(self, path: str) -> bool:
        try:
            obstore.head(self._store, path)
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    def put(self, staged: Path, sha256: str, extension: str) -> str:
        path = media_path(sha256, extension)
        if not self.exists(path):
            obstore.put(self._store, path, staged)
        staged.unlink()
        return path

    def chunks(self, path: str) -> Iterator[bytes]:
        try:
            result = obstore.get(self._store, path)
        except (NotFoundError, FileNotFoundError):
            raise FileNotFoundError(f"{self.url.rstrip('/')}/{path}") from None
        for chunk in result.stream(min_chunk_size=_CHUNK):
            yield bytes(chunk)


def open_store(
    location: str | Path,
    *,
    credentials: ObjectStoreCredentials | None = None,
    staging: Path | None = None,
) -> MediaStore:
    """A folder, or `s3://bucket/prefix/` (which needs a local `staging` folder)."""
    if str(location).startswith("s3://"):
        if staging is None:
            raise ValueError("an object store needs a local staging folder for partial files")
        return BucketStore(str(location), credentials, staging)
    return FolderStore(Path(location))
