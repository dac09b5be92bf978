"""Decoding Coze answers: the nested JSON strings, the field quirks, and every wrong shape.

Pure functions of a `RawExchange`, used by the client on the wire and by the warehouse on
stored bodies, so a rebuild decodes exactly as the live run did. Any shape other than the
documented one becomes `MalformedPayloadError` for that one answer, never another exception
(JSON nested too deep for the parser included); a body that is not JSON at all is not Coze's
and, unless its status says "try later" or "token refused", becomes `EndpointError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.coze import codes
from pipeline.coze.errors import (
    AccountError,
    BadRequestError,
    CozeError,
    EndpointError,
    JobEndedError,
    JobStateUnknownError,
    MalformedPayloadError,
    PermanentError,
    RateLimitedError,
    ServerError,
    UnknownCodeError,
    WorkflowFailedError,
    WorkflowUnavailableError,
)
from pipeline.coze.models import MetadataResult, RawExchange, RunRecord, Submission
from pipeline.status import JobStatus

# A transcript of a three-hour talk is ~100k characters; an answer far beyond that is broken.
MAX_BODY_CHARS = 4_000_000
_STATUSES = tuple(JobStatus)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """`text` with each lone surrogate (JSON's `\\ud83d` alone: what JavaScript's `substring`
    leaves when it cuts inside an emoji) replaced by U+FFFD. Such a string cannot be encoded,
    so DuckDB, a log line or a file would refuse it; json.loads joins every valid pair, so any
    surrogate left in its output is a lone one."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def _malformed(raw: RawExchange, why: str) -> MalformedPayloadError:
    preview = (raw.body or "")[:200]
    return MalformedPayloadError(
        f"malformed Coze answer ({why}); body starts: {preview!r}",
        http_status=raw.http_status,
        logid=raw.logid,
        raw=raw,
    )


def parse_envelope(body: str | None) -> dict[str, Any] | None:
    """The body as a JSON object, or None: parsed once per answer and handed to `logid_of` and
    `error_for`, since a transcript answer is tens of kilobytes."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def logid_of(envelope: dict[str, Any] | None, header: str | None) -> str | None:
    """The body's `detail.logid` first, then the `x-tt-logid` header, as coze-js reads them:
    Coze sends either or both, and support needs whichever came."""
    detail = envelope.get("detail") if envelope else None
    if isinstance(detail, dict) and isinstance(detail.get("logid"), str) and detail["logid"]:
        return detail["logid"]
    return header or None


def _json_like(body: str | None) -> bool:
    """Whether a body is JSON, or starts like JSON that is too deep or too cut to read: only
    such a body can be Coze's answer."""
    return (body or "").lstrip(" \t\r\n\ufeff")[:1] in ("{", "[")


def _preview(body: str | None) -> str:
    text = " ".join((body or "")[:400].split())
    return repr(text[:120] + ("…" if len(text) > 120 else "")) if text else "an empty body"


def endpoint_line(base_url: str | None, what: str) -> str:
    """The one line that ends a run whose COZE_BASE_URL leads somewhere other than Coze."""
    where = f"COZE_BASE_URL={base_url}" if base_url else "COZE_BASE_URL"
    return (
        f"{where} does not lead to the Coze API: {what}. To do: check COZE_BASE_URL "
        "(https://api.coze.cn, or https://api.coze.com for coze.com accounts, nothing after the "
        "host) and that this machine can reach it, then run again. Nothing was marked failed; "
        "unfinished videos stay pending"
    )


def _halt_line(
    error_kind: str,
    code: int | None,
    status: int,
    msg: str,
    token_role: str | None,
    logid: str | None,
) -> str:
    """The one line that ends a run: what Coze said, on which token, and what to do."""
    info = codes.CODES.get(code) if code is not None else None
    if info is not None:
        what, remedy = f"code {code} ({info.meaning})", info.remedy
    else:  # HTTP 401/403 without a code of Coze's: the only halt a status alone makes
        what = f"HTTP {status}" + (f", code {code}" if code is not None else "")
        remedy = "check the token, or create a new one"
    said = f", Coze says {msg!r}" if msg else ""
    token = f" on the {token_role}" if token_role else ""
    support = f"; logid {logid}" if logid else ""
    return (
        f"Coze {error_kind}: {what}{said}{token}. To do: {remedy}, then run again. "
        f"Nothing was marked failed; unfinished videos stay pending{support}"
    )


