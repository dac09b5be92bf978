"""OAuth JWT apps over real loopback HTTP against the emulator's token endpoint: the JWT as Coze
checks it, access tokens renewed before they expire and once after a 4100, a refused app as one
halt line, and the settings that make an app."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from pipeline.coze.auth import (
    JWT_SECONDS,
    JwtApp,
    JwtTokens,
    StaticTokens,
    audience_of,
    build_jwt,
)
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.coze.errors import AccountError
from pipeline.emulator import EmulatorConfig, EmulatorProcess
from pipeline.envvars import ConfigError
from pipeline.scrub import scrub
from tests.coze.servers import ReplayServer
from tests.support import rsa_key_pair

CLIENT_ID = "1187654321098"
KEY_ID = "kid_TEST_public_key_id"
PRIVATE_KEY, PUBLIC_KEY = rsa_key_pair()
APP = JwtApp(CLIENT_ID, KEY_ID, PRIVATE_KEY)
VIDEO = "https://www.douyin.com/video/7512345678901234567"


@contextlib.contextmanager
def jwt_emulator(**switches: object) -> Iterator[EmulatorProcess]:
    config = EmulatorConfig(
        profile="fast",
        jwt_public_key=PUBLIC_KEY,
        jwt_client_id=CLIENT_ID,
        jwt_key_id=KEY_ID,
        **switches,  # type: ignore[arg-type]
    )
    with EmulatorProcess(config) as emulator:
        yield emulator


def app_settings(url: str, app: JwtApp = APP) -> CozeSettings:
    return CozeSettings(base_url=url, jwt_app=app, rps=100, http_attempts=2)


class Clock:
    """The client's clock, moved by the test: when a token is renewed, without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_with(client: CozeClient, clock: Clock) -> JwtTokens:
    """The client's JWT app on the test's clock."""
    tokens = JwtTokens(
        APP,
        client.settings.base_url,
        client.settings.shown_base_url,
        client._connections.client,
        attempts=2,
        timeout=httpx.Timeout(10.0),
        clock=clock,
    )
    client.tokens = tokens
    return tokens


