"""XEP-0033 multicast where the server offers it: ejabberd's mod_multicast (enabled by the
operator's config/ejabberd/thoonk-xmpp.yml), never Prosody (which has none).

With it, one event message goes to the multicast service for all local subscribers,
and each subscriber still gets the event exactly once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.bridge_fixtures import EVENT, ON_BOTH_SERVERS, PubSubClient, ids_in
from tests.integration.bridges import started
from tests.integration.streams import Account, ClientFactory
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.xmpp.runner import Bridge
from tools.localservers import RedisServer, XmppServer

MakeAccount = Callable[[], Account]


def settings_for(server: XmppServer, redis: RedisServer) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": server.component_jid,
                "secret": server.secret,
                "port": server.component_port,
                "multicast": True,
            },
            "redis": {"url": redis.url},
            "pubsub": {"node_creation": "anyone"},
        }
    )


@ON_BOTH_SERVERS
async def test_events_go_through_the_servers_multicast_service_where_there_is_one(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
    request: pytest.FixtureRequest,
) -> None:
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding  # the look-up after the session started
        on_ejabberd = request.node.callspec.params["xmpp_server"] == "ejabberd"
        expected = f"multicast.{xmpp_server.domain}" if on_ejabberd else None
        assert (bridge.notifier.multicast and bridge.notifier.multicast.jid) == expected
        clients = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(3)
        ]
        node = f"fanned-{request.node.callspec.params['xmpp_server']}"
        await clients[0].create(node)
        for client in clients:
            await client.subscribe(node)
        sent = _count_sent(bridge)
        await clients[0].publish(node, "one")
        for client in clients:
            assert ids_in(await client.next_event(), EVENT) == ["one"]
        assert sent() == (1 if on_ejabberd else 3)  # stanzas on the component link
        await clients[0].publish(node, "two")
        for client in clients:  # each once, nothing more came
            assert ids_in(await client.next_event(), EVENT) == ["two"]


def _count_sent(bridge: Bridge) -> Callable[[], int]:
    """Count the notification stanzas the bridge writes from now on."""
    counted = [0]
    send = bridge.notifier._send

    def counting(messages: list[str]) -> None:
        counted[0] += len(messages)
        send(messages)

    bridge.notifier._send = counting
    return lambda: counted[0]


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_more_subscribers_than_one_message_takes_get_it_in_several(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        limit = bridge.settings.component.multicast_limit
        clients = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(limit + 3)
        ]
        await clients[0].create("crowded")
        for client in clients:
            await client.subscribe("crowded")
        sent = _count_sent(bridge)
        await clients[0].publish("crowded", "one")
        for client in clients:
            assert ids_in(await client.next_event(), EVENT) == ["one"]
        assert sent() == 2  # limit addresses in one message, the 3 others in another
