"""XEP-0033 multicast where the server offers it: ejabberd's mod_multicast (enabled by the
operator's config/ejabberd/thoonk-xmpp.yml) and, on Prosody, the mod_thoonk_multicast we
ship (loaded by config/prosody/thoonk-xmpp.cfg.lua).

With it, one event message goes to the multicast service for all local subscribers,
and each subscriber still gets the event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.bridge_fixtures import EVENT, ON_BOTH_SERVERS, PubSubClient, ids_in, pubsub
from tests.integration.bridges import started
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from thoonk_xmpp.service.events import ItemPublished, Recipient
from thoonk_xmpp.service.model import Actor, NotificationType
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.xmpp.multicast import MulticastFlow
from thoonk_xmpp.xmpp.ns import PUBSUB
from thoonk_xmpp.xmpp.runner import Bridge
from tools.local_ejabberd import EjabberdServer
from tools.localservers import RedisServer, XmppServer

MakeAccount = Callable[[], Account]


def settings_for(server: XmppServer, redis: RedisServer, multicast_limit: int = 20) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": server.component_jid,
                "secret": server.secret,
                "port": server.component_port,
                "multicast": True,
                "multicast_limit": multicast_limit,
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
        expected = f"multicast.{xmpp_server.domain}"
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
        assert sent() == 1  # stanzas on the component link
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


@ON_BOTH_SERVERS
async def test_more_subscribers_than_one_message_takes_get_it_in_several(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
    request: pytest.FixtureRequest,
) -> None:
    node = f"crowded-{request.node.callspec.params['xmpp_server']}"
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        limit = bridge.settings.component.multicast_limit
        clients = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(limit + 3)
        ]
        await clients[0].create(node)
        for client in clients:
            await client.subscribe(node)
        sent = _count_sent(bridge)
        await clients[0].publish(node, "one")
        for client in clients:
            assert ids_in(await client.next_event(), EVENT) == ["one"]
        assert sent() == 2  # limit addresses in one message, the 3 others in another


@ON_BOTH_SERVERS
async def test_the_multicast_addresses_follow_subscriptions_made_and_ended(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
    request: pytest.FixtureRequest,
) -> None:
    """A node's address groups are kept between publishes (multicast.SplitCache):
    a subscription made or ended between two publishes must change them."""
    node = f"changing-{request.node.callspec.params['xmpp_server']}"
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        first, second, late = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(3)
        ]
        await first.create(node)
        for client in (first, second):
            await client.subscribe(node)
        sent = _count_sent(bridge)
        await first.publish(node, "one")
        for client in (first, second):
            assert ids_in(await client.next_event(), EVENT) == ["one"]
        await late.subscribe(node)
        await first.publish(node, "two")
        for client in (first, second, late):
            assert ids_in(await client.next_event(), EVENT) == ["two"]
        await second.ok("set", pubsub(f"<unsubscribe node='{node}' jid='{second.jid}'/>"))
        await first.publish(node, "three")
        for client in (first, late):
            assert ids_in(await client.next_event(), EVENT) == ["three"]
        await second.subscribe(node)
        await first.publish(node, "four")
        for client in (first, second, late):  # second never got "three"
            assert ids_in(await client.next_event(), EVENT) == ["four"]
        assert sent() == 4  # every one through the multicast service


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_a_listed_service_that_never_answers_does_not_hide_the_multicast_one(
    xmpp_server: XmppServer, redis_server: RedisServer
) -> None:
    """Another component of the server that ignores disco (listed in the server's
    disco#items ahead of mod_multicast) is skipped: the look-up still finds the service."""
    assert isinstance(xmpp_server, EjabberdServer)
    settings = settings_for(xmpp_server, redis_server)
    async with _silent_component(xmpp_server), started(settings) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        assert bridge.notifier.multicast is not None
        assert bridge.notifier.multicast.jid == f"multicast.{xmpp_server.domain}"


@contextlib.asynccontextmanager
async def _silent_component(server: EjabberdServer) -> AsyncIterator[None]:
    """A component on the server's second component address that reads and never answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.spare_component_port)
    try:
        writer.write(
            b"<stream:stream xmlns='jabber:component:accept'"
            b" xmlns:stream='http://etherx.jabber.org/streams'"
            + f" to='{server.spare_component_jid}'>".encode()
        )
        header = await asyncio.wait_for(reader.readuntil(b">"), 10)
        while b"stream:stream" not in header:
            header += await asyncio.wait_for(reader.readuntil(b">"), 10)
        stream_id = re.search(rb"""\bid=['"]([^'"]+)['"]""", header)
        assert stream_id is not None, header
        digest = hashlib.sha1(stream_id.group(1) + server.secret.encode()).hexdigest()
        writer.write(f"<handshake>{digest}</handshake>".encode())
        assert (await asyncio.wait_for(reader.readuntil(b">"), 10)).startswith(b"<handshake")
        ignoring = asyncio.create_task(_read_until_closed(reader))
        try:
            yield
        finally:
            ignoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ignoring
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_the_multicast_service_confirms_the_copies_handed_to_it(
    xmpp_server: XmppServer, redis_server: RedisServer
) -> None:
    """Its answer to a question asked after some messages says they are routed: until
    then, past the limit, there is no room."""
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        assert bridge.notifier.multicast is not None
        flow = MulticastFlow(bridge.component.xmpp, bridge.component.jid, limit=2)
        flow.handed(3)
        waiting = asyncio.create_task(flow.room())
        await asyncio.sleep(0)
        assert not waiting.done()
        flow.written(bridge.notifier.multicast.jid)
        await asyncio.wait_for(waiting, 10)
        assert flow.unconfirmed == 0


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_publishes_wait_while_the_multicast_service_is_behind(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    """A publish is taken only while at most ``limit`` copies are not known routed (the
    service would otherwise fall ever further behind), and every event still arrives."""
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        flow = bridge.component.multicast_flow
        flow.limit = 4
        clients = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(5)
        ]
        await clients[0].create("paced")
        for client in clients:
            await client.subscribe("paced")
        seen: list[int] = []
        answer = bridge.component._answer

        async def noting(iq: ET.Element) -> None:
            if iq.find(f"{{{PUBSUB}}}pubsub/{{{PUBSUB}}}publish") is not None:
                seen.append(flow.unconfirmed)
            await answer(iq)

        bridge.component._answer = noting  # type: ignore[method-assign]
        items = [f"i{n}" for n in range(20)]
        await asyncio.gather(*(clients[0].publish("paced", item) for item in items))
        for client in clients:
            assert [ids_in(await client.next_event(), EVENT)[0] for _ in items] == items
        assert len(seen) == len(items)
        assert max(seen) <= flow.limit


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_copies_handed_while_the_link_went_down_do_not_hold_publishes_back(
    xmpp_server: XmppServer, redis_server: RedisServer
) -> None:
    """An event being sent when the link is lost keeps making messages for the service
    it started with: their copies are asked about too, so publishes after the link is
    back get room without needing another event to ask for them."""
    async with started(settings_for(xmpp_server, redis_server)) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        notifier = bridge.notifier
        assert notifier.multicast is not None
        flow = bridge.component.multicast_flow
        flow.limit = 4
        notifier.multicast = dataclasses.replace(notifier.multicast, limit=2)
        send = notifier._send

        def losing_the_link_after_the_first_batch(messages: list[str]) -> None:
            send(messages)
            if notifier.multicast is not None:  # what the 'disconnected' handlers do
                flow.reset()
                notifier.multicast = None

        notifier._send = losing_the_link_after_the_first_batch
        recipients = tuple(
            Recipient(f"nobody{n}@{xmpp_server.domain}", (f"s{n}",)) for n in range(2 * 300)
        )
        await notifier.deliver(
            ItemPublished("lost", recipients, NotificationType.HEADLINE, "i1", None)
        )
        assert flow.unconfirmed > flow.limit  # handed after the reset
        await asyncio.wait_for(flow.room(), 10)


#: thoonk_multicast_limit of the Prosody test server (config/prosody/thoonk-xmpp.cfg.lua).
PROSODY_SERVICE_LIMIT = 100


@pytest.mark.parametrize("xmpp_server", ["prosody"], indirect=True)
async def test_a_multicast_limit_above_the_services_is_warned_of_and_unicast_takes_over(
    xmpp_server: XmppServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The service refuses (not-acceptable) a message with more addresses than it takes
    and delivers none of it: the first event is lost, then the link goes on one message
    per subscriber, and the operator is told to lower multicast_limit."""
    caplog.set_level(logging.WARNING, logger="thoonk_xmpp.xmpp.runner")
    settings = settings_for(xmpp_server, redis_server, PROSODY_SERVICE_LIMIT + 50)
    async with started(settings) as bridge:
        assert bridge._finding is not None
        await bridge._finding
        assert bridge.notifier.multicast is not None
        clients = [
            PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.component.jid)
            for _ in range(3)
        ]
        await clients[0].create("too-many")
        for client in clients:
            await client.subscribe("too-many")
        for n in range(PROSODY_SERVICE_LIMIT):  # accounts that do not exist: headlines dropped
            jid = f"nobody{n}@{xmpp_server.domain}"
            await bridge.service.subscribe(Actor(jid), "too-many", jid)
        refused = asyncio.Event()
        service = bridge.notifier.multicast.jid
        bridge.component.xmpp.add_event_handler(  # after the bridge's own handler
            "message_error", lambda m: refused.set() if m["from"].bare == service else None
        )
        await clients[0].publish("too-many", "refused")
        await asyncio.wait_for(refused.wait(), TIMEOUT)
        assert bridge.notifier.multicast is None
        for item in ("two", "three"):
            await clients[0].publish("too-many", item)
        for client in clients:  # "refused" never came, the others each once
            received = [ids_in(await client.next_event(), EVENT) for _ in range(2)]
            assert received == [["two"], ["three"]]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("not-acceptable" in w and "multicast_limit" in w for w in warnings), warnings
        assert bridge.component.connected.is_set()
        assert bridge.sessions == 1
