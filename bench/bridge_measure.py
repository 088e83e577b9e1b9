"""The bridge benchmark's measurements: windowed publishes, paced latency, Thoonk relay.

Every run uses a fresh node and a fresh phase number stamped in its payloads,
so late notifications of an earlier run are never counted.  Runs are bounded
in count (``items``) and time (``seconds``, drain timeouts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.bridge_setup import CpuMeter, Target
from bench.floor_component import FloorProcess
from bench.xmpp_load import (
    Collector,
    RawComponent,
    Window,
    create_iq,
    event_message,
    payload,
    publish_iq,
    subscribe_iq,
)
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk
from thoonk_xmpp.xmpp.multicast import ADDRESS_NS

#: Seconds without a new notification after which a drain gives up.
STALL = 3.0
#: Longest drain after a run.
DRAIN = 60.0

#: Node options our component gets on top of the shared ones, per server, like for like
#: with that server's pubsub: Prosody's mod_pubsub sends no retraction when max_items
#: trims, so ours discards trimmed items silently too; ejabberd's sends one, so does ours.
OURS_NODE_OPTIONS = {
    "prosody": {"pubsub#publish_node_full": "discard-oldest"},
    "ejabberd": {"pubsub#publish_node_full": "retract-oldest"},
}

_phases = itertools.count(1)
_nodes = itertools.count(1)


@dataclass
class Options:
    window: int
    seconds: float
    warmup: float
    items: int
    paced_items: int
    paced_rate: float
    relay_items: int
    relay_batch: int
    max_items: int
    pad: str
    #: Extra node options for ours (an entry of OURS_NODE_OPTIONS).
    ours_node_options: dict[str, str]


@dataclass
class Result:
    """One run: rates, latencies (ms) and what the processes used."""

    publishes: float = 0.0
    notifications: float = 0.0
    #: Retraction notifications/s received meanwhile (max_items trims, if a service sends them).
    retracts: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    missing: int = 0
    drain: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


def percentile(values: list[int], q: float) -> float:
    """Nearest-rank percentile of nanosecond values, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def prepare(target: Target, subscribers: int, options: Options) -> str:
    """A fresh node with ``max_items``, subscribed by the first ``subscribers`` clients."""
    node = f"bench-{target.name}-{subscribers}-{next(_nodes)}"
    config = {"pubsub#max_items": str(options.max_items), "pubsub#persist_items": "1"}
    if target.name == "ours":
        config |= options.ours_node_options
    await target.publisher.iq(create_iq(target.service, node, "%s", config))
    await asyncio.gather(
        *(
            client.iq(subscribe_iq(target.service, node, "%s", client.bare))
            for client in target.subscribers[:subscribers]
        )
    )
    return node


async def drain(collector: Collector, expected: int) -> float:
    """Wait until ``expected`` notifications came or they stop coming; returns seconds waited."""
    start = time.monotonic()
    seen, since = collector.count, start
    while collector.count < expected:
        await asyncio.sleep(0.02)
        now = time.monotonic()
        if collector.count != seen:
            seen, since = collector.count, now
        elif now - since > STALL or now - start > DRAIN:
            break
    return time.monotonic() - start


def _builder(target: Target, node: str, phase: int, pad: str) -> Callable[[int], bytes]:
    service = target.service

    def build(seq: int) -> bytes:
        return publish_iq(service, node, "%s", payload(phase, seq, pad))

    return build


async def throughput(
    target: Target, node: str, subscribers: int, collector: Collector, options: Options
) -> Result:
    """Publishes/s with ``window`` IQs outstanding, and notifications/s received meanwhile."""
    phase = next(_phases)
    collector.start(phase)
    window = Window(
        target.publisher, _builder(target, node, phase, options.pad), options.window, options.items
    )
    meter = CpuMeter(target.processes)
    window.start()
    await asyncio.sleep(options.warmup)
    meter.begin()
    done0, got0, t0 = window.done, collector.count, time.monotonic()
    retracts0 = collector.retracts
    await asyncio.wait([window.finished], timeout=options.seconds)
    done1, got1, t1 = window.done, collector.count, time.monotonic()
    retracts1 = collector.retracts
    cpu = meter.end()
    window.stop()
    await asyncio.wait_for(window.finished, DRAIN)
    if window.error:
        raise RuntimeError(f"{target.name}: publish failed: {window.error}")
    expected = window.done * subscribers
    waited = await drain(collector, expected)
    elapsed = t1 - t0
    return Result(
        publishes=(done1 - done0) / elapsed,
        notifications=(got1 - got0) / elapsed,
        retracts=(retracts1 - retracts0) / elapsed,
        p50=percentile(collector.latencies, 0.50),
        p99=percentile(collector.latencies, 0.99),
        missing=expected - collector.count,
        drain=waited,
        cpu=cpu,
    )


async def paced(
    target: Target, node: str, subscribers: int, collector: Collector, options: Options
) -> Result:
    """Latency at a light load: ``paced_items`` publishes at ``paced_rate`` per second."""
    phase = next(_phases)
    collector.start(phase)
    build = _builder(target, node, phase, options.pad)
    answers: list[bool] = []
    meter = CpuMeter(target.processes)
    meter.begin()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for seq in range(options.paced_items):
        delay = start + seq / options.paced_rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        target.publisher.send_iq(build(seq), lambda ok, _text: answers.append(ok))
    expected = options.paced_items * subscribers
    await drain(collector, expected)
    cpu = meter.end()
    if not all(answers):
        raise RuntimeError(f"{target.name}: a paced publish failed")
    return Result(
        publishes=len(answers) / (loop.time() - start),
        p50=percentile(collector.latencies, 0.50),
        p99=percentile(collector.latencies, 0.99),
        missing=expected - collector.count,
        cpu=cpu,
    )


