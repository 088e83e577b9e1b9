"""Restarts: the component process, Prosody and Redis, one at a time.

The component keeps no state of its own: a new process (fresh objects from
the same settings) finds every node, item, subscription and affiliation in
Redis.  A running bridge reconnects to a restarted Prosody by itself, and
keeps serving through a Redis restart, answering errors (not silence) while
Redis is away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from tests.integration.bridge_fixtures import PubSubClient, pubsub
from tests.integration.bridges import serving
from tests.integration.streams import TIMEOUT, Account, ClientFactory, disconnect, logged_in_client
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.runner import Bridge
from tools.localservers import ProsodyServer, RedisServer

pytestmark = pytest.mark.slow


def settings_for(prosody: ProsodyServer, redis_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
                "reconnect_max_delay": 2,
            },
            "redis": {"url": redis_url},
            "pubsub": {"node_creation": "anyone"},
        }
    )


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Wait (bounded) for ``condition`` to hold."""

    async def holds() -> bool:
        outcome = condition()
        return outcome if isinstance(outcome, bool) else await outcome

    async def poll() -> None:
        while not await holds():  # noqa: ASYNC110 - facts of other processes, no event to await
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), 4 * TIMEOUT)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


async def clients(
    factory: ClientFactory, make_account: Callable[[], Account], jid: str, count: int
) -> list[PubSubClient]:
    return [PubSubClient(await factory(*make_account()), jid) for _ in range(count)]


async def expect_item(client: PubSubClient, node: str, item_id: str) -> None:
    message = await client.next_event()
    ids = [item.get("id") for item in message.iter(f"{{{ns.PUBSUB}#event}}item")]
    assert ids == [item_id], message


async def test_a_new_component_process_finds_all_state_even_after_redis_restarts(
    prosody: ProsodyServer,
    xmpp_client: ClientFactory,
    make_account: Callable[[], Account],
) -> None:
    with RedisServer(appendonly=True) as redis:
        settings = settings_for(prosody, redis.url)
        alice, bob = await clients(xmpp_client, make_account, prosody.component_jid, 2)
        async with serving(settings, first_retry_delay=0.2):
            await alice.create("durable", {"pubsub#title": "Kept", "pubsub#max_items": "10"})
            await alice.affiliate("durable", bob.jid, "publisher")
            await bob.subscribe("durable")
            await alice.publish("durable", "before")
            await expect_item(bob, "durable", "before")

        redis.restart()  # from its append-only file

        async with serving(settings, first_retry_delay=0.2) as fresh:
            assert fresh.sessions == 1
            assert await alice.item_ids("durable") == ["before"]
            subscriptions = await bob.ok("get", pubsub("<subscriptions node='durable'/>"))
            assert [
                (s.get("jid"), s.get("subscription"))
                for s in subscriptions.iter(ns.tag(ns.PUBSUB, "subscription"))
            ] == [(bob.jid, "subscribed")]
            affiliations = await alice.ok(
                "get", pubsub("<affiliations node='durable'/>", owner=True)
            )
            assert {
                a.get("jid"): a.get("affiliation")
                for a in affiliations.iter(ns.tag(ns.PUBSUB_OWNER, "affiliation"))
            } == {
                alice.jid: "owner",
                bob.jid: "publisher",
            }
            configure = await alice.ok("get", pubsub("<configure node='durable'/>", owner=True))
            values = {
                f.get("var"): f.findtext(ns.tag(ns.DATA, "value"))
                for f in configure.iter(ns.tag(ns.DATA, "field"))
            }
            assert (values["pubsub#title"], values["pubsub#max_items"]) == ("Kept", "10")

            await bob.publish("durable", "after")
            await expect_item(bob, "durable", "after")
            async with AsyncThoonk.from_url(redis.url) as app:
                await (await app.feed("durable")).publish("from an app", "app")
            await expect_item(bob, "durable", "app")


async def test_component_reconnects_after_prosody_restarts(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    with ProsodyServer() as own:
        accounts = [(own.register(f"u{n}", f"pw-{n}-x"), f"pw-{n}-x") for n in range(2)]
        async with serving(settings_for(own, redis_server.url), first_retry_delay=0.2) as bridge:
            first = [await logged_in_client(own, *account) for account in accounts]
            alice, bob = (PubSubClient(c, own.component_jid) for c in first)
            await alice.create("survivor")
            await bob.subscribe("survivor")
            await alice.publish("survivor", "one")
            await expect_item(bob, "survivor", "one")

            own.restart()
            await until(lambda: bridge.sessions >= 2, "the component reconnected")
            await asyncio.gather(*(disconnect(c) for c in first))

            again = [await logged_in_client(own, *account) for account in accounts]
            try:
                alice, bob = (PubSubClient(c, own.component_jid) for c in again)
                await alice.publish("survivor", "two")
                await expect_item(bob, "survivor", "two")
            finally:
                await asyncio.gather(*(disconnect(c) for c in again))


async def test_bridge_survives_a_redis_restart(
    prosody: ProsodyServer,
    xmpp_client: ClientFactory,
    make_account: Callable[[], Account],
) -> None:
    with RedisServer(appendonly=True) as redis:
        alice, bob = await clients(xmpp_client, make_account, prosody.component_jid, 2)
        async with serving(settings_for(prosody, redis.url), first_retry_delay=0.2) as bridge:
            await alice.create("weather")
            await bob.subscribe("weather")
            redis.stop()
            error = await alice.send(
                "set",
                pubsub(
                    "<publish node='weather'><item id='lost'><x xmlns='urn:t'/></item></publish>"
                ),
            )
            assert error.get("type") == "error"
            conditions = {child.tag for child in error.iter() if ns.STANZAS in child.tag}
            assert conditions & {
                ns.tag(ns.STANZAS, "internal-server-error"),
                ns.tag(ns.STANZAS, "service-unavailable"),
            }, conditions

            redis.start()
            # Notices sent before the listener is back are lost (Redis pub/sub keeps
            # nothing), so wait until Redis itself counts its pattern subscriptions.
            await until(lambda: bridge.thoonk.redis.pubsub_numpat(), "the listener resubscribed")
            await alice.publish("weather", "sunny")
            await expect_item(bob, "weather", "sunny")
            async with AsyncThoonk.from_url(redis.url) as app:
                await (await app.feed("weather")).publish("rain", "rainy")
            await expect_item(bob, "weather", "rainy")
            assert await alice.item_ids("weather") == ["sunny", "rainy"]


async def test_bridge_retries_while_prosody_is_down_and_stops_on_request(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    with ProsodyServer() as own:
        bridge = Bridge(
            settings_for(own, redis_server.url), timeout=TIMEOUT, first_retry_delay=0.05
        )
        await bridge.start()
        stop = asyncio.Event()
        serving = asyncio.create_task(bridge.serve(stop))
        try:
            own.stop()
            await until(lambda: bridge.component.disconnected.is_set(), "the session ended")
            own.start()
            await until(lambda: bridge.sessions == 2, "the component reconnected")
            own.stop()
            await until(lambda: bridge.component.disconnected.is_set(), "the session ended again")
            stop.set()  # while it keeps retrying a server that is gone
            await asyncio.wait_for(serving, TIMEOUT)
        finally:
            stop.set()
            await asyncio.gather(serving, return_exceptions=True)
            await bridge.aclose()
        assert bridge.sessions == 2