def test_the_jwt_is_signed_by_the_app_key_for_the_api_host() -> None:
    first, second = (build_jwt(APP, "api.coze.cn", now=1_800_000_000) for _ in range(2))
    header = jwt.get_unverified_header(first)
    assert header["alg"] == "RS256" and header["kid"] == KEY_ID
    claims = jwt.decode(
        first,
        PUBLIC_KEY,
        algorithms=["RS256"],
        audience="api.coze.cn",
        issuer=CLIENT_ID,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iat"] == 1_800_000_000 and claims["exp"] == 1_800_000_000 + JWT_SECONDS
    other = jwt.decode(
        second,
        PUBLIC_KEY,
        algorithms=["RS256"],
        audience="api.coze.cn",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["jti"] and claims["jti"] != other["jti"], "a jti is never reused"
    _, wrong_public = rsa_key_pair()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(first, wrong_public, algorithms=["RS256"], options={"verify_aud": False})


def test_the_audience_is_the_api_host() -> None:
    assert audience_of("https://api.coze.cn") == "api.coze.cn"
    assert audience_of("https://api.coze.com/") == "api.coze.com"
    assert audience_of("http://user:secret@127.0.0.1:8765") == "127.0.0.1:8765"


@pytest.mark.parametrize(
    "env",
    [
        {"COZE_JWT_OAUTH_CLIENT_ID": CLIENT_ID},
        {"COZE_JWT_OAUTH_CLIENT_ID": CLIENT_ID, "COZE_JWT_OAUTH_PUBLIC_KEY_ID": KEY_ID},
        {"COZE_JWT_OAUTH_PUBLIC_KEY_ID": KEY_ID, "COZE_JWT_OAUTH_PRIVATE_KEY": PRIVATE_KEY},
        {
            "COZE_JWT_OAUTH_CLIENT_ID": CLIENT_ID,
            "COZE_JWT_OAUTH_PUBLIC_KEY_ID": KEY_ID,
            "COZE_JWT_OAUTH_PRIVATE_KEY": "not a key",
        },
        {
            "COZE_JWT_OAUTH_CLIENT_ID": CLIENT_ID,
            "COZE_JWT_OAUTH_PUBLIC_KEY_ID": KEY_ID,
            "COZE_JWT_OAUTH_PRIVATE_KEY_FILE": "/no/such/key.pem",
        },
    ],
)
def test_a_partial_or_unusable_app_is_a_configuration_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        CozeSettings.from_env(env)
    line = str(refused.value)
    assert "COZE_JWT_OAUTH" in line and "\n" not in line and PRIVATE_KEY not in line


def test_the_app_is_read_from_its_key_file_and_never_shown(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(PRIVATE_KEY, encoding="utf-8")
    env = {
        "COZE_JWT_OAUTH_CLIENT_ID": CLIENT_ID,
        "COZE_JWT_OAUTH_PUBLIC_KEY_ID": KEY_ID,
        "COZE_JWT_OAUTH_PRIVATE_KEY_FILE": str(key_file),
    }
    settings = CozeSettings.from_env(env)
    assert settings.jwt_app == APP
    body = PRIVATE_KEY.splitlines()[3]
    assert body not in repr(settings) and body not in repr(settings.jwt_app)
    assert body not in scrub(f"a server echoed {body}"), "the key is registered as a secret"
    with_token = CozeSettings.from_env({**env, "COZE_API_TOKEN": "pat_static_token_wins_123"})
    assert isinstance(CozeClient(with_token).tokens, StaticTokens), "COZE_API_TOKEN wins"


def test_one_access_token_serves_every_request_until_shortly_before_it_expires() -> None:
    async def scenario(url: str) -> tuple[list[str], int]:
        clock = Clock()
        async with CozeClient(app_settings(url)) as client:
            tokens = tokens_with(client, clock)
            firsts = await asyncio.gather(*(tokens.bearer("POST") for _ in range(20)))
            await client.run_metadata(VIDEO)
            await client.submit_transcript(VIDEO)
            clock.now += 5  # 12 s tokens: still 7 s to live, used
            later, _ = await tokens.bearer("GET")
            clock.now += 5  # 2 s to live: inside the margin, replaced
            renewed, role = await tokens.bearer("GET")
            await client.run_metadata(VIDEO)
            assert role == f"JWT app access token (COZE_JWT_OAUTH_CLIENT_ID={CLIENT_ID})"
            return [t for t, _ in firsts] + [later, renewed], tokens.minted

    with jwt_emulator(access_token_seconds=12) as emulator:
        seen, minted = asyncio.run(scenario(emulator.url))
        stats = emulator.stats()
    assert len(set(seen[:21])) == 1, "concurrent requests share one mint"
    assert seen[-1] != seen[0] and minted == 2
    assert stats["tokens_minted"] == 2 and stats["auth_failures"] == 0
    assert set(stats["access_tokens"]) == {seen[0], seen[-1]}
    assert all(token not in scrub(token) for token in seen), "access tokens are secrets"


def test_an_access_token_refused_with_4100_is_renewed_once_and_the_request_sent_again() -> None:
    async def scenario(url: str) -> int:
        async with CozeClient(app_settings(url)) as client:
            tokens = tokens_with(client, Clock())  # the client's clock stands still
            await client.run_metadata(VIDEO)
            await asyncio.sleep(2.5)  # the emulator's 2 s token is gone; the client thinks not
            result = await client.run_metadata(VIDEO)
            assert result.title
            return tokens.minted

    with jwt_emulator(access_token_seconds=2) as emulator:
        minted = asyncio.run(scenario(emulator.url))
        stats = emulator.stats()
    assert minted == 2 and stats["tokens_minted"] == 2
    assert stats["auth_failures"] == 1 and stats["metadata_calls"] == 2


def test_an_access_token_refused_again_after_renewal_halts_naming_the_app() -> None:
    async def scenario(url: str) -> AccountError:
        async with CozeClient(app_settings(url)) as client:
            with pytest.raises(AccountError) as halted:
                await client.submit_transcript(VIDEO)
            return halted.value

    # Every request needs this static token too: no access token can pass.
    with jwt_emulator(require_token="pat_some_other_token_0000") as emulator:
        halt = asyncio.run(scenario(emulator.url))
        stats = emulator.stats()
    line = str(halt)
    assert halt.code == 4100 and "code 4100" in line
    assert f"JWT app access token (COZE_JWT_OAUTH_CLIENT_ID={CLIENT_ID})" in line
    assert stats["tokens_minted"] == 2, "renewed exactly once"
    assert stats["auth_failures"] == 2 and stats["submits"] == 0
    assert not any(token in line for token in stats["access_tokens"])


def test_a_refused_app_is_one_account_halt_and_is_not_asked_again() -> None:
    async def scenario(url: str) -> list[AccountError]:
        wrong_kid = JwtApp(CLIENT_ID, "kid_not_uploaded", PRIVATE_KEY)
        async with CozeClient(app_settings(url, wrong_kid)) as client:
            halts = []
            for _ in range(3):
                with pytest.raises(AccountError) as halted:
                    await client.run_metadata(VIDEO)
                halts.append(halted.value)
            return halts

    with jwt_emulator() as emulator:
        halts = asyncio.run(scenario(emulator.url))
        stats = emulator.stats()
    line = str(halts[0])
    assert line.startswith(
        f"Coze refused the JWT app's token request (COZE_JWT_OAUTH_CLIENT_ID={CLIENT_ID}): "
        "code 4100"
    )
    assert "check COZE_JWT_OAUTH_CLIENT_ID, COZE_JWT_OAUTH_PUBLIC_KEY_ID" in line
    assert "Nothing was marked failed" in line and "\n" not in line
    assert halts[1] is halts[0] and halts[2] is halts[0]
    assert stats["token_refusals"] == 1 and stats["requests"] == 0


def test_a_token_endpoint_that_fails_for_a_while_is_retried() -> None:
    answers = [(503, '{"code":5000,"msg":"busy"}')]
    token = {"access_token": "czs_retried_access_token_0123456789", "expires_in": 4_000_000_000}

    def answer(path: str) -> tuple[int, str]:
        assert path == "/api/permission/oauth2/token"
        return answers.pop() if answers else (200, json.dumps(token))

    @contextlib.asynccontextmanager
    async def http(url: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client

    async def scenario(url: str) -> str | None:
        tokens = JwtTokens(
            APP, url, url, lambda: http(url), attempts=3, timeout=httpx.Timeout(10.0)
        )
        value, _ = await tokens.bearer("POST")
        return value

    with ReplayServer(answer) as server:
        assert asyncio.run(scenario(server.url)) == token["access_token"]
        assert server.requests == 2
