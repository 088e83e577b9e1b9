"""Delivery after an outage and at scale: ``python -m bench.delivery_bench [--quick]``.

(d) **Catch-up rate.** S subscribers (logged in, available) on one node, our component
in its own process through Prosody.  The component is killed (SIGKILL), a Thoonk app
stores N items meanwhile, and the component is started again: the rate at which the
catch-up gets those N×S events to the subscribers, timed from the new process's start
and from its first event, beside the live relay rate (the same N items stored by a
Thoonk app while the component runs) measured in the same run.

(e) **One node with 10,000 subscriptions** (set through the service layer, one bare JID
each): Redis bytes per subscription (``used_memory`` before and after, and ``MEMORY
USAGE`` of the node's hash and of the index buckets), and the time from a publish to the last of its 10,000
messages handed to the component's send (in process, the real router and notifier).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections.abc import Sequence

from bench.bridge_setup import ComponentProcess, register_accounts
from bench.common import until
from bench.xmpp_load import (
    Collector,
    RawClient,
    connect_all,
    create_iq,
    payload,
    subscribe_iq,
)
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.service.policy import ServicePolicy
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.xmpp.notifications import Notifier
from tools.localservers import ProsodyServer, RedisServer

PUBLISHER = "publisher"
NODE = "bench-catch-up"
PASSWORD = "bench-password-1"


async def store(app: AsyncThoonk, phase: int, count: int) -> None:
    feed = await app.feed(NODE)
    for start in range(0, count, 100):
        batch = [payload(phase, seq) for seq in range(start, min(start + 100, count))]
        await feed.publish_many(batch)


async def catch_up_run(subscribers: int, items: int) -> dict[str, float]:
    """One kill → store → restart cycle, and one live relay of as many items."""
    users = [f"sub{n}" for n in range(subscribers)]
    with RedisServer() as redis, ProsodyServer(admins=(f"{PUBLISHER}@localhost",)) as prosody:
        register_accounts(prosody, [PUBLISHER, *users], PASSWORD)
        component = ComponentProcess(redis, prosody, max_items=items * 2)
        component.start()
        collector = Collector()
        publisher = RawClient(prosody.domain, PUBLISHER, PASSWORD, None)
        await publisher.login("127.0.0.1", prosody.c2s_port)
        clients = await connect_all(
            "127.0.0.1",
            prosody.c2s_port,
            prosody.domain,
            [(u, PASSWORD) for u in users],
            collector,
        )
        try:
            for _ in range(200):  # the component's session
                with contextlib.suppress(Exception):
                    await publisher.iq(create_iq(prosody.component_jid, NODE, "%s", {}), 2.0)
                    break
                await asyncio.sleep(0.05)
            for client in clients:
                await client.iq(subscribe_iq(prosody.component_jid, NODE, "%s", client.bare))
            async with AsyncThoonk.from_url(redis.url) as app:
                # live relay, for comparison
                collector.start(1)
                began = time.perf_counter()
                await store(app, 1, items)
                await until(lambda: collector.count >= items * subscribers, "live events")
                live = items * subscribers / (time.perf_counter() - began)
                # outage: kill, store, start again
                os.kill(component.pid, signal.SIGKILL)
                component.process.wait()  # type: ignore[union-attr]
                collector.start(2)
                await store(app, 2, items)
                first: list[float] = []
                began = time.perf_counter()
                component.start()
                await until(lambda: collector.count > 0, "the first caught-up event")
                first.append(time.perf_counter())
                await until(lambda: collector.count >= items * subscribers, "every caught-up event")
                done = time.perf_counter()
        finally:
            for client in [publisher, *clients]:
                await client.close()
            component.stop()
    events = items * subscribers
    return {
        "live events/s": live,
        "catch-up events/s from process start": events / (done - began),
        "catch-up events/s from first event": events / max(done - first[0], 1e-9),
        "restart to first event s": first[0] - began,
    }


class CountingSend:
    """The component's send, counting messages (what would be written to the server)."""

    def __init__(self) -> None:
        self.messages = 0
        self.last = 0.0

    def __call__(self, messages: list[str]) -> None:
        self.messages += len(messages)
        self.last = time.perf_counter()


async def fan_out_run(subscriptions: int) -> dict[str, float]:
    with RedisServer() as redis:
        async with AsyncThoonk.from_url(redis.url, listen=True) as thoonk:
            owner = Actor("owner@localhost")
            service = PubSubService(thoonk, ServicePolicy(admins=frozenset({owner.bare})))
            await service.create_node(owner, "big")
            before = int((await thoonk.redis.info("memory"))["used_memory"])
            for n in range(subscriptions):
                await service.store.subscribe("big", f"user{n:05d}@example.org")
            after = int((await thoonk.redis.info("memory"))["used_memory"])
            node_keys = await thoonk.redis.memory_usage(keys.node_subscriptions("big")) or 0
            buckets = {
                keys.jid_subscriptions(f"user{n:05d}@example.org") for n in range(subscriptions)
            }
            index_bytes = 0
            for bucket in buckets:
                index_bytes += await thoonk.redis.memory_usage(bucket) or 0
            send = CountingSend()
            router = EventRouter(service, Notifier(send, "pubsub.localhost"))
            thoonk.listener.add_sink(router.on_notice)
            router.start()
            await router.drain()
            await service.publish(owner, "big", [("warm", b"<x xmlns='t'/>")])
            await until(lambda: send.messages >= subscriptions, "the warm-up fan-out")
            times = []
            for round_ in range(5):
                send.messages = 0
                began = time.perf_counter()
                await service.publish(owner, "big", [(f"i{round_}", b"<x xmlns='t'/>")])
                await until(lambda: send.messages >= subscriptions, "the fan-out")
                times.append(send.last - began)
            await router.aclose()
    return {
        "redis bytes per subscription (used_memory)": (after - before) / subscriptions,
        "node subscriptions hash bytes per subscription": node_keys / subscriptions,
        "subscription index bytes per subscription": index_bytes / subscriptions,
        "publish to last message ms (median of 5)": statistics.median(times) * 1000,
        "messages/s in that fan-out": subscriptions / statistics.median(times),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery_bench")
    parser.add_argument("--quick", action="store_true", help="fewer items and subscriptions")
    parser.add_argument("--subscribers", type=int, default=10)
    options = parser.parse_args(argv)
    items = 500 if options.quick else 2000
    subscriptions = 2000 if options.quick else 10_000
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    print(f"(d) catch-up: {options.subscribers} subscribers, {items} items", flush=True)
    figures = asyncio.run(catch_up_run(options.subscribers, items))
    for name, value in figures.items():
        print(f"  {name:45s} {value:12,.1f}")
    ratio = figures["catch-up events/s from first event"] / figures["live events/s"]
    print(f"  {'catch-up / live relay (ratio)':45s} {ratio:12.2f}")
    print(f"(e) one node, {subscriptions} subscriptions", flush=True)
    for name, value in asyncio.run(fan_out_run(subscriptions)).items():
        print(f"  {name:45s} {value:12,.1f}")
    print(f"load average {os.getloadavg()[0]:.2f} after", flush=True)


if __name__ == "__main__":
    main()
