"""Under Prosody one instance serves the component JID and others stand by.

A second instance with ``[component] standby = true`` waits while the first holds
the JID (Prosody answers its handshake with ``conflict``), takes over when the
first dies, and catches up on what was stored in between: every item reaches
the subscriber.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.bridge_fixtures import EVENT, PubSubClient, ids_in
from tests.integration.bridges import serving
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.xmpp.runner import Bridge, StartupError
from tools.localservers import ProsodyServer, RedisServer

MakeAccount = Callable[[], Account]


def settings_for(prosody: ProsodyServer, redis_url: str, *, standby: bool) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
                "standby": standby,
            },
            "redis": {"url": redis_url},
            "pubsub": {"node_creation": "anyone"},
        }
    )


async def die(bridge: Bridge) -> None:
    """Stop as a killed process would: the link drops, nothing is settled or released."""
    transport = bridge.component.xmpp.transport
    assert transport is not None
    transport.abort()
    await bridge.router.aclose()
    await bridge.thoonk.aclose()


async def received_until(client: PubSubClient, wanted: set[str]) -> list[str]:
    """Every item id of the events received until each of ``wanted`` came."""
    ids: list[str] = []
    while not wanted <= set(ids):
        ids += ids_in(await client.next_event(), EVENT)
    return ids


async def test_a_standby_takes_over_and_catches_up(
    prosody: ProsodyServer, make_account: MakeAccount, xmpp_client: ClientFactory
) -> None:
    with RedisServer() as redis:
        active = Bridge(settings_for(prosody, redis.url, standby=False), timeout=TIMEOUT)
        await active.start()
        try:
            # without standby a second instance is refused at start, naming the cure
            refused = Bridge(settings_for(prosody, redis.url, standby=False), timeout=TIMEOUT)
            try:
                await refused.start()
            except StartupError as exc:
                assert "standby = true" in str(exc)
            else:
                raise AssertionError("a second instance started without standby")
            async with serving(settings_for(prosody, redis.url, standby=True)) as standby:
                assert standby.sessions == 0
                bob = PubSubClient(
                    await xmpp_client(*make_account(), plugins=()), active.component.jid
                )
                await bob.create("relay")
                await bob.subscribe("relay")
                async with AsyncThoonk.from_url(redis.url) as app:
                    feed = await app.feed("relay")
                    await feed.publish("<x xmlns='t'/>", "before")
                    assert await received_until(bob, {"before"}) == ["before"]
                    await die(active)
                    for n in range(5):  # while nobody serves, then while the standby starts
                        await feed.publish("<x xmlns='t'/>", f"gap-{n}")
                    gap = {f"gap-{n}" for n in range(5)}
                    ids = await received_until(bob, gap)
                    # each once; "before" again at most (stored just before the kill,
                    # within the margin a killed instance leaves to its successor)
                    assert sorted(ids) == sorted(gap | {"before"} & set(ids))
                    assert standby.sessions == 1
                    await feed.publish("<x xmlns='t'/>", "after")
                    assert await received_until(bob, {"after"}) == ["after"]
        finally:
            await active.aclose()
