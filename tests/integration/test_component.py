"""PubSubComponent's link to the server: typed connect failures, disconnect, reconnect,
raw stanzas — against the real test Prosody."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest

from tests.integration.bridge_fixtures import ON_BOTH_SERVERS, Bridge, PubSubClientFactory
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.component import (
    ConnectionRefused,
    PubSubComponent,
    SessionTimeout,
    StreamRefused,
)
from tools.localservers import free_port


def component(
    bridge: Bridge, *, secret: str | None = None, port: int | None = None
) -> PubSubComponent:
    server = bridge.server
    return PubSubComponent(
        server.component_jid,
        server.secret if secret is None else secret,
        "127.0.0.1",
        server.component_port if port is None else port,
        bridge.service,
        bridge.router,
    )


@ON_BOTH_SERVERS
async def test_a_wrong_secret_is_refused_as_not_authorized(bridge: Bridge) -> None:
    await bridge.component.disconnect()
    intruder = component(bridge, secret="not-the-secret")

    with pytest.raises(StreamRefused) as refused:
        await intruder.connect(timeout=10)

    assert refused.value.condition == "not-authorized"
    assert intruder.disconnected.is_set()


async def test_a_second_connection_is_refused_as_conflict(bridge: Bridge) -> None:
    second = component(bridge)

    with pytest.raises(StreamRefused) as refused:
        await second.connect(timeout=10)

    assert refused.value.condition == "conflict"
    assert bridge.component.connected.is_set()


async def test_nothing_listening_is_connection_refused(bridge: Bridge) -> None:
    lost = component(bridge, port=free_port())

    with pytest.raises(ConnectionRefused):
        await lost.connect(timeout=10)


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_no_session_in_time_is_a_session_timeout(bridge: Bridge, silent_port: int) -> None:
    mute = component(bridge, port=silent_port)

    with pytest.raises(SessionTimeout):
        await mute.connect(timeout=0.5)


@ON_BOTH_SERVERS
async def test_disconnect_then_connect_again_serves_again(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    link = bridge.component
    assert link.connected.is_set() and not link.disconnected.is_set()

    await link.disconnect()
    await link.wait_disconnected()
    assert not link.connected.is_set()
    offline = await alice.send("get", f"<ping xmlns='{ns.PING}'/>")
    assert offline.get("type") == "error"  # Prosody answers for an absent component

    await link.connect(timeout=10)
    assert (await alice.send("get", f"<ping xmlns='{ns.PING}'/>")).get("type") == "result"


@ON_BOTH_SERVERS
async def test_send_element_delivers_a_raw_stanza(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    message = ET.Element(
        ns.tag(ns.STANZA, "message"), {"from": bridge.jid, "to": alice.jid, "id": "raw1"}
    )
    event = ET.SubElement(message, ns.tag(f"{ns.PUBSUB}#event", "event"))
    ET.SubElement(event, ns.tag(f"{ns.PUBSUB}#event", "purge"), {"node": "n"})

    bridge.component.send_element(message)

    received = await alice.next_event()
    assert received.get("id") == "raw1"
    assert received.get("from") == bridge.jid
