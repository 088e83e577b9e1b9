"""The Prometheus endpoint of a running bridge, scraped over HTTP on loopback.

The bridge is built from settings as ``thoonk-xmpp run`` builds it; requests
come from real XMPP clients through the test Prosody.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.bridge_fixtures import EVENT, PubSubClient, ids_in, pubsub
from tests.integration.bridges import started
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from thoonk_xmpp.service.events import ItemPublished, Recipient
from thoonk_xmpp.service.model import NotificationType
from thoonk_xmpp.settings import RedisSettings, Settings
from thoonk_xmpp.thoonk import TEXT, Feed
from thoonk_xmpp.xmpp.monitor import Monitor
from thoonk_xmpp.xmpp.runner import Bridge, StartupError
from tools.localservers import ProsodyServer, RedisServer, free_port

#: (metric sample name, sorted label pairs) → value
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def _flushed(redis_client: aioredis.Redis) -> None:
    """Every test starts from an empty database (the node counts depend on it)."""


def settings_for(
    prosody: ProsodyServer, redis_server: RedisServer, metrics: dict[str, Any]
) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
            },
            "redis": {"url": redis_server.url},
            "pubsub": {"node_creation": "anyone"},
            "metrics": metrics,
        }
    )


async def scrape(port: int) -> Scrape:
    def get() -> str:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.read().decode()  # type: ignore[no-any-return]

    text = await asyncio.to_thread(get)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scraped_until(port: int, holds: Callable[[Scrape], bool], what: str) -> Scrape:
    """Scrape until ``holds`` (figures sampled or moved by other tasks), bounded."""

    async def poll() -> Scrape:
        while not holds(figures := await scrape(port)):  # noqa: ASYNC110 - read over HTTP
            await asyncio.sleep(0.05)
        return figures

    try:
        return await asyncio.wait_for(poll(), 4 * TIMEOUT)
    except TimeoutError:
        pytest.fail(f"never scraped: {what}")


def value(figures: Scrape, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def client(factory: ClientFactory, account: Account, jid: str) -> PubSubClient:
    return PubSubClient(await factory(*account, plugins=()), jid)


MakeAccount = Callable[[], Account]


async def test_requests_notifications_and_samples_are_scraped(
    prosody: ProsodyServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    port = free_port()
    settings = settings_for(
        prosody, redis_server, {"enabled": True, "port": port, "sample_interval": 0.1}
    )
    async with started(settings) as bridge:
        alice = await client(xmpp_client, make_account(), bridge.component.jid)
        bob = await client(xmpp_client, make_account(), bridge.component.jid)
        await alice.create("metered")
        await bob.subscribe("metered")
        await alice.publish("metered", "one")
        await bob.next_event()
        missing = await alice.fails("set", pubsub("<publish node='nowhere'><item/></publish>"))
        assert missing.condition == "item-not-found"
        bad = await alice.fails("set", pubsub("<subscribe node='metered'/>"))
        assert bad.condition == "bad-request"

        figures = await scraped_until(
            port,
            lambda f: value(f, "thoonk_xmpp_subscriptions") == 1,
            "one subscription sampled",
        )

    requests = "thoonk_xmpp_requests_total"
    assert value(figures, requests, verb="create", outcome="result") == 1
    assert value(figures, requests, verb="subscribe", outcome="result") == 1
    assert value(figures, requests, verb="publish", outcome="result") == 1
    assert value(figures, requests, verb="publish", outcome="item-not-found") == 1
    # refused while parsing: no verb yet
    assert value(figures, requests, verb="unparsed", outcome="bad-request") == 1
    latency = "thoonk_xmpp_request_duration_seconds"
    assert value(figures, latency + "_count", verb="publish") == 2
    assert value(figures, latency + "_count", verb="subscribe") == 1
    assert 0 < value(figures, latency + "_sum", verb="publish") < 2 * TIMEOUT
    assert value(figures, latency + "_bucket", verb="create", le="+Inf") == 1
    assert value(figures, "thoonk_xmpp_notifications_sent_total") >= 1
    assert value(figures, "thoonk_xmpp_notifications_dropped_total") == 0
    assert value(figures, "thoonk_xmpp_xmpp_link_up") == 1
    assert value(figures, "thoonk_xmpp_xmpp_reconnects_total") == 0
    assert value(figures, "thoonk_xmpp_nodes") == 1
    assert value(figures, "thoonk_xmpp_redis_up") == 1
    assert value(figures, "thoonk_xmpp_redis_ping_seconds_count") >= 1
    for gauge in ("notices_queued", "events_queued", "outbox_stanzas"):
        assert ("thoonk_xmpp_" + gauge, ()) in figures


async def test_link_down_drops_and_reconnecting_is_counted(
    prosody: ProsodyServer,
    redis_server: RedisServer,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    port = free_port()
    settings = settings_for(prosody, redis_server, {"enabled": True, "port": port})
    async with started(settings) as bridge:
        alice = await client(xmpp_client, make_account(), bridge.component.jid)
        await alice.create("watched")
        await alice.subscribe("watched")
        await bridge.component.disconnect()
        down = await scrape(port)
        # a notification that reaches the link while it is down is dropped
        to_alice = (Recipient(alice.jid, ()),)
        bridge.notifier.deliver_now(
            ItemPublished("watched", to_alice, NotificationType.HEADLINE, "lost", None)
        )
        dropped = await scrape(port)
        # an item stored while the link is down is sent by the catch-up after reconnecting
        await Feed(bridge.thoonk, "watched", TEXT).publish("<x xmlns='urn:t'/>", "while-down")

        stop = asyncio.Event()
        serving = asyncio.create_task(bridge.serve(stop))
        try:
            assert ids_in(await alice.next_event(), EVENT) == ["while-down"]
            back = await scraped_until(
                port,
                lambda f: value(f, "thoonk_xmpp_xmpp_reconnects_total") == 1,
                "a reconnect",
            )
        finally:
            stop.set()
            await serving

    assert value(down, "thoonk_xmpp_xmpp_link_up") == 0
    assert value(down, "thoonk_xmpp_notifications_dropped_total") == 0
    assert value(dropped, "thoonk_xmpp_notifications_dropped_total") == 1
    assert value(back, "thoonk_xmpp_xmpp_link_up") == 1
    sent = "thoonk_xmpp_notifications_sent_total"
    assert value(back, sent) == value(down, sent) + 1
    # the delivery figures: a gap while down, the stored item deferred then caught up
    assert value(down, "thoonk_xmpp_delivery_gap") == 1
    assert value(back, "thoonk_xmpp_delivery_gap") == 0
    assert (
        value(back, "thoonk_xmpp_items_caught_up") == value(down, "thoonk_xmpp_items_caught_up") + 1
    )
    assert value(back, "thoonk_xmpp_slots_delivered") == 64
    assert value(back, "thoonk_xmpp_events_held") == 0


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_disabled_metrics_open_no_port(
    prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    port = free_port()
    settings = settings_for(prosody, redis_server, {"enabled": False, "port": port})
    async with started(settings) as bridge:
        assert bridge.metrics is None
        assert bridge.component.metrics is None
        assert bridge.monitor is None
        assert refuses_connections(port)


async def test_a_taken_metrics_port_is_a_startup_error_and_the_endpoint_closes(
    prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    port = free_port()
    settings = settings_for(prosody, redis_server, {"enabled": True, "port": port})
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(StartupError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            await Bridge(settings, timeout=TIMEOUT).start()

    async with started(settings):
        assert not refuses_connections(port)
    assert refuses_connections(port)


async def test_an_unreachable_redis_samples_as_down(
    prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    settings = settings_for(prosody, redis_server, {"enabled": True, "port": free_port()})
    bridge = Bridge(replace(settings, redis=RedisSettings(f"redis://127.0.0.1:{free_port()}/0")))
    metrics = bridge.metrics
    assert metrics is not None
    monitor = Monitor(metrics, settings.metrics, bridge.service, bridge.router, bridge.component)
    try:
        metrics.redis_up.set(1)
        await monitor.sample()
        assert metrics.registry.get_sample_value("thoonk_xmpp_redis_up") == 0
        assert metrics.registry.get_sample_value("thoonk_xmpp_redis_ping_seconds_count") == 0
    finally:
        await bridge.aclose()
