"""Two instances sharing one component JID under ejabberd, one killed under load: the rig.

A :class:`SharedRig` owns a Redis (append-only file), an ejabberd and two
``thoonk-xmpp run`` child processes with ``[delivery] shared = true`` connected
as the same component JID. ejabberd balances the component's incoming stanzas
between them either by the sender's bare JID (``domain_balancing``, ``bare_source``,
``component_number: 2``: what config/ejabberd/README.md recommends) or at random
among the connected ones (no ``domain_balancing``). Nodes are chosen so that each
instance delivers some of them (read from the leases in Redis), and two XMPP
publishers, one Thoonk publisher and three subscribers run on all of them.

Instances are told apart by their ids in Redis (each registers as it starts, one
after the other), and which instance an XMPP publisher's requests reach by each
instance's metrics endpoint (``thoonk_xmpp_requests_total`` of its pings).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import redis.asyncio as aioredis
from slixmpp.exceptions import IqError

from tests.integration.bridge_fixtures import pubsub
from tests.integration.fault_load import Subscriber, ThoonkPublisher, XmppPublisher
from tests.integration.faults import ComponentProcess, Tally, component_config
from tests.integration.shared_report import Balancing, Moments, SharedReport
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.service.delivery import SLOTS, slot_of
from thoonk_xmpp.thoonk import keys
from tools.local_ejabberd import EjabberdServer
from tools.localservers import RedisServer, free_port

T = TypeVar("T")

#: The service's defaults: how long a lease lasts, how often it is renewed.
LEASE_TIME, LEASE_INTERVAL = 5.0, 1.0
#: Nodes of each instance under load: enough that some of them move to the restarted
#: instance (a new id: each slot is its own with odds 1/2; none of 16 moving: 1 in 65536).
NODES_EACH = 8
#: Published last on every node, once everything else arrived: a fence for late events.
SENTINEL = "sentinel"
NODE_CONFIG: dict[str, str | list[str]] = {
    "pubsub#max_items": "100000",
    "pubsub#notification_type": "normal",
    "pubsub#send_last_published_item": "never",
    "pubsub#publish_model": "open",  # both XMPP publishers
}


async def poll(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float) -> T:
    """Fetch until ``done`` holds of what came; the last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


