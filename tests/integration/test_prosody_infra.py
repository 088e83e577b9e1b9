"""The test Prosody itself: logins, the component handshake, routing to the component."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from slixmpp import Iq
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.streams import (
    TIMEOUT,
    Account,
    ClientFactory,
    ComponentFactory,
    StreamRefused,
    disconnect,
    logged_in_client,
)
from tools.localservers import ProsodyServer, PubsubStorage

PROBE_NS = "urn:thoonk-xmpp:test:probe"


async def test_two_clients_log_in_and_talk(
    make_account: Callable[[], Account], xmpp_client: ClientFactory
) -> None:
    alice = await xmpp_client(*make_account())
    bob = await xmpp_client(*make_account())
    received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    bob.add_event_handler("message", received.set_result)

    alice.send_message(mto=bob.boundjid.bare, mbody="hello")

    message = await asyncio.wait_for(received, TIMEOUT)
    assert message["body"] == "hello"
    assert message["from"] == alice.boundjid


async def test_component_with_the_right_secret_starts_a_session(
    prosody: ProsodyServer, xmpp_component: ComponentFactory
) -> None:
    component = await xmpp_component()

    assert component.sessionstarted
    assert component.boundjid.bare == prosody.component_jid


async def test_component_with_a_wrong_secret_never_starts(
    xmpp_component: ComponentFactory,
) -> None:
    with pytest.raises(StreamRefused) as refused:
        await xmpp_component(secret="not-the-secret")

    assert refused.value.condition == "not-authorized"


async def test_second_connection_for_the_component_gets_conflict(
    xmpp_component: ComponentFactory,
) -> None:
    first = await xmpp_component()

    with pytest.raises(StreamRefused) as refused:
        await xmpp_component()

    assert refused.value.condition == "conflict"
    assert first.sessionstarted


async def test_client_iq_reaches_the_component(
    prosody: ProsodyServer,
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
    xmpp_component: ComponentFactory,
) -> None:
    component = await xmpp_component()
    received: asyncio.Future[Iq] = asyncio.get_running_loop().create_future()

    def on_probe(iq: Iq) -> None:
        received.set_result(iq)
        iq.reply().send()

    component.register_handler(
        Callback("probe", MatchXPath(f"{{{component.default_ns}}}iq/{{{PROBE_NS}}}query"), on_probe)
    )
    client = await xmpp_client(*make_account())

    reply = await client.make_iq_get(queryxmlns=PROBE_NS, ito=prosody.component_jid).send(
        timeout=TIMEOUT
    )

    iq = received.result()
    assert iq["type"] == "get"
    assert iq["from"] == client.boundjid
    assert reply["type"] == "result"
    assert reply["from"] == prosody.component_jid


def test_component_file_refuses_to_load_without_a_secret(prosody: ProsodyServer) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("THOONK_XMPP_")}

    done = subprocess.run(
        ["prosodyctl", "--config", str(prosody.config_path), "check", "config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "no component secret; set THOONK_XMPP_SECRET" in done.stdout + done.stderr


def test_test_config_passes_prosodyctl_check(prosody: ProsodyServer) -> None:
    done = subprocess.run(
        ["prosodyctl", "--config", str(prosody.config_path), "check", "config"],
        env={**os.environ, "THOONK_XMPP_SECRET": prosody.secret},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("storage", ["memory", "internal"])
async def test_restart_keeps_accounts_and_pubsub_storage_decides_nodes(
    storage: PubsubStorage,
) -> None:
    with ProsodyServer(pubsub_storage=storage, admins=("admin@localhost",)) as server:
        jid = server.register("admin", "secret-pw")
        client = await logged_in_client(server, jid, "secret-pw")
        try:
            await client.plugin["xep_0060"].create_node(server.pubsub_jid, "kept")
        finally:
            await disconnect(client)

        server.restart()

        client = await logged_in_client(server, jid, "secret-pw")
        try:
            items = await client.plugin["xep_0030"].get_items(jid=server.pubsub_jid)
        finally:
            await disconnect(client)
    nodes = {node for _, node, _ in items["disco_items"]["items"]}
    assert ("kept" in nodes) == (storage == "internal")
