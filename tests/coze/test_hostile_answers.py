"""Hostile answers to the client over real loopback HTTP: JSON nested too deep to parse, a
server that trickles a byte at a time, a gzip bomb, pages that are not Coze. Each becomes one
classified error for that one answer (a halt for a wrong endpoint), in bounded time and memory."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
import threading
import zlib

import pytest

from pipeline.coze.client import KEPT_OF_TOO_LARGE, CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.errors import (
    CozeError,
    EndpointError,
    JobEndedError,
    MalformedPayloadError,
    TransportError,
    UncertainError,
)
from pipeline.settings import PROJECT_ROOT
from tests.coze.servers import RawServer, ReplayServer, gzip_bomb, nested_json, recorded

TOKEN = "pat_hostile_answers_never_logged_9a8b7c"
DEEP = nested_json(100_000)
LOGID = "20250101000000HOSTILEANSWERLOGID"


def settings(url: str, **changes: object) -> CozeSettings:
    return CozeSettings.from_env({}, base_url=url, api_token=TOKEN, **changes)


async def call(client: CozeClient, kind: str):
    """The client call each kind of answer comes back to."""
    if kind == "metadata":
        return await client.run_metadata("https://v.douyin.com/fEAkiIPyAd4/")
    if kind == "submit":
        return await client.submit_transcript("https://v.douyin.com/fEAkiIPyAd4/")
    return await client.get_run("7535294053631819826", "7535298640308535332")


async def outcome(url: str, kind: str, **changes: object) -> CozeError | object:
    async with CozeClient(settings(url, **changes)) as client:
        try:
            return await call(client, kind)
        except CozeError as error:
            return error


def history(**record_changes: object) -> str:
    body = json.loads(recorded("transcript_run_history_success.json"))
    body["data"][0].update(record_changes)
    return json.dumps(body, ensure_ascii=False)


def body_logid(body: str) -> str | None:
    try:
        return json.loads(body)["detail"]["logid"]
    except (ValueError, RecursionError, KeyError, TypeError):
        return None


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("metadata", json.dumps({"code": 0, "msg": "", "data": DEEP}), MalformedPayloadError),
        ("metadata", '{"code":0,"msg":"","data":' + DEEP + "}", MalformedPayloadError),
        ("metadata", '{"code":0,"detail":' + DEEP + "}", MalformedPayloadError),
        ("submit", '{"code":0,"msg":"Success","execute_id":' + DEEP + "}", UncertainError),
        ("submit", DEEP, UncertainError),
        ("poll", history(output=DEEP), JobEndedError),
        ("poll", history(output=json.dumps({"node_status": "{}", "Output": DEEP})), JobEndedError),
        ("poll", '{"code":0,"msg":"","data":' + DEEP + "}", MalformedPayloadError),
    ],
    ids=[
        "metadata-data",
        "metadata-envelope",
        "metadata-detail",
        "submit-execute-id",
        "submit-body",
        "poll-output",
        "poll-output-Output",
        "poll-envelope",
    ],
)
def test_json_nested_too_deep_is_one_classified_error(kind: str, body: str, expected) -> None:
    """A 2xx submit that cannot be read may be an accepted job: uncertain, sent once. A poll
    whose finished output cannot be read ends the job; an unreadable envelope is polled again."""
    with ReplayServer(lambda path: (200, body), headers={"x-tt-logid": LOGID}) as server:
        error = asyncio.run(outcome(server.url, kind, http_attempts=3))
        assert server.requests == 1
    assert type(error) is expected, error
    assert error.raw is not None and error.raw.body == body
    assert error.logid == (body_logid(body) or LOGID), "the header's when the body's is unread"
    if expected is UncertainError:
        assert "may have started" in str(error)


def test_a_trimmed_output_nested_too_deep_keeps_what_it_can() -> None:
    body = history(output=DEEP, is_output_trimmed=True)
    with ReplayServer(lambda path: (200, body)) as server:
        record = asyncio.run(outcome(server.url, "poll"))
    assert record.status == "Success" and record.is_output_trimmed and record.content is None


def trickle(sock: socket.socket, stopped: threading.Event) -> None:
    """Headers at once, then one byte of a long body every 0.1 s: each read is quick, the
    answer never ends."""
    sock.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9999\r\n\r\n"
    )
    while not stopped.wait(0.1):
        sock.sendall(b" ")


def test_a_server_trickling_bytes_is_cut_off_at_the_deadline() -> None:
    """Reads of 0.1 s never trip the 0.5 s read timeout; the 1 s deadline per attempt does. A
    paid POST that may have reached Coze is uncertain and sent once; a poll is retried."""
    quick = {"read_timeout": 0.5, "sync_read_timeout": 0.5, "deadline_factor": 2.0}

    async def scenario(url: str) -> list[CozeError | object]:
        async with CozeClient(settings(url, http_attempts=2, **quick)) as client:
            results: list[CozeError | object] = []
            for kind in ("metadata", "submit", "poll"):
                try:
                    results.append(await call(client, kind))
                except CozeError as error:
                    results.append(error)
            return results

    with RawServer(trickle) as server:
        metadata, submit, poll = asyncio.run(asyncio.wait_for(scenario(server.url), 30))
        assert server.connections == 1 + 1 + 2, "a POST was sent again, or a poll was not"
    assert type(metadata) is UncertainError and type(submit) is UncertainError
    assert "no whole answer within 1s" in str(submit) and "may have started" in str(submit)
    assert type(poll) is TransportError and "no whole answer within 1s" in str(poll)


def gzipped(body: bytes, encoding: str = "gzip") -> bytes:
    compressed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Encoding: {encoding}\r\nContent-Length: {len(compressed)}\r\n\r\n".encode()
        + compressed
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_answer_decodes_as_the_plain_one(encoding: str) -> None:
    answer = gzipped(recorded("transcript_run_history_success.json").encode(), encoding)
    with RawServer(lambda sock, stopped: sock.sendall(answer)) as server:
        record = asyncio.run(outcome(server.url, "poll"))
    assert record.raw.body == recorded("transcript_run_history_success.json")
    assert record.content.startswith("你好，大家现在是 7月17号")


BOMB_CLIENT = """
import asyncio, json, resource, sys
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.errors import CozeError
from tests.coze.test_hostile_answers import call

