"""The emulator's OAuth JWT app: the token exchange and the access tokens it minted.

`POST /api/permission/oauth2/token` takes a JWT as the Bearer and
`{"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "duration_seconds": N}`, checks
the JWT as Coze does (RS256 signature by the configured public key, `kid`, `iss`, `aud` = the
host asked, `exp`, a `jti` never seen before) and answers `{"access_token", "expires_in" (unix
seconds), "token_type": "Bearer"}`, the shape coze-py's `OAuthToken` reads. A token lives
`access_token_seconds` at most, which may be less than was asked, as on Coze.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import jwt

from pipeline.emulator.config import EmulatorConfig

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_DURATION_SECONDS = 86399


def public_key(config: EmulatorConfig) -> str | None:
    """The configured public key's PEM: the field itself, or the file it names."""
    value = config.jwt_public_key
    if value is None or "-----BEGIN" in value:
        return value
    return Path(value).read_text(encoding="utf-8")


class AccessTokens:
    """The access tokens minted so far, with their expiry (unix seconds), and the JWT ids used."""

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}
        self._jtis: set[str] = set()

    def live(self, authorization: str | None) -> bool:
        token = (authorization or "").removeprefix("Bearer ")
        return self.expiry.get(token, 0.0) > time.time()

    def exchange(
        self, config: EmulatorConfig, authorization: str | None, host: str, body: Any
    ) -> dict[str, Any] | str:
        """The token answer, or why the JWT or the body is refused."""
        key = public_key(config)
        if key is None:
            return "no JWT app is configured on this emulator"
        signed = (authorization or "").removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(signed)
            claims = jwt.decode(
                signed,
                key,
                algorithms=["RS256"],
                audience=host,
                issuer=config.jwt_client_id,
                options={"require": ["iss", "aud", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as error:
            return f"invalid JWT: {error}"
        if header.get("kid") != config.jwt_key_id:
            return "invalid JWT: unknown kid"
        if claims["jti"] in self._jtis:
            return "invalid JWT: jti already used"
        if not isinstance(body, dict) or body.get("grant_type") != JWT_GRANT:
            return f"grant_type must be {JWT_GRANT}"
        duration = body.get("duration_seconds", 900)
        if not isinstance(duration, int) or not 0 < duration <= MAX_DURATION_SECONDS:
            return f"duration_seconds must be 1..{MAX_DURATION_SECONDS}"
        self._jtis.add(claims["jti"])
        token = "czs_" + secrets.token_urlsafe(32)
        expires = time.time() + min(duration, config.access_token_seconds)
        self.expiry[token] = expires
        return {"access_token": token, "expires_in": int(expires), "token_type": "Bearer"}