def error_for(
    raw: RawExchange,
    envelope: dict[str, Any] | None,
    retry_after: float | None = None,
    token_role: str | None = None,
    base_url: str | None = None,
) -> CozeError | None:
    """The error an answer stands for, or None when it is a success envelope.

    `envelope` is `parse_envelope(raw.body)`. `token_role` names the token that got the answer and `base_url` where it came from, for
    the line a halt prints. A page or plain text is not Coze's answer, whatever its status
    (a proxy's login page comes with HTTP 200): it halts as `endpoint`, except on the statuses
    that mean "try later" (5xx, 408, 429) and on 401/403, which say the token was refused."""
    code = envelope.get("code") if envelope else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    msg = valid_unicode(str(envelope.get("msg") or "")) if envelope else ""
    status = raw.http_status or 0
    scope = codes.scope_of(code, status)
    if envelope is None and scope in (None, "item", "unknown") and not _json_like(raw.body):
        scope = "endpoint"
    if scope == "endpoint":
        what = f"{raw.method} {raw.path} got HTTP {status} and {_preview(raw.body)}"
        return EndpointError(
            endpoint_line(base_url, what), code=code, http_status=status, logid=raw.logid, raw=raw
        )
    if scope is None:
        if envelope is None:
            return _malformed(raw, "not a JSON object")
        if code is None and isinstance(envelope.get("error_message"), str):
            scope, msg = "item", valid_unicode(envelope["error_message"])
        else:
            return None
    details = {"code": code, "http_status": raw.http_status, "logid": raw.logid, "raw": raw}
    where = f"HTTP {status}, code {code}" + (f": {msg}" if msg else "")
    if scope == "rate_limit":
        return RateLimitedError(f"Coze rate limit ({where})", retry_after=retry_after, **details)
    if scope == "transient":
        what = "Coze server error" if status >= 500 else "Coze asks to try later"
        return ServerError(f"{what} ({where})", **details)
    if scope == "account":
        line = _halt_line("refused the account", code, status, msg, token_role, raw.logid)
        return AccountError(line, **details)
    if scope == "workflow":
        line = _halt_line("cannot run the workflow", code, status, msg, token_role, raw.logid)
        return WorkflowUnavailableError(line, **details)
    if scope == "job":
        return JobEndedError(
            f"Coze has no record of this job ({where}): it is lost on Coze's side", **details
        )
    if scope == "unknown":
        return UnknownCodeError(f"Coze error of unknown meaning ({where})", **details)
    if code == codes.WORKFLOW_FAILED:
        return WorkflowFailedError(f"workflow execution failed ({where})", **details)
    if code == codes.BAD_PARAMETER or status == 400:
        return BadRequestError(f"Coze refused the request ({where})", **details)
    return PermanentError(f"Coze error ({where})", **details)


def _envelope(raw: RawExchange) -> dict[str, Any]:
    if raw.body is not None and len(raw.body) > MAX_BODY_CHARS:
        raise _malformed(raw, f"{len(raw.body)} characters, over {MAX_BODY_CHARS}")
    envelope = parse_envelope(raw.body)
    error = error_for(raw, envelope)
    if error is not None:
        raise error
    if envelope is None:
        raise _malformed(raw, "not a JSON object")
    return envelope