async def main(url):
    settings = CozeSettings.from_env({}, base_url=url, api_token="pat_bomb")
    async with CozeClient(settings) as client:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results = {}
        for kind in ("metadata", "submit", "poll"):
            try:
                await call(client, kind)
                results[kind] = ["ok", None]
            except CozeError as error:
                results[kind] = [type(error).__name__, len(error.raw.body), str(error)[:160]]
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"results": results, "grown_kib": grown}))

asyncio.run(main(sys.argv[1]))
"""


def test_a_gzip_bomb_is_cut_off_in_bounded_memory() -> None:
    """1 GiB of zeros in 1 MB of gzip: the client stops inflating past MAX_ANSWER_BYTES. The
    answer is a classified error for its one item and keeps only its first few KB."""
    bomb = gzip_bomb(1 << 30)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
    )
    with RawServer(lambda sock, stopped: sock.sendall(head + bomb)) as server:
        done = subprocess.run(
            [sys.executable, "-c", BOMB_CLIENT, server.url],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    results = report["results"]
    assert results["metadata"][0] == "AnswerTooLargeError", results
    assert results["submit"][0] == "UncertainError", results
    assert results["poll"][0] == "JobEndedError", results
    assert all(kept <= KEPT_OF_TOO_LARGE for _, kept, _ in results.values()), results
    assert report["grown_kib"] < 100 * 1024, f"peak memory grew {report['grown_kib']} KiB"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "<!DOCTYPE html><html><title>Sign in</title></html>", EndpointError),
        (200, "", EndpointError),
        (302, "", EndpointError),
        (404, "404 page not found", EndpointError),
        (404, '{"code":404,"msg":"no route"}', EndpointError),
        (407, "<html>proxy authentication required</html>", EndpointError),
        (200, '{"code":0,"msg":"Success","data":null}', MalformedPayloadError),
        (200, '{"code":0,"msg":"Success","data":"{\\"ti', MalformedPayloadError),
    ],
)
def test_a_page_that_is_not_coze_halts_the_run_naming_the_base_url(
    status: int, body: str, expected
) -> None:
    """What is not JSON at all is not Coze's answer: every video would get it. JSON of the
    wrong shape stays that one video's failure."""
    with ReplayServer(lambda path: (status, body), media_type="text/html") as server:
        error = asyncio.run(outcome(server.url, "metadata", http_attempts=3))
        assert server.requests == 1
    assert type(error) is expected, error
    if expected is EndpointError:
        line = str(error)
        assert line.startswith(f"COZE_BASE_URL={server.url} does not lead to the Coze API: ")
        assert f"POST /v1/workflow/run got HTTP {status}" in line
        assert "check COZE_BASE_URL" in line and TOKEN not in line
