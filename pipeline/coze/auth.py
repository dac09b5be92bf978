"""Which Bearer token a request sends: a static token (PAT or SAT), or an access token that an
OAuth JWT app mints for itself.

A JWT app signs a short JWT with its private key (RS256, header `kid`; claims `iss`, `aud`,
`iat`, `exp`, `jti`, as coze-py's `JWTOAuthApp._gen_jwt`), trades it at
`POST /api/permission/oauth2/token` for an access token, and uses that until shortly before the
answer's `expires_in` (a unix time). Access tokens cannot be refreshed: a new JWT mints a new
one. Building the JWT is pure (`build_jwt`); the exchange is `JwtTokens`, one per client, whose
lock makes concurrent requests wait for a single mint.

Every secret is registered with `pipeline.scrub` where it is read or minted: the private key,
each JWT and each access token. None is ever part of a message; a person is told which token
(`role`), never its value.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import httpx
import jwt

from pipeline.coze import codes
from pipeline.coze.decode import endpoint_line
from pipeline.coze.errors import AccountError, CozeError, EndpointError, ServerError, TransportError
from pipeline.envvars import ConfigError
from pipeline.scrub import add_secret, scrub

TOKEN_PATH = "/api/permission/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Coze's default access-token life (coze-py `get_access_token(ttl=900)`); at most 86399.
ACCESS_TOKEN_SECONDS = 900
# The signed JWT is only good for the exchange that follows at once.
JWT_SECONDS = 300
# An access token is replaced this long before it expires: a minute, or a fifth of its life
# when that is shorter, so a token that lives 12 s is still used for 9.6 s.
RENEW_MARGIN_SECONDS = 60.0
RENEW_MARGIN_SHARE = 0.2
# Codes that say the access token itself is no longer good: renewed once before the run halts.
REFUSED_TOKEN_CODES = frozenset({codes.AUTH_FAILED, codes.TOKEN_INVALID})
# A token answer is a few hundred bytes; anything longer is not one.
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
RETRY_STATUSES = frozenset({408, 429})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
ENV_CLIENT_ID = "COZE_JWT_OAUTH_CLIENT_ID"
ENV_KEY_ID = "COZE_JWT_OAUTH_PUBLIC_KEY_ID"
ENV_KEY = "COZE_JWT_OAUTH_PRIVATE_KEY"
ENV_KEY_FILE = "COZE_JWT_OAUTH_PRIVATE_KEY_FILE"


@dataclass(frozen=True)
class JwtApp:
    """An OAuth JWT app: its client id, the id of the public key uploaded to Coze, and the
    private key (PEM) that signs its JWTs."""

    client_id: str
    public_key_id: str
    private_key: str = field(repr=False)
    key_file: str | None = field(default=None, compare=False)
    """Where the key was read from (COZE_JWT_OAUTH_PRIVATE_KEY_FILE); None: given as text."""

    def __post_init__(self) -> None:
        add_secret(self.private_key)

    @property
    def role(self) -> str:
        return f"JWT app access token ({ENV_CLIENT_ID}={self.client_id})"

    @classmethod
    def from_values(
        cls,
        client_id: str | None,
        public_key_id: str | None,
        private_key: str | None,
        private_key_file: str | None,
    ) -> JwtApp | None:
        """The app, or None when none of its settings is given; a partial set is refused."""
        key_file = private_key_file if private_key_file and not private_key else None
        if key_file:
            try:
                private_key = Path(key_file).expanduser().read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigError(
                    f"{ENV_KEY_FILE}={key_file} cannot be read: {error.strerror}"
                ) from None
        given = {ENV_CLIENT_ID: client_id, ENV_KEY_ID: public_key_id, ENV_KEY: private_key}
        if not any(given.values()):
            return None
        missing = [
            f"{n} (or {ENV_KEY_FILE})" if n == ENV_KEY else n for n, v in given.items() if not v
        ]
        if missing:
            present = " and ".join(n for n, v in given.items() if v)
            raise ConfigError(
                f"{present} set but not {' and '.join(missing)}: a Coze JWT app needs its "
                "client id, its public key id and its private key"
            )
        assert client_id and public_key_id and private_key
        if "PRIVATE KEY-----" not in private_key:
            source = ENV_KEY_FILE if private_key_file else ENV_KEY
            raise ConfigError(f"{source} must hold a PEM private key (-----BEGIN PRIVATE KEY-----)")
        return cls(client_id.strip(), public_key_id.strip(), private_key, key_file)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JwtApp | None:
        return cls.from_values(
            env.get(ENV_CLIENT_ID), env.get(ENV_KEY_ID), env.get(ENV_KEY), env.get(ENV_KEY_FILE)
        )


def audience_of(base_url: str) -> str:
    """The JWT's `aud`: the API host (api.coze.cn, api.coze.com, or COZE_BASE_URL's host and
    port), as coze-py takes it from its base URL."""
    return urlsplit(base_url).netloc.rpartition("@")[2]


def build_jwt(app: JwtApp, audience: str, now: int) -> str:
    """The signed JWT a token exchange sends: RS256 with the public key's id as `kid`, and a
    fresh `jti` so that no two are alike."""
    claims = {
        "iss": app.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + JWT_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        claims, app.private_key, algorithm="RS256", headers={"kid": app.public_key_id}
    )
    add_secret(token)
    return token


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float
    """Unix seconds, as Coze's `expires_in`."""


