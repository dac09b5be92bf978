"""Registered secrets are masked wherever they appear, a PEM key line by line too."""

from __future__ import annotations

from pipeline.scrub import MASK, add_secret, scrub, scrub_optional

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "b2xkIGtleSBsaW5lIHR3byBvZiB0aGUgcGVtIGZpbGUgaGVyZQ==\n"
    "-----END PRIVATE KEY-----\n"
)


def test_a_registered_token_is_masked_and_other_text_is_left_alone() -> None:
    add_secret("pat_scrub_test_0123456789")
    text = "Coze says 'bad token Bearer pat_scrub_test_0123456789' (logid 2025)"
    assert scrub(text) == f"Coze says 'bad token Bearer {MASK}' (logid 2025)"
    assert scrub("nothing secret here") == "nothing secret here"
    assert scrub_optional(None) is None


def test_a_pem_key_is_masked_whole_and_by_line_but_not_its_armour() -> None:
    add_secret(PEM)
    lines = PEM.splitlines()
    assert PEM.strip() not in scrub(f"key: {PEM}")
    assert scrub(f"echoed: {lines[2]}") == f"echoed: {MASK}"
    assert scrub(lines[0]) == lines[0], "the BEGIN line is no secret; masking it garbles text"


def test_short_values_are_not_taken_for_secrets() -> None:
    add_secret("abc")
    add_secret(None)
    assert scrub("abc def") == "abc def"
