import asyncio

import pytest

import pipeline.coze.client as client_module
from benchmarks.variants import OneClient, apply
from pipeline.coze.client import CozeClient
from pipeline.coze.config import CozeSettings
from pipeline.emulator import EmulatorConfig, EmulatorProcess


def test_one_client_replaces_the_shards_and_serves_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The variant the shards are measured against is one working client, not a broken one."""
    monkeypatch.setattr(client_module, "Connections", client_module.Connections)  # restored after
    apply("one-client")

    async def scenario(url: str) -> int:
        settings = CozeSettings.from_env({}, base_url=url, rps=1000.0)
        async with CozeClient(settings) as client:
            assert isinstance(client._connections, OneClient)
            answers = await asyncio.gather(
                *(
                    client.run_metadata(f"https://www.douyin.com/video/76{n:017d}")
                    for n in range(20)
                )
            )
        return len(answers)

    with EmulatorProcess(EmulatorConfig(profile="fast", latency=0.2)) as emulator:
        assert asyncio.run(scenario(emulator.url)) == 20
        assert emulator.stats()["peak_in_flight"] > 8  # more than one shard would have held


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown variant"):
        apply("no-such-piece")
