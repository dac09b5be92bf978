"""Run records and coded answers in the shapes the service sends (docs/coze.md; tests/coze/fixtures)."""

from __future__ import annotations

import json
import time

import pytest

from pipeline.coze import codes
from pipeline.coze.config import METADATA_WORKFLOW_ID
from pipeline.emulator import content
from tests.emulator.helpers import LOGID, assert_coded, code_of, emulator, metadata, poll, submit

RUNNING_OUTPUTS = {"", '{"node_status":"{}","Output":""}'}


def test_a_missing_record_is_code_4314() -> None:
    """Unknown, lost, another workflow's or past retention: the job is gone on Coze's side."""
    with emulator() as (process, client):
        assert_coded(poll(client, "7000000000000000001"), codes.RECORD_NOT_FOUND)
        lost = submit(client, "https://www.douyin.com/poison/lost/1").json()["execute_id"]
        kept = submit(client, "https://b23.tv/kept").json()["execute_id"]
        for _ in range(2):
            assert_coded(poll(client, lost), codes.RECORD_NOT_FOUND)
        assert_coded(poll(client, kept, METADATA_WORKFLOW_ID), codes.RECORD_NOT_FOUND)
        assert code_of(poll(client, kept)) == 0
        process.set_faults(retention_seconds=0.5)
        time.sleep(0.6)
        assert_coded(poll(client, kept), codes.RECORD_NOT_FOUND)
        stats = process.stats()
    assert stats["lost_polls"] == 5 and stats["polls"] == 6
    assert stats["paid_runs"] == 2, "a lost job was still billed"
    assert stats["jobs"][lost]["lost"] and stats["jobs"][kept]["lost"]


def test_a_running_record_has_an_empty_error_code() -> None:
    """While running, error_code is "" and output empty or an empty Output (both are seen)."""
    with emulator(job_seconds=30.0, seed=3) as (_, client):
        ids = [submit(client, f"https://b23.tv/run{i}").json()["execute_id"] for i in range(8)]
        bodies = [poll(client, execute_id).json() for execute_id in ids]
    records = [body["data"][0] for body in bodies]
    now = time.time()
    assert {r["execute_status"] for r in records} == {"Running"}
    assert {r["error_code"] for r in records} == {""}
    assert {r["output"] for r in records} == RUNNING_OUTPUTS, "both shapes, seeded"
    assert all(r["create_time"] <= r["update_time"] <= now for r in records)
    assert all(LOGID.fullmatch(body["detail"]["logid"]) for body in bodies)


def test_a_trimmed_output_is_cut_after_the_content_starts() -> None:
    """The service cuts the stored string: not JSON any more, but the content's start is there."""
    text = "https://www.bilibili.com/video/BV1trim/"
    with emulator(trim_rate=1.0) as (_, client):
        execute_id = submit(client, text).json()["execute_id"]
        time.sleep(0.4)
        record = poll(client, execute_id).json()["data"][0]
    spoken, title = content.transcript(text)
    whole = content.transcript_output(spoken, title)
    output = record["output"]
    assert record["execute_status"] == "Success" and record["is_output_trimmed"] is True
    with pytest.raises(ValueError):
        json.loads(output)
    assert whole.startswith(output) and len(output) < len(whole)
    assert output.startswith('{"node_status":"{}","Output":"{\\"content\\":\\"' + spoken[:1])


def test_the_logid_is_in_the_body_when_the_header_is_absent() -> None:
    """Only about half of the coded errors carry x-tt-logid; every one has detail.logid."""
    with emulator(seed=4) as (_, client):
        answers = [poll(client, str(n)) for n in range(24)]
        execute_id = submit(client, "https://b23.tv/logid").json()["execute_id"]
        success = poll(client, execute_id)
    with_header = [r for r in answers if "x-tt-logid" in r.headers]
    assert 6 <= len(with_header) <= 18, len(with_header)
    for response in answers:
        assert_coded(response, codes.RECORD_NOT_FOUND)  # the header, when sent, is the body's
    assert LOGID.fullmatch(success.json()["detail"]["logid"])
    assert "x-tt-logid" in success.headers


def test_poison_inputs_misbehave_as_documented() -> None:
    """Deterministic failures for the pipeline's tests: a failed workflow, broken payloads."""
    with emulator() as (process, client):
        failed = metadata(client, "https://www.douyin.com/deleted/1").json()
        null = metadata(client, "https://www.douyin.com/poison/data-null/1").json()
        typed = metadata(client, "https://www.douyin.com/poison/wrong-types/1").json()
        ids = [
            submit(client, f"https://www.douyin.com/poison/{kind}/1").json()["execute_id"]
            for kind in ("no-output", "huge")
        ]
        time.sleep(0.4)
        no_output, huge = (poll(client, execute_id).json()["data"][0] for execute_id in ids)
        stats = process.stats()
    assert failed["code"] == codes.WORKFLOW_FAILED and "debug_url" in failed
    assert LOGID.fullmatch(failed["detail"]["logid"])
    assert null["code"] == 0 and null["data"] is None
    assert json.loads(typed["data"])["title"] == 12345
    assert "output" not in no_output and len(huge["output"]) > 10_000_000
    assert stats["paid_runs"] == 5
