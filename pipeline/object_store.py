"""Credentials of S3-compatible object storage, from the standard AWS variables.

The lake's Parquet files (`PIPELINE_LAKE_DATA=s3://…`) use them; they are read once with the
rest of the settings and never shown: the secret parts are out of every repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.scrub import add_secret

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ObjectStoreCredentials:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    region: str = DEFAULT_REGION
    session_token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    """`AWS_ENDPOINT_URL`: a store other than AWS (MinIO, R2, Ceph)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ObjectStoreCredentials | None:
        """None without a key pair: public data, or the host's own credentials through another
        provider."""
        key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if not (key and secret):
            return None
        return cls(
            access_key_id=key,
            secret_access_key=secret,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            session_token=environ.get("AWS_SESSION_TOKEN") or None,
            endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
        )

    def __post_init__(self) -> None:
        add_secret(self.secret_access_key)
        add_secret(self.session_token)
