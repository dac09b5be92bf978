"""The AWS_* variables, read once for the lake and the media store alike."""

from pipeline.object_store import ObjectStoreCredentials
from pipeline.scrub import scrub


def test_credentials_come_from_the_aws_variables_and_stay_out_of_every_text() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
        "AWS_SESSION_TOKEN": "t0ken-value",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    credentials = ObjectStoreCredentials.from_env(environ)
    assert credentials == ObjectStoreCredentials(
        "AKIA", "s3cr3t-value", "eu-west-1", "t0ken-value", "http://127.0.0.1:9000"
    )
    assert "s3cr3t" not in repr(credentials) and "t0ken" not in repr(credentials)
    assert "s3cr3t-value" not in scrub("refused: s3cr3t-value")
    regional = ObjectStoreCredentials.from_env({**environ, "AWS_REGION": "us-east-2"})
    assert regional is not None and regional.region == "us-east-2"


def test_without_a_key_pair_there_are_no_credentials() -> None:
    assert ObjectStoreCredentials.from_env({}) is None
    assert ObjectStoreCredentials.from_env({"AWS_ACCESS_KEY_ID": "AKIA"}) is None