def _json_object(raw: RawExchange, text: Any, what: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise _malformed(raw, f"{what} is {type(text).__name__}, not a JSON string")
    try:
        value = json.loads(text)
    except ValueError:
        raise _malformed(raw, f"{what} is not valid JSON") from None
    except RecursionError:
        raise _malformed(raw, f"{what} is JSON nested too deep to read") from None
    if not isinstance(value, dict):
        raise _malformed(raw, f"{what} is not a JSON object")
    return value


def _text(raw: RawExchange, data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _malformed(raw, f"{key} is {type(value).__name__}, not a string")
    return valid_unicode(value)


def decode_metadata(raw: RawExchange) -> MetadataResult:
    envelope = _envelope(raw)
    data = _json_object(raw, envelope.get("data"), "data")
    return MetadataResult(
        title=_text(raw, data, "title"),
        nickname=_text(raw, data, "nickname", required=False),
        avatar_url=_text(raw, data, "avatar", required=False),
        play_url=_text(raw, data, "cover_url"),
        cover_image_url=_text(raw, data, "output"),
        debug_url=envelope.get("debug_url") if isinstance(envelope.get("debug_url"), str) else None,
        logid=raw.logid,
        raw=raw,
    )


def decode_submission(raw: RawExchange) -> Submission:
    envelope = _envelope(raw)
    execute_id = envelope.get("execute_id")
    if isinstance(execute_id, int) and not isinstance(execute_id, bool):
        execute_id = str(execute_id)
    if not isinstance(execute_id, str) or not execute_id.isdigit():
        raise _malformed(raw, "no execute_id of digits")
    return Submission(
        execute_id=execute_id,
        workflow_id=raw.workflow_id,
        debug_url=envelope.get("debug_url") if isinstance(envelope.get("debug_url"), str) else None,
        logid=raw.logid,
        raw=raw,
    )


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def json_string_prefix(text: str) -> str:
    """Decode a JSON string's body that may be cut anywhere (a trimmed output)."""
    end, i = len(text), 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            end = i
            break
        i += 1
    chunk = text[:end]
    for cut in range(7):  # a cut can split an escape sequence (\uXXXX is six characters)
        try:
            decoded = json.loads('"' + chunk[: len(chunk) - cut] + '"')
        except ValueError:
            continue
        # or split a surrogate pair (\ud83d\ude00), leaving half a character no text may hold
        return decoded[:-1] if decoded and "\ud800" <= decoded[-1] <= "\udbff" else decoded
    return ""


def _member_prefix(text: str, key: str) -> str | None:
    """The string member `key` of JSON object text that may be cut anywhere, as far as it goes;
    spacing and key order as any JSON writer makes them."""
    match = re.search(r'"' + re.escape(key) + r'"\s*:\s*"', text)
    return json_string_prefix(text[match.end() :]) if match else None


def _recover_trimmed(output: Any) -> tuple[str | None, str | None]:
    """Keep what a cut output still holds: the start of `content`, the title if it survived.
    Coze billed the job; a cut in the outer or the inner JSON, or no output at all, leaves
    less text but never an unreadable job."""
    if not isinstance(output, str):
        return None, None
    try:
        outer = json.loads(output)
    except (ValueError, RecursionError):
        inner = _member_prefix(output, "Output")
    else:
        inner = outer.get("Output") if isinstance(outer, dict) else None
    if not isinstance(inner, str):
        return None, None
    return _valid(_member_prefix(inner, "content")), _valid(_member_prefix(inner, "title"))


def _transcript(
    raw: RawExchange, record: dict[str, Any], trimmed: bool
) -> tuple[str | None, str | None]:
    output = record.get("output")
    try:
        outer = _json_object(raw, output, "output")
        inner = _json_object(raw, outer.get("Output"), "output.Output")
    except MalformedPayloadError:
        if trimmed:
            return _recover_trimmed(output)
        raise
    content, title = inner.get("content"), inner.get("title")
    if content is not None and not isinstance(content, str):
        raise _malformed(raw, "content is not a string")
    if title is not None and not isinstance(title, str):
        raise _malformed(raw, "title is not a string")
    return _valid(content), _valid(title)


def _valid(text: str | None) -> str | None:
    return None if text is None else valid_unicode(text)


def _state_unknown(raw: RawExchange, why: str) -> JobStateUnknownError:
    return JobStateUnknownError(
        f"Coze's record of this job says nothing usable: {why}",
        http_status=raw.http_status,
        logid=raw.logid,
        raw=raw,
    )


def decode_run(raw: RawExchange) -> RunRecord:
    if raw.body is not None and len(raw.body) > MAX_BODY_CHARS:
        # Only a finished record carries an output that large, and it will never shrink.
        raise JobEndedError(
            f"the finished job's output cannot be read: its record is {len(raw.body)} "
            f"characters, over {MAX_BODY_CHARS}",
            http_status=raw.http_status,
            logid=raw.logid,
            raw=raw,
        )
    envelope = _envelope(raw)
    records = envelope.get("data")
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        raise _state_unknown(raw, f"no run record (data is {_preview(json.dumps(records))})")
    record = records[0]
    status = record.get("execute_status")
    if status not in _STATUSES:
        raise _state_unknown(raw, f"execute_status {valid_unicode(repr(status))}")
    trimmed = record.get("is_output_trimmed") is True
    content, title = None, None
    if status == "Success":
        try:
            content, title = _transcript(raw, record, trimmed)
        except MalformedPayloadError as error:
            # The job is over and its output will never read differently: it ends here.
            raise JobEndedError(
                f"the finished job's output cannot be read: {error}",
                http_status=raw.http_status,
                logid=raw.logid,
                raw=raw,
            ) from None
    execute_id = record.get("execute_id")
    usage = record.get("usage") if isinstance(record.get("usage"), dict) else {}
    message = record.get("error_message")
    return RunRecord(
        execute_id=str(execute_id) if execute_id is not None else raw.request_input,
        workflow_id=raw.workflow_id,
        status=status,
        error_code=_optional_int(record.get("error_code")) or None,
        error_message=valid_unicode(message) if isinstance(message, str) and message else None,
        is_output_trimmed=trimmed,
        content=content,
        title=title,
        token_count=_optional_int(usage.get("token_count")),
        create_time=_optional_int(record.get("create_time")),
        update_time=_optional_int(record.get("update_time")),
        logid=record.get("logid") if isinstance(record.get("logid"), str) else raw.logid,
        debug_url=record.get("debug_url") if isinstance(record.get("debug_url"), str) else None,
        raw=raw,
    )
