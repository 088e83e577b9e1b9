"""Requests are never timed out but their waiting is bounded ([limits]), through Prosody.

While Redis is paused, requests wait for it (and are answered with their real
outcome when it resumes); past ``pending_per_sender`` a request is refused at
once with resource-constraint, and past the rate with policy-violation, each
changing nothing.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from slixmpp.stanza.error import Error as StanzaError

from tests.integration.bridge_fixtures import PubSubClient, pubsub
from tests.integration.bridges import started
from tests.integration.conftest import ClientFactory
from tests.integration.streams import Account
from thoonk_xmpp.settings import Settings
from tools.localservers import ProsodyServer, RedisServer

MakeAccount = Callable[[], Account]

# The test client's slixmpp (1.17) lacks RFC 6120's policy-violation (§8.3.3.12) and fails
# on any error carrying it; teach it the condition.
StanzaError.conditions.add("policy-violation")


def settings_for(prosody: ProsodyServer, redis_url: str, limits: dict[str, Any]) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
            },
            "redis": {"url": redis_url},
            "pubsub": {"node_creation": "anyone"},
            "limits": limits,
        }
    )


def publish(node: str, item_id: str) -> str:
    return pubsub(
        f"<publish node='{node}'><item id='{item_id}'><x xmlns='urn:t'/></item></publish>"
    )


async def test_requests_wait_for_a_paused_redis_and_past_the_bound_are_refused_at_once(
    prosody: ProsodyServer, make_account: MakeAccount, xmpp_client: ClientFactory
) -> None:
    with RedisServer() as redis:
        settings = settings_for(prosody, redis.url, {"pending_per_sender": 3})
        async with started(settings) as bridge:
            alice = PubSubClient(await xmpp_client(*make_account()), bridge.component.jid)
            await alice.create("held")
            assert redis.process is not None
            redis.process.send_signal(signal.SIGSTOP)
            try:
                waiting = [
                    asyncio.ensure_future(alice.send("set", publish("held", f"w{n}")))
                    for n in range(3)
                ]
                while bridge.component.gate.pending < 3:  # noqa: ASYNC110 - another task's count
                    await asyncio.sleep(0.01)
                refused = await alice.fails("set", publish("held", "over"))
                assert refused == ("wait", "resource-constraint")
                assert not any(w.done() for w in waiting)  # nothing timed out meanwhile
            finally:
                redis.process.send_signal(signal.SIGCONT)
            answers = await asyncio.gather(*waiting)
            assert [a.get("type") for a in answers] == ["result"] * 3
            assert await alice.item_ids("held") == ["w0", "w1", "w2"]
            assert bridge.component.gate.pending == 0


async def test_a_sender_over_its_rate_is_refused_and_nothing_changes(
    prosody: ProsodyServer, make_account: MakeAccount, xmpp_client: ClientFactory
) -> None:
    with RedisServer() as redis:
        settings = settings_for(prosody, redis.url, {"rate": 0.01, "burst": 3})
        async with started(settings) as bridge:
            alice = PubSubClient(await xmpp_client(*make_account()), bridge.component.jid)
            bob = PubSubClient(await xmpp_client(*make_account()), bridge.component.jid)
            await alice.create("rated")
            await alice.publish("rated", "one")
            await alice.publish("rated", "two")
            refused = await alice.fails("set", publish("rated", "three"))
            assert refused == ("wait", "policy-violation")
            # another sender has its own allowance
            assert await bob.item_ids("rated") == ["one", "two"]
