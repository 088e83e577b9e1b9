"""Users of another XMPP server, reaching the bridge over s2s.

``remote_prosody`` (conftest.py) is a second Prosody serving ``REMOTE_DOMAIN``,
linked to the session's Prosody by s2s (dialback, no TLS, loopback ports found
through tools/prosody/mod_s2s_test_routes.lua). ``remote_pubsub_client`` makes
logged-in, available :class:`PubSubClient`\\ s on it, each on a fresh account.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from slixmpp import ClientXMPP

from tests.integration.bridge_fixtures import Bridge, PubSubClient, PubSubClientFactory
from tests.integration.streams import disconnect, logged_in_client
from tools.localservers import ProsodyServer

#: The remote server's domain (RFC 6761 reserves .test: nothing real is ever there).
REMOTE_DOMAIN = "remote.test"


@pytest.fixture
async def remote_pubsub_client(
    remote_prosody: ProsodyServer, prosody: ProsodyServer, bridge: Bridge
) -> AsyncIterator[PubSubClientFactory]:
    """Factory: ``await remote_pubsub_client()`` logs a fresh account of the remote server in.

    Only with the bridge on Prosody (the server ``remote_prosody`` is linked to).
    """
    if bridge.server is not prosody:
        pytest.fail("remote users reach the bridge only on the session's Prosody", pytrace=False)
    clients: list[ClientXMPP] = []

    async def make() -> PubSubClient:
        password = secrets.token_urlsafe(12)
        jid = remote_prosody.register(f"remote-{secrets.token_hex(4)}", password)
        xmpp = await logged_in_client(remote_prosody, jid, password, plugins=())
        clients.append(xmpp)
        return PubSubClient(xmpp, bridge.jid)

    yield make
    await asyncio.gather(*(disconnect(client) for client in clients))