async def relay(
    thoonk: AsyncThoonk,
    target: Target,
    node: str,
    subscribers: int,
    collector: Collector,
    options: Options,
) -> Result:
    """Items/s from Thoonk ``publish_many`` bursts into the node's feed to XMPP subscribers.

    ``relay_items`` items go in as fast as Redis takes them; the rate is items
    delivered to every subscriber over the time from the first publish to the
    last notification.  ``publishes`` is the Thoonk publish rate alone.
    """
    phase = next(_phases)
    collector.start(phase)
    feed = await thoonk.feed(node, codec=BYTES)
    meter = CpuMeter(target.processes)
    meter.begin()
    retracts = collector.retracts
    start = time.monotonic_ns()
    batch, total = options.relay_batch, options.relay_items
    for first in range(0, total, batch):
        count = min(batch, total - first)
        await feed.publish_many(
            [payload(phase, first + k, options.pad).encode() for k in range(count)]
        )
    published = (time.monotonic_ns() - start) / 1e9
    result = await _delivered(collector, meter, start, total * subscribers)
    result.publishes = total / published
    result.retracts = (collector.retracts - retracts) / result.drain
    return result


async def routing_ceiling(
    component: RawComponent,
    target: Target,
    subscribers: int,
    collector: Collector,
    options: Options,
) -> Result:
    """Notifications/s Prosody routes from a component that does nothing but send them.

    A raw XEP-0114 component on the file-storage Prosody (idle otherwise)
    sends ``relay_items`` event messages to each of the first ``subscribers``
    clients, one write per item, as fast as the socket takes them: the most
    any component can get delivered through that Prosody.
    """
    phase = next(_phases)
    collector.start(phase)
    jids = [client.bare for client in target.subscribers[:subscribers]]
    meter = CpuMeter(target.processes)
    meter.begin()
    start = time.monotonic_ns()
    for seq in range(options.relay_items):
        item = payload(phase, seq, options.pad)
        await component.send(
            "".join(
                event_message(component.jid, jid, f"m{seq}-{k}", "ceiling", f"i{seq}", item)
                for k, jid in enumerate(jids)
            ).encode()
        )
    return await _delivered(collector, meter, start, options.relay_items * subscribers)


async def multicast_ceiling(
    component: RawComponent,
    service: str,
    target: Target,
    subscribers: int,
    collector: Collector,
    options: Options,
    limit: int = 100,
) -> Result:
    """:func:`routing_ceiling` through the server's XEP-0033 ``service``: one message per
    item for every ``limit`` subscribers (``bcc`` addresses), which the service copies."""
    phase = next(_phases)
    collector.start(phase)
    jids = [client.bare for client in target.subscribers[:subscribers]]
    groups = [jids[i : i + limit] for i in range(0, len(jids), limit)]
    meter = CpuMeter(target.processes)
    meter.begin()
    start = time.monotonic_ns()
    for seq in range(options.relay_items):
        item = payload(phase, seq, options.pad)
        await component.send(
            "".join(
                _multicast_message(component.jid, service, f"m{seq}-{k}", f"i{seq}", item, group)
                for k, group in enumerate(groups)
            ).encode()
        )
    return await _delivered(collector, meter, start, options.relay_items * subscribers)


def _multicast_message(
    sender: str, service: str, message_id: str, item_id: str, item: str, jids: list[str]
) -> str:
    addresses = "".join(f"<address type='bcc' jid='{jid}'/>" for jid in jids)
    return (
        f"<message from='{sender}' to='{service}' type='headline' id='{message_id}'>"
        f"<addresses xmlns='{ADDRESS_NS}'>{addresses}</addresses>"
        "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
        f"<items node='ceiling'><item id='{item_id}'>{item}</item></items></event></message>"
    )


async def _delivered(collector: Collector, meter: CpuMeter, start: int, expected: int) -> Result:
    """Drain ``expected`` notifications sent since ``start`` (ns); rate over first send → last."""
    await drain(collector, expected)
    cpu = meter.end()
    span = max(collector.last_ns - start, 1) / 1e9
    return Result(
        notifications=collector.count / span,
        p50=percentile(collector.latencies, 0.50),
        p99=percentile(collector.latencies, 0.99),
        missing=expected - collector.count,
        drain=span,
        cpu=cpu,
    )


async def floor_latency(
    floor: FloorProcess,
    server: Target,
    redis_pid: int,
    subscribers: int,
    collector: Collector,
    options: Options,
) -> Result:
    """:func:`paced` latency of the floor component, run on ``server``'s XMPP server and clients.

    The floor takes the server's component address for this run only.  Five
    unmeasured publishes first: a fresh component session's first stanzas
    route slowly.
    """
    await floor.start([client.bare for client in server.subscribers])
    try:
        xmpp = {k: v for k, v in server.processes.items() if k in ("prosody", "ejabberd")}
        processes = xmpp | {"floor": floor.pid}
        target = dataclasses.replace(
            server,
            name="floor",
            service=floor.jid,
            processes=processes | {"redis": redis_pid, "loadgen": server.processes["loadgen"]},
        )
        node = f"floor-{subscribers}-{next(_nodes)}"
        for warm in range(5):
            await target.publisher.iq(publish_iq(target.service, node, "%s", payload(0, warm)))
        return await paced(target, node, subscribers, collector, options)
    finally:
        await floor.stop()
