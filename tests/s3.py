"""A real S3-compatible server (moto) on loopback, for the lake's and the media store's object
storage: a pytest plugin (tests/conftest.py), like tests/postgres.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.coze.servers import free_port

BUCKET = "team-lake"


@pytest.fixture
def s3_bucket(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A moto server with an empty bucket (`BUCKET`); yields the AWS_* variables a deployment
    would set."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ACCESS_KEY_ID": "lake-key",
        "AWS_SECRET_ACCESS_KEY": "lake-secret-value",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    try:
        wait_for_port(port)
        s3_client(env).create_bucket(Bucket=BUCKET)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {seconds:.0f}s")


def s3_client(env: dict[str, str]):  # boto3 generates its client types: none to name here
    """boto3's client for the server `env` names: the test's own view of the bucket."""
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


def object_keys(env: dict[str, str], bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in s3_client(env).list_objects_v2(Bucket=bucket).get("Contents", [])]
