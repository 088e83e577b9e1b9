"""``thoonk-xmpp run`` logs, as text or JSON lines: refusals once at debug, never the secret.

The process runs at log level debug (slixmpp's stanza dumps included), is sent
one request that succeeds and one that is refused, then stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.integration.bridge_fixtures import PubSubClient, pubsub
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from tools.localservers import ProsodyServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, prosody: ProsodyServer, redis_url: str, log_format: str) -> Path:
    path.write_text(
        "[component]\n"
        f'jid = "{prosody.component_jid}"\n'
        f'secret = "{prosody.secret}"\n'
        f"port = {prosody.component_port}\n"
        "[redis]\n"
        f'url = "{redis_url}"\n'
        "[pubsub]\n"
        'node_creation = "anyone"\n'
        "[log]\n"
        'level = "debug"\n'
        f'format = "{log_format}"\n'
    )
    return path


def contents(path: Path) -> str:
    """What the process wrote so far (a small local file: read at once)."""
    return path.read_text()


async def run_and_request(
    config: Path, log_path: Path, requests: Callable[[], Awaitable[None]]
) -> str:
    """Run ``thoonk-xmpp run``, make ``requests`` once it serves, stop it; its whole output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("THOONK_XMPP_SECRET", None)
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "thoonk_xmpp", "run", "--config", str(config)),
            cwd=ROOT,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
    try:

        async def serving() -> None:
            while "serving" not in contents(log_path):
                assert process.returncode is None, contents(log_path)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(serving(), 4 * TIMEOUT)
        await requests()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 4 * TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return contents(log_path)


@pytest.mark.parametrize("log_format", ["plain", "json"])
async def test_refusals_logged_once_and_the_secret_never(
    log_format: str,
    tmp_path: Path,
    prosody: ProsodyServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,  # a flushed database
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url, log_format)
    alice: list[PubSubClient] = []

    async def requests() -> None:
        client = PubSubClient(await xmpp_client(*make_account(), plugins=()), prosody.component_jid)
        alice.append(client)
        await client.create("logged")
        await client.publish("logged", "one")
        refused = await client.fails("get", pubsub("<items node='nowhere'/>"))
        assert refused.condition == "item-not-found"

    output = await run_and_request(config, tmp_path / "out.log", requests)

    assert "SEND:" in output  # debug logging really was on
    assert prosody.secret not in output
    jid = alice[0].jid
    if log_format == "json":
        entries = [json.loads(line) for line in output.splitlines()]
        assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
        refusals = [entry for entry in entries if entry["message"].startswith("refused ")]
        assert len(refusals) == 1, refusals
        refusal = refusals[0]
        assert refusal["level"] == "debug"
        assert (refusal["verb"], refusal["node"], refusal["condition"]) == (
            "get-items",
            "nowhere",
            "item-not-found",
        )
        assert refusal["actor"].startswith(jid + "/")
    else:
        refusals = [line for line in output.splitlines() if ": refused " in line]
        assert len(refusals) == 1, refusals
        assert (
            " DEBUG thoonk_xmpp.xmpp.errors: refused get-items on node nowhere from "
            in (refusals[0])
        )
        assert refusals[0].endswith(": item-not-found")
        assert f" from {jid}/" in refusals[0]