class Refusal(NamedTuple):
    said: str
    code: int | None


def read_token_answer(status: int, body: str) -> AccessToken | Refusal | None:
    """A token answer: the access token; or, for a refusal, what the service said; or None when
    the answer is no token endpoint's (a page, a proxy's error)."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(answer, dict):
        return None
    value, expires = answer.get("access_token"), answer.get("expires_in")
    code = answer.get("code")
    if (
        200 <= status < 300
        and not code
        and isinstance(value, str)
        and value
        and isinstance(expires, int | float)
        and not isinstance(expires, bool)
    ):
        add_secret(value)
        return AccessToken(value, float(expires))
    said = [
        str(answer[k]) for k in ("error_code", "error", "msg", "error_message") if answer.get(k)
    ]
    coded = code if isinstance(code, int) and not isinstance(code, bool) and code else None
    if not said and coded is None and 200 <= status < 300:
        return None
    what = f"code {coded}" if coded else f"HTTP {status}"
    return Refusal(what + (f", Coze says {scrub('; '.join(said))[:200]!r}" if said else ""), coded)


class TokenSource(Protocol):
    """Where a request's Bearer comes from."""

    async def bearer(self, method: str) -> tuple[str | None, str]:
        """The token this request sends, and how to name it to a person (never its value)."""
        ...

    async def renew(self, refused: str | None) -> bool:
        """After `refused` was refused as invalid: True when a new token may get another answer
        (the request is then sent once more), False when there is no other token to try."""
        ...


@dataclass(frozen=True)
class StaticTokens:
    """COZE_API_TOKEN for submits (and polls), COZE_POLL_TOKEN for polls when set: the seed
    submits with one token and polls with another. A static token cannot be renewed."""

    api_token: str | None
    poll_token: str | None

    async def bearer(self, method: str) -> tuple[str | None, str]:
        if method == "POST":
            return self.api_token, "submit token (COZE_API_TOKEN)"
        if self.poll_token:
            return self.poll_token, "poll token (COZE_POLL_TOKEN)"
        return self.api_token, "poll token (COZE_API_TOKEN; no COZE_POLL_TOKEN set)"

    async def renew(self, refused: str | None) -> bool:
        return False


HttpClients = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


