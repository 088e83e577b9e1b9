"""Fault-injection harness: the component as a child process under load, and exact accounting.

A :class:`Rig` owns its own Redis (append-only file), its own Prosody (so either can
be restarted), ``thoonk-xmpp run`` as a child process (so ``kill -9`` is real), one
XMPP publisher, one Thoonk publisher and three subscribers of one node.  Every item
gets an id chosen by its publisher, so the end tally compares sets of ids: what
Redis stored, what each publisher was told, and what each subscriber received.

The node's notifications are ``normal`` messages: while a subscriber is offline
(a Prosody restart ends every session), Prosody's mod_offline (always loaded)
keeps them for its bare JID and hands them over when it comes back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import redis.asyncio as aioredis

from tests.integration.bridge_fixtures import pubsub
from tests.integration.fault_load import NODE, Subscriber, ThoonkPublisher, XmppPublisher
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.thoonk import keys
from tools.localservers import ProsodyServer, RedisServer, XmppServer

ROOT = Path(__file__).resolve().parents[2]
#: How far apart delivery marks go, how much is sent again after a crash and after a
#: dropped XMPP link (the defaults).
MARK_INTERVAL, MARGIN, IN_FLIGHT = 0.5, 1.0, 0.25
#: The id of the item published last, once everything else arrived: a fence for late events.
SENTINEL = "sentinel"


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` (facts of other processes) until it holds; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def component_config(server: XmppServer, redis: RedisServer, more: str = "") -> str:
    """A fault component's thoonk_xmpp.toml for ``server`` and ``redis``; ``more`` goes on
    under ``[delivery]`` (further delivery lines, then any tables of its own)."""
    return (
        "[component]\n"
        f'jid = "{server.component_jid}"\n'
        f'secret = "{server.secret}"\n'
        f"port = {server.component_port}\n"
        "reconnect_max_delay = 2\n"
        "[redis]\n"
        f'url = "{redis.url}"\n'
        "[pubsub]\n"
        'node_creation = "anyone"\n'
        "max_items_cap = 100000\n"
        "[delivery]\n"
        f"mark_interval = {MARK_INTERVAL}\n"
        f"margin = {MARGIN}\n"
    ) + more


class ComponentProcess:
    """``thoonk-xmpp run`` as a child process, its log appended to one file."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._log_start = 0

    def log(self, since_start: bool = False) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text[self._log_start :] if since_start else text

    async def start(self, ready: str = "serving") -> None:
        """Start it and wait until its log says ``ready`` (by default: it is serving)."""
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self._open_log() as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "thoonk_xmpp",
                "run",
                "--config",
                str(self.config),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        process = self.process
        serving = await wait_until(
            lambda: process.returncode is not None or ready in self.log(since_start=True),
            4 * TIMEOUT,
        )
        if not serving or process.returncode is not None:
            raise AssertionError(f"thoonk-xmpp run did not start:\n{self.log(since_start=True)}")

    def _open_log(self) -> BinaryIO:
        return open(self.log_path, "ab")

    async def kill(self) -> None:
        """``kill -9``: nothing of it runs after this."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def rss_mb(self) -> float:
        """Its resident memory now, from /proc."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


@dataclass
class Tally:
    """The figures of one subscriber."""

    expected: int
    received: int
    duplicates: dict[str, int]
    missing: list[str]
    unknown: list[str]
    #: Items that came delay-stamped by the component (a catch-up), by the server (offline).
    caught_up: int
    from_storage: int

    def line(self, name: str) -> str:
        return (
            f"  {name}: expected {self.expected}, received {self.received} distinct,"
            f" duplicates {sum(self.duplicates.values())}, missing {len(self.missing)}"
            f"{' ' + str(self.missing[:10]) if self.missing else ''},"
            f" never stored {len(self.unknown)}{' ' + str(self.unknown[:10]) if self.unknown else ''};"
            f" {self.caught_up} by a catch-up, {self.from_storage} from offline storage"
        )


@dataclass
class Report:
    """Everything a fault test asserts on."""

    fault: str
    stored: dict[str, float]  # id → score (epoch ms)
    xmpp: XmppPublisher
    thoonk: ThoonkPublisher
    tallies: list[Tally]
    #: When the fault began and when it ended (epoch seconds).
    began_at: float
    recovered_at: float
    catch_up_s: float
    rss_mb: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        xmpp, thoonk = self.xmpp, self.thoonk
        lines = [
            f"fault: {self.fault}",
            f"  stored {len(self.stored)}; XMPP publisher: {len(xmpp.acked)} acked,"
            f" {len(xmpp.errors)} errors {dict(collections.Counter(xmpp.errors.values()))},"
            f" {len(xmpp.unanswered)} unanswered; Thoonk publisher: {len(thoonk.acked)} acked,"
            f" {len(thoonk.failed)} failed {dict(collections.Counter(thoonk.failed.values()))}"
            f" ({len(set(thoonk.failed) & set(self.stored))} of them stored all the same)",
            *(t.line(f"subscriber {n}") for n, t in enumerate(self.tallies, 1)),
            *self._twice(),
            *self._refused(),
            f"  catch-up: last item stored before the fault's end arrived {self.catch_up_s:.2f} s"
            " after it",
            f"  component RSS: {self.rss_mb[0]:.1f} MB before the load, {self.rss_mb[1]:.1f} MB after",
            *self.notes,
        ]
        return "\n".join(lines)

    def twice_stored_at(self) -> list[float]:
        """When each item some subscriber got twice was stored, in s after the fault began."""
        return sorted(
            self.stored[i] / 1000 - self.began_at
            for t in self.tallies
            for i in t.duplicates
            if i in self.stored
        )

    def _refused(self) -> list[str]:
        refused = sorted(set(self.xmpp.errors) & set(self.stored))
        if not refused:
            return []
        return [
            f"  error answers for stored items: {refused[:10]}, stored"
            f" {self.stored[refused[0]] / 1000 - self.began_at:+.2f} s from the fault"
            + (f" and later ({len(refused)} in all)" if len(refused) > 1 else "")
        ]

    def _twice(self) -> list[str]:
        times = self.twice_stored_at()
        if not times:
            return []
        return [
            f"  items sent twice were stored {times[0]:+.2f} s to {times[-1]:+.2f} s from the fault"
        ]


