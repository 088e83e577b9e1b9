"""Presence reaches the service's presence store (service/presence.py) through the real
Prosody: forwarded under the XEP-0356 presence privilege that config/prosody grants, and
sent to the service directly where no privilege is granted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from tests.integration.bridge_fixtures import Bridge, PubSubClientFactory
from tests.integration.streams import disconnect
from thoonk_xmpp.service.presence import Show

UNPRIVILEGED = pytest.mark.parametrize("xmpp_server", ["prosody_unprivileged"], indirect=True)


async def until(holds: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def test_forwarded_presence_follows_a_user(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    client = await pubsub_client()
    store = bridge.service.presence

    async def shown(show: Show) -> bool:
        return (await store.shows(client.jid)).get(client.full_jid) == show

    await until(lambda: shown(Show.ONLINE), "the login is known")
    client.xmpp.send_presence(pshow="away")
    await until(lambda: shown(Show.AWAY), "away is known")
    await disconnect(client.xmpp)

    async def offline() -> bool:
        return not await store.is_available(client.full_jid)

    await until(offline, "the logout is known")


@UNPRIVILEGED
async def test_without_privilege_only_presence_sent_to_the_service_counts(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    client = await pubsub_client()
    other = await pubsub_client()
    store = bridge.service.presence
    client.xmpp.send_presence(pto=bridge.jid, pshow="chat")

    async def chatty() -> bool:
        return (await store.shows(client.jid)).get(client.full_jid) == Show.CHAT

    await until(chatty, "the directed presence is known")
    assert not await store.is_available(other.jid)  # its broadcast is not forwarded
    await disconnect(client.xmpp)  # the server tells the service the user left

    async def offline() -> bool:
        return not await store.is_available(client.jid)

    await until(offline, "the logout is known")
