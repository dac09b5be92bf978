"""Talking to an emulator in its own process over real HTTP, and the fixtures it must match."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from pipeline.coze.config import METADATA_WORKFLOW_ID, TRANSCRIPT_WORKFLOW_ID
from pipeline.emulator import EmulatorConfig, EmulatorProcess

# Answer bodies from Coze's SDK tests and docs; their sources are in its INDEX.md.
FIXTURES = Path(__file__).parents[1] / "coze" / "fixtures"
LOGID = re.compile(r"\d{14}[0-9A-F]{20}")


@contextlib.contextmanager
def emulator(**config: Any) -> Iterator[tuple[EmulatorProcess, httpx.Client]]:
    """A fast-profile emulator unless told otherwise, and a client for it."""
    config.setdefault("profile", "fast")
    with (
        EmulatorProcess(EmulatorConfig(**config)) as process,
        httpx.Client(base_url=process.url, timeout=30) as client,
    ):
        yield process, client


def metadata(client: httpx.Client, text: str, **headers: str) -> httpx.Response:
    body = {"workflow_id": METADATA_WORKFLOW_ID, "parameters": {"input": text}}
    return client.post("/v1/workflow/run", json=body, headers=headers)


def submit(client: httpx.Client, text: str, **headers: str) -> httpx.Response:
    body = {"workflow_id": TRANSCRIPT_WORKFLOW_ID, "parameters": {"input": text}, "is_async": True}
    return client.post("/v1/workflow/run", json=body, headers=headers)


def poll(
    client: httpx.Client,
    execute_id: str,
    workflow_id: str = TRANSCRIPT_WORKFLOW_ID,
    **headers: str,
) -> httpx.Response:
    return client.get(f"/v1/workflows/{workflow_id}/run_histories/{execute_id}", headers=headers)


def fixture_body(name: str) -> dict[str, Any]:
    return json.loads(json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))["body"])


def assert_coded(response: httpx.Response, code: int) -> dict[str, Any]:
    """A coded error exactly as the docs' fixture: HTTP 200, its msg and keys, a body logid."""
    expected = fixture_body(f"err_docs_{code}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["msg"] == expected["msg"]
    assert body.keys() == expected.keys()
    assert LOGID.fullmatch(body["detail"]["logid"]), body
    assert response.headers.get("x-tt-logid") in (None, body["detail"]["logid"])
    return body


def code_of(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return response.json()["code"]