class SharedRig:
    """Servers, the two instances, the publishers and the subscribers of one test."""

    def __init__(self, workdir: Path, balancing: Balancing) -> None:
        self.balancing = balancing
        self.redis = RedisServer(appendonly=True)
        self.server = EjabberdServer(component_number=2 if balancing == "bare_source" else None)
        self.metrics_ports = [0, 0]
        self.client: aioredis.Redis
        self.instances = [
            ComponentProcess(workdir / f"instance-{n}.toml", workdir / f"instance-{n}.log")
            for n in range(2)
        ]
        #: Each instance's id in Redis (the one it has now).
        self.ids: list[str] = []
        self.nodes: list[str] = []
        self.publishers: list[XmppPublisher] = []
        self.served_by: list[int | None] = []
        self.subscribers: list[Subscriber] = []
        self.thoonk: ThoonkPublisher
        self.moments = Moments()
        self._accounts = itertools.count()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, workdir: Path, balancing: Balancing) -> AsyncIterator[SharedRig]:
        rig = cls(workdir, balancing)
        try:
            await rig._setup()
            yield rig
        finally:
            await rig._teardown()

    # --- Redis facts -------------------------------------------------------------------

    async def live(self) -> list[str]:
        raw = await self.client.zrange(keys.DELIVERY_INSTANCES, 0, -1)
        return [r.decode() for r in raw]

    async def holders(self) -> list[str | None]:
        """The instance holding each slot's lease, slot 0 first."""
        raw = await self.client.mget([keys.delivery_lease(s) for s in range(SLOTS)])
        return [r.decode() if r is not None else None for r in raw]

    async def stored(self) -> dict[str, tuple[str, float]]:
        """id → (node, score) of every item stored on the rig's nodes."""
        found: dict[str, tuple[str, float]] = {}
        for node in self.nodes:
            for raw, score in await self.client.zrange(keys.ids(node), 0, -1, withscores=True):
                found[raw.decode()] = (node, score)
        return found

    async def start_instance(self, n: int) -> str:
        """Start instance ``n`` and wait until it registered as live; its new id.

        Each start gets a fresh metrics port: the last one's may have been taken
        (as a client's source port) since it died.
        """
        known = set(await self.live())
        self.metrics_ports[n] = free_port()
        self.instances[n].config.write_text(self._config(n))
        await self.instances[n].start()
        live = await poll(self.live, lambda ids: bool(set(ids) - known), 4 * TIMEOUT)
        new = set(live) - known
        assert len(new) == 1, f"instance {n} did not register: {live}\n{self.instances[n].log()}"
        instance = new.pop()
        if n < len(self.ids):
            self.ids[n] = instance
        else:
            self.ids.append(instance)
        return instance

    async def settled(self, owners: set[str], timeout: float = 30.0) -> list[str | None]:
        """Wait until every slot is leased, each instance of ``owners`` holding some."""
        holders = await poll(
            self.holders,
            lambda held: None not in held and set(held) == owners,
            timeout,
        )
        assert None not in holders and set(holders) == owners, f"leases: {holders}"
        return holders

    # --- setup -------------------------------------------------------------------------

    async def _setup(self) -> None:
        self.redis.start()
        self.client = aioredis.Redis.from_url(self.redis.url)
        await asyncio.to_thread(self.server.start)
        for n in range(len(self.instances)):
            await self.start_instance(n)
        holders = await self.settled(set(self.ids))
        self.nodes = self._choose_nodes(holders)
        self.thoonk = ThoonkPublisher(self.redis.url, self.nodes)
        self.subscribers = [Subscriber(self.server, *self._account("s")) for _ in range(3)]
        for subscriber in self.subscribers:
            await subscriber.connect()
        await self._choose_publishers()
        for node in self.nodes:
            await self.publishers[0].create_node(NODE_CONFIG, node)
            for subscriber in self.subscribers:
                reply = await subscriber.request(
                    pubsub(f"<subscribe node='{node}' jid='{subscriber.jid}'/>")
                )
                assert reply.get("type") == "result", reply

    def _config(self, n: int) -> str:
        return component_config(
            self.server,
            self.redis,
            "shared = true\n"
            f"lease_time = {LEASE_TIME}\n"
            f"lease_interval = {LEASE_INTERVAL}\n"
            "[metrics]\n"
            "enabled = true\n"
            f"port = {self.metrics_ports[n]}\n",
        )

    def _choose_nodes(self, holders: list[str | None]) -> list[str]:
        """``NODES_EACH`` nodes whose slots each instance holds now."""
        chosen: dict[str, list[str]] = {instance: [] for instance in self.ids}
        for k in itertools.count():
            node = f"shared-{k}"
            mine = chosen[holders[slot_of(node)] or ""]
            if len(mine) < NODES_EACH:
                mine.append(node)
            if all(len(nodes) == NODES_EACH for nodes in chosen.values()):
                return [node for nodes in chosen.values() for node in nodes]
        raise AssertionError("unreachable")

    def _account(self, kind: str) -> tuple[str, str]:
        n = next(self._accounts)
        password = f"pw-{n}-{kind}"
        return self.server.register(f"{kind}{n}", password), password

    async def _choose_publishers(self) -> None:
        """Two XMPP publishers: with ``bare_source``, one whose requests reach each
        instance (accounts are made until both are found); otherwise any two."""
        wanted = 2
        for _ in range(24):
            publisher = XmppPublisher(
                self.server,
                *self._account("p"),
                nodes=self.nodes,
                prefix=f"x{len(self.publishers)}",
            )
            await publisher.connect()
            by = await self._serving(publisher) if self.balancing == "bare_source" else None
            if by is not None and by in self.served_by:
                await publisher.close()
                continue
            self.publishers.append(publisher)
            self.served_by.append(by)
            if len(self.publishers) == wanted:
                return
        raise AssertionError(f"no publisher reached every instance: {self.served_by}")

    async def _serving(self, publisher: XmppPublisher) -> int:
        """The instance that answers ``publisher``'s requests (by their ping counts)."""
        before = [await self._pings(n) for n in range(2)]
        assert publisher.client is not None
        iq = publisher.client.Iq()
        iq["type"], iq["to"] = "get", self.server.component_jid
        iq.append(ET.fromstring("<ping xmlns='urn:xmpp:ping'/>"))
        try:
            await iq.send(timeout=TIMEOUT)
        except IqError as exc:
            raise AssertionError(f"ping refused: {exc.iq}") from None

        async def counted() -> list[float]:  # the count may move just after the answer
            return [await self._pings(n) for n in range(2)]

        after = await poll(counted, lambda now: now != before, TIMEOUT)
        served = [n for n in range(2) if after[n] > before[n]]
        assert len(served) == 1, f"pings before {before}, after {after}"
        return served[0]

    async def _pings(self, n: int) -> float:
        url = f"http://127.0.0.1:{self.metrics_ports[n]}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        for line in text.decode().splitlines():
            if line.startswith("thoonk_xmpp_requests_total{") and all(
                label in line for label in ('verb="ping"', 'outcome="result"')
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def _teardown(self) -> None:
        peers = [*self.subscribers, *self.publishers]
        for peer in peers:
            await peer.close()
        for instance in self.instances:
            await instance.stop()
        self.server.close()
        if hasattr(self, "client"):
            await self.client.aclose()
        self.redis.close()

    # --- the exercise ------------------------------------------------------------------

    async def exercise(
        self, killed: int, *, lead_in: float = 4.0, alone: float = 2.0, tail: float = 3.0
    ) -> SharedReport:
        """Load; kill -9 instance ``killed``; wait until the survivor holds every slot;
        after ``alone`` s start the killed one again and wait until slots are rebalanced;
        go on ``tail`` s; then tally."""
        survivor = 1 - killed
        m = self.moments
        rss_before = self.instances[survivor].rss_mb()
        stop = asyncio.Event()
        load = [
            *(asyncio.create_task(p.run(stop, 40, window=4)) for p in self.publishers),
            asyncio.create_task(self.thoonk.run(stop, 40)),
        ]
        before = await self.holders()
        try:
            await asyncio.sleep(lead_in)
            m.killed_at = time.time()
            await self.instances[killed].kill()
            alive = self.ids[survivor]
            await self.settled({alive})
            m.took_over_at = time.time()
            after_kill = await self.holders()
            await asyncio.sleep(alone)
            m.rejoin_at = time.time()
            await self.start_instance(killed)
            m.back_at = time.time()
            after_rejoin = await self.settled(set(self.ids))
            m.rebalanced_at = time.time()
            await asyncio.sleep(tail)
        finally:
            stop.set()
            await asyncio.gather(*load)
        await asyncio.gather(*(p.answers(timeout=3.0) for p in self.publishers))
        report = await self._tally(rss_before, self.instances[survivor].rss_mb())
        report.moved_at_kill = self._moved(before, after_kill)
        report.moved_at_rejoin = self._moved(after_kill, after_rejoin)
        print("\n" + report.text)
        return report

    def _moved(self, before: list[str | None], after: list[str | None]) -> set[str]:
        return {n for n in self.nodes if before[slot_of(n)] != after[slot_of(n)]}

    async def _tally(self, rss_before: float, rss_after: float) -> SharedReport:
        found = await self.stored()
        stored = {i: score for i, (_, score) in found.items()}
        notes: list[str] = []
        arrived = await poll(self._all_arrived(set(stored)), bool, 20.0)
        if not arrived:
            notes.append("  (not every stored item had arrived 20 s after the load ended)")
        fences = {f"{SENTINEL}-{node}" for node in self.nodes}
        for node in self.nodes:
            await self.thoonk.publish_one(f"{SENTINEL}-{node}", node)
        if not await poll(self._all_arrived(fences), bool, 15.0):
            notes.append("  (a sentinel item never arrived everywhere)")
        tallies = [
            Tally(
                expected=len(stored),
                received=len(set(s.received) - fences),
                duplicates={i: c - 1 for i, c in s.received.items() if c > 1},
                missing=sorted(set(stored) - set(s.received)),
                unknown=sorted(set(s.received) - set(stored) - fences),
                caught_up=s.caught_up,
                from_storage=s.from_storage,
            )
            for s in self.subscribers
        ]
        return SharedReport(
            self.balancing,
            stored,
            {i: node for i, (node, _) in found.items()},
            self.publishers,
            self.subscribers,
            self.served_by,
            self.thoonk,
            tallies,
            self.moments,
            set(),
            set(),
            (rss_before, rss_after),
            notes,
        )

    def _all_arrived(self, ids: set[str]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return all(ids <= set(s.received) for s in self.subscribers)

        return check