class JwtTokens:
    """A JWT app's access tokens, minted on demand and shared by every request of a client.

    A refusal at the token endpoint is the account's halt, and stays one: every later request
    gets the same error instead of asking again. A token endpoint that cannot be reached is
    retried like any transient error, `attempts` times."""

    def __init__(
        self,
        app: JwtApp,
        base_url: str,
        shown_base_url: str,
        http: HttpClients,
        *,
        attempts: int,
        timeout: httpx.Timeout,
        clock: Callable[[], float] = time.monotonic,
        duration_seconds: int = ACCESS_TOKEN_SECONDS,
    ) -> None:
        self.app = app
        self.audience = audience_of(base_url)
        self.shown_base_url = shown_base_url
        self.minted = 0
        self._http = http
        self._attempts = attempts
        self._timeout = timeout
        self._clock = clock
        self._duration = duration_seconds
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._refusal: AccountError | None = None

    async def bearer(self, method: str) -> tuple[str | None, str]:
        if self._token is None or self._clock() >= self._renew_at:
            async with self._lock:
                if self._token is None or self._clock() >= self._renew_at:
                    await self._mint()
        return self._token, self.app.role

    async def renew(self, refused: str | None) -> bool:
        async with self._lock:
            if refused == self._token:  # not replaced meanwhile by another request's renewal
                await self._mint()
        return True

    async def _mint(self) -> None:
        if self._refusal is not None:
            raise self._refusal
        token = await self._exchange()
        life = token.expires_at - time.time()
        margin = min(RENEW_MARGIN_SECONDS, max(0.0, life) * RENEW_MARGIN_SHARE)
        self._token = token.value
        self._renew_at = self._clock() + life - margin
        self.minted += 1

    async def _exchange(self) -> AccessToken:
        """One token, trying `attempts` times while the endpoint answers nothing or "later"."""
        body = {"grant_type": JWT_GRANT, "duration_seconds": self._duration}
        error: CozeError = TransportError("no attempt made")
        connected = False
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                await asyncio.sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 2)))
            headers = {
                "Authorization": f"Bearer {build_jwt(self.app, self.audience, int(time.time()))}"
            }
            try:
                status, text, logid = await self._post(body, headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = TransportError(f"no answer from Coze for POST {TOKEN_PATH}: {exc!r}")
                continue
            except httpx.HTTPError as exc:
                connected = True
                error = TransportError(f"no answer from Coze for POST {TOKEN_PATH}: {exc!r}")
                continue
            connected = True
            if status >= 500 or status in RETRY_STATUSES:
                error = ServerError(
                    f"the token endpoint answered HTTP {status}", http_status=status
                )
                continue
            answer = read_token_answer(status, text)
            if isinstance(answer, AccessToken):
                return answer
            if answer is None:
                raise EndpointError(
                    endpoint_line(
                        self.shown_base_url,
                        f"POST {TOKEN_PATH} got HTTP {status} and no token answer",
                    ),
                    http_status=status,
                    logid=logid,
                )
            self._refusal = AccountError(
                self._refused_line(answer.said, logid),
                code=answer.code,
                http_status=status,
                logid=logid,
            )
            raise self._refusal
        if not connected:
            raise EndpointError(
                endpoint_line(
                    self.shown_base_url,
                    f"nothing answered POST {TOKEN_PATH} in {self._attempts} attempts",
                )
            )
        raise error

    async def _post(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, str | None]:
        async with (
            self._http() as http,
            http.stream(
                "POST", TOKEN_PATH, json=body, headers=headers, timeout=self._timeout
            ) as answer,
        ):
            content = b""
            async for chunk in answer.aiter_bytes():
                content += chunk
                if len(content) > MAX_TOKEN_ANSWER_BYTES:
                    break
        text = content[:MAX_TOKEN_ANSWER_BYTES].decode("utf-8", errors="replace")
        return answer.status_code, text, answer.headers.get("x-tt-logid")

    def _refused_line(self, said: str, logid: str | None) -> str:
        support = f"; logid {logid}" if logid else ""
        return (
            f"Coze refused the JWT app's token request ({ENV_CLIENT_ID}={self.app.client_id}): "
            f"{said}. To do: check {ENV_CLIENT_ID}, {ENV_KEY_ID} (the id Coze shows for the "
            f"public key uploaded to the app) and that {ENV_KEY} is that key's private half, "
            "that the app is authorized for this account, and that COZE_BASE_URL is the app's "
            "site (api.coze.cn or api.coze.com), then run again. Nothing was marked failed; "
            f"unfinished videos stay pending{support}"
        )


def token_source(
    api_token: str | None,
    poll_token: str | None,
    app: JwtApp | None,
    base_url: str,
    shown_base_url: str,
    http: HttpClients,
    *,
    attempts: int,
    timeout: httpx.Timeout,
) -> TokenSource:
    """A static token when one is set (COZE_API_TOKEN wins), else the JWT app's, if any."""
    if api_token or app is None:
        return StaticTokens(api_token, poll_token)
    return JwtTokens(app, base_url, shown_base_url, http, attempts=attempts, timeout=timeout)
