"""The process's secrets, and the one function that keeps them out of every text it emits.

Tokens are registered where they are read or minted (the settings, the OAuth exchange). The
client scrubs each answer (body and logid) and each transport error the moment it arrives, so
nothing built from them later (error messages, halt lines, log lines, `raw_responses`) can
carry a token: a server that echoes the request's `Authorization` header back, or a proxy that
puts it in an error page, cannot make one land in the warehouse or Dagster's storage. Alerts
pass `scrub` again before they leave the machine.
"""

from __future__ import annotations

import threading

MASK = "***"
# Shorter values are not credentials (and masking them would garble ordinary text).
MIN_SECRET_CHARS = 8

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def add_secret(value: str | None) -> None:
    """Mask `value` from now on; a PEM key is masked whole and line by line, since a server
    may echo one line of it."""
    if not value:
        return
    parts = {value.strip(), *(line.strip() for line in value.splitlines())}
    global _secrets
    with _lock:
        found = {p for p in parts if len(p) >= MIN_SECRET_CHARS and not p.startswith("-----")}
        _secrets = tuple(sorted(set(_secrets) | found, key=len, reverse=True))


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_optional(text: str | None) -> str | None:
    return None if text is None else scrub(text)
