"""The store: named by content, each file stored once, only ever complete; a folder and S3 (moto)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.media.store import (
    PARTIAL_DIR,
    BucketStore,
    FolderStore,
    MediaStore,
    media_path,
    open_store,
    sha256_of,
)
from pipeline.object_store import ObjectStoreCredentials
from tests.s3 import BUCKET, object_keys


def stage(store: MediaStore, name: str, data: bytes) -> tuple[Path, str]:
    store.staging.mkdir(parents=True, exist_ok=True)
    staged = store.staging / name
    staged.write_bytes(data)
    return staged, hashlib.sha256(data).hexdigest()


def exercise(store: MediaStore) -> list[str]:
    """What every store must do; returns the stored paths."""
    first, sha = stage(store, "a.part", b"\xff\xd8\xff cover bytes")
    path = store.put(first, sha, "jpg")
    assert path == f"{sha[:2]}/{sha}.jpg" == media_path(sha, "jpg")
    assert store.exists(path) and not first.exists()
    # The same bytes again, from another URL: stored once, the staged copy dropped.
    second, same = stage(store, "b.part", b"\xff\xd8\xff cover bytes")
    assert store.put(second, same, "jpg") == path and not second.exists()
    other, other_sha = stage(store, "c.part", b"\x00\x00\x00\x18ftypisom video")
    other_path = store.put(other, other_sha, "mp4")
    assert sha256_of(store, path) == sha and sha256_of(store, other_path) == other_sha
    assert b"".join(store.chunks(other_path)) == b"\x00\x00\x00\x18ftypisom video"
    assert not store.exists(media_path("0" * 64, "jpg"))
    with pytest.raises(FileNotFoundError):
        sha256_of(store, media_path("0" * 64, "jpg"))
    return sorted([path, other_path])


def test_folder_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "media")
    assert isinstance(store, FolderStore) and store.staging == tmp_path / "media" / PARTIAL_DIR
    paths = exercise(store)
    stored = sorted(
        str(p.relative_to(tmp_path / "media"))
        for p in (tmp_path / "media").rglob("*")
        if p.is_file()
    )
    assert stored == paths  # nothing left in .partial/, no temporary names


def test_folder_store_takes_a_file_staged_elsewhere(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "media")
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"GIF89a")
    sha = hashlib.sha256(b"GIF89a").hexdigest()
    path = store.put(outside, sha, "gif")
    assert (tmp_path / "media" / path).read_bytes() == b"GIF89a" and not outside.exists()
    assert list((tmp_path / "media" / PARTIAL_DIR).iterdir()) == []


def test_bucket_store_on_moto(tmp_path: Path, s3_bucket: dict[str, str]) -> None:
    credentials = ObjectStoreCredentials.from_env(s3_bucket)
    store = open_store(f"s3://{BUCKET}/media/", credentials=credentials, staging=tmp_path / "stage")
    assert isinstance(store, BucketStore)
    paths = exercise(store)
    assert sorted(object_keys(s3_bucket)) == [f"media/{p}" for p in paths]
    assert list(store.staging.iterdir()) == []  # staged files removed once uploaded


def test_a_missing_bucket_is_an_error(tmp_path: Path, s3_bucket: dict[str, str]) -> None:
    """An upload that fails says so: the staged file is not dropped as if it were stored."""
    credentials = ObjectStoreCredentials.from_env(s3_bucket)
    store = BucketStore("s3://no-such-bucket/", credentials, tmp_path)
    staged = tmp_path / "x.part"
    staged.write_bytes(b"x")
    with pytest.raises(Exception, match=r"(?i)bucket"):
        store.put(staged, hashlib.sha256(b"x").hexdigest(), "bin")
    assert staged.exists()


def test_an_object_store_needs_a_local_staging_folder() -> None:
    with pytest.raises(ValueError, match="staging"):
        open_store("s3://bucket/prefix/")
    with pytest.raises(ValueError, match="s3://"):
        BucketStore("s3:///no-bucket", None, Path("."))