class Rig:
    """Servers, the component process, the publishers and the subscribers of one fault test."""

    def __init__(self, workdir: Path) -> None:
        self.redis = RedisServer(appendonly=True)
        self.prosody = ProsodyServer()
        self.workdir = workdir
        self.component = ComponentProcess(workdir / "thoonk-xmpp.toml", workdir / "component.log")
        self.publisher: XmppPublisher
        self.subscribers: list[Subscriber] = []
        self.thoonk = ThoonkPublisher(self.redis.url)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, workdir: Path) -> AsyncIterator[Rig]:
        rig = cls(workdir)
        try:
            await rig._setup()
            yield rig
        finally:
            await rig._teardown()

    async def _setup(self) -> None:
        self.redis.start()
        self.prosody.start()
        accounts = [(self.prosody.register(f"f{n}", f"pw-{n}"), f"pw-{n}") for n in range(4)]
        self._write_config()
        await self.component.start()
        self.publisher = XmppPublisher(self.prosody, *accounts[0])
        self.subscribers = [Subscriber(self.prosody, *account) for account in accounts[1:]]
        for peer in (self.publisher, *self.subscribers):
            await peer.connect()
        await self.publisher.create_node(
            {
                "pubsub#max_items": "100000",
                "pubsub#notification_type": "normal",
                "pubsub#send_last_published_item": "never",
            }
        )
        for subscriber in self.subscribers:  # bare-JID subscriptions
            reply = await subscriber.request(
                pubsub(f"<subscribe node='{NODE}' jid='{subscriber.jid}'/>")
            )
            assert reply.get("type") == "result", ET.tostring(reply).decode()

    def _write_config(self) -> None:
        self.component.config.write_text(
            component_config(self.prosody, self.redis, f"in_flight = {IN_FLIGHT}\n")
        )

    async def _teardown(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.redis.process is not None:
                self.redis.process.send_signal(signal.SIGCONT)  # never leave it stopped
        for peer in (*self.subscribers, *([self.publisher] if hasattr(self, "publisher") else [])):
            await peer.close()
        await self.component.stop()
        self.prosody.close()
        self.redis.close()

    async def exercise(
        self,
        name: str,
        fault: Callable[[], Awaitable[float]],
        *,
        lead_in: float = 1.5,
        tail: float = 3.0,
        xmpp_rate: float = 100,
        thoonk_rate: float = 50,
    ) -> Report:
        """Run both publishers, inject ``fault`` after ``lead_in`` s, go on ``tail`` s after
        it ends (it returns when, in epoch seconds), then tally."""
        rss_before = self.component.rss_mb()
        stop = asyncio.Event()
        load = [
            asyncio.create_task(self.publisher.run(stop, xmpp_rate, window=4)),
            asyncio.create_task(self.thoonk.run(stop, thoonk_rate)),
        ]
        try:
            await asyncio.sleep(lead_in)
            began_at = time.time()
            recovered_at = await fault()
            await asyncio.sleep(tail)
        finally:
            stop.set()
            await asyncio.gather(*load)
        await self.publisher.answers(timeout=3.0)
        return await self._tally(name, began_at, recovered_at, rss_before)

    async def stored(self) -> dict[str, float]:
        async with aioredis.Redis.from_url(self.redis.url) as client:
            pairs = await client.zrange(keys.ids(NODE), 0, -1, withscores=True)
        return {raw.decode(): score for raw, score in pairs}

    async def _tally(
        self, name: str, began_at: float, recovered_at: float, rss_before: float
    ) -> Report:
        stored = await self.stored()
        notes: list[str] = []
        complete = await wait_until(
            lambda: all(set(stored) <= set(s.received) for s in self.subscribers), 20.0
        )
        if not complete:
            notes.append("  (not every stored item had arrived 20 s after the load ended)")
        await self.thoonk.publish_one(SENTINEL)
        fenced = await wait_until(
            lambda: all(SENTINEL in s.received for s in self.subscribers), 15.0
        )
        if not fenced:
            notes.append("  (the sentinel item never arrived everywhere)")
        tallies = [
            Tally(
                expected=len(stored),
                received=len(set(s.received) - {SENTINEL}),
                duplicates={i: c - 1 for i, c in s.received.items() if c > 1},
                missing=sorted(set(stored) - set(s.received)),
                unknown=sorted(set(s.received) - set(stored) - {SENTINEL}),
                caught_up=s.caught_up,
                from_storage=s.from_storage,
            )
            for s in self.subscribers
        ]
        before_end = [i for i, score in stored.items() if score / 1000 < recovered_at]
        arrivals = [s.first_at[i] for s in self.subscribers for i in before_end if i in s.first_at]
        catch_up = max([0.0, *(at - recovered_at for at in arrivals)])
        report = Report(
            name,
            stored,
            self.publisher,
            self.thoonk,
            tallies,
            began_at,
            recovered_at,
            catch_up,
            (rss_before, self.component.rss_mb()),
            notes,
        )
        print("\n" + report.text)
        return report
