"""Prosody closes the component link in order while our last writes are still on the way.

A Prosody restart ends the component's stream in order, but the component notices
only when its event loop next reads the socket: on a busy machine that can be tens
of milliseconds after the close, and what it wrote meanwhile went nowhere.  (A
stopped Prosody that is then sent SIGTERM does not show it: it reads what was
written before it exits.)  A loopback relay between the component and Prosody makes
that moment last: when Prosody closes, the relay keeps the component's side open,
swallowing what it writes, until the test lets the close through.  Items published
in that window reach no subscriber unless the component sends its last
``in_flight`` seconds again after an orderly close too.  After the restart every
stored item must reach every subscriber (through Prosody's offline storage), and
only the window's items may come twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.faults import SENTINEL, Rig, wait_until
from tests.integration.streams import TIMEOUT
from tools.localservers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

#: Seconds of sends the component repeats after a lost link, here: long enough for a
#: busy machine to publish the window's items and let the close through after them.
IN_FLIGHT = 2.0
#: Items published before the restart (delivered), and while the close is held back.
BEFORE, IN_THE_WINDOW = 5, 5
SENT = "thoonk_xmpp_notifications_sent_total"


class LateCloseRelay:
    """Relays component connections to Prosody; when Prosody closes one, the component's
    side stays open (what it writes is dropped, as a closed socket drops it) until
    :attr:`release` is set."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        #: Set when Prosody closed a relayed connection.
        self.server_closed = asyncio.Event()
        #: Set by the test: pass the close on to the component.
        self.release = asyncio.Event()
        #: Bytes the component wrote after Prosody had closed.
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LateCloseRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._run(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            await writer.wait_closed()
            return
        upstream_open = True

        async def to_prosody() -> None:
            while data := await reader.read(65536):
                if upstream_open:
                    up_writer.write(data)
                else:
                    self.dropped += len(data)

        async def to_component() -> None:
            nonlocal upstream_open
            while data := await up_reader.read(65536):
                writer.write(data)
            upstream_open = False
            up_writer.close()
            self.server_closed.set()
            await self.release.wait()
            writer.close()

        sending = asyncio.create_task(to_prosody())
        try:
            with contextlib.suppress(OSError):
                await to_component()
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sending
            for end in (writer, up_writer):
                end.close()
                with contextlib.suppress(OSError):
                    await end.wait_closed()


def notifications_sent(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT) as reply:
        text = reply.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == SENT
    )


async def test_what_went_out_as_prosody_closed_in_order_is_sent_again(tmp_path: Path) -> None:
    async with Rig.open(tmp_path) as rig, LateCloseRelay(rig.prosody.component_port) as relay:
        metrics_port = free_port()
        config = rig.component.config.read_text()
        rig.component.config.write_text(
            config.replace(
                f"port = {rig.prosody.component_port}\n", f"port = {relay.port}\n"
            ).replace("in_flight = 0.25\n", f"in_flight = {IN_FLIGHT}\n")
            + f"[metrics]\nenabled = true\nport = {metrics_port}\n"
        )
        await rig.component.stop()
        await rig.component.start()
        subscribers = rig.subscribers
        for number in range(BEFORE):
            await rig.thoonk.publish_one(f"before-{number}")
        delivered = await wait_until(
            lambda: all(len(s.received) == BEFORE for s in subscribers), 4 * TIMEOUT
        )
        assert delivered, [dict(s.received) for s in subscribers]
        await asyncio.sleep(IN_FLIGHT)  # those are no longer in flight: none comes twice

        await asyncio.to_thread(rig.prosody.stop)  # ends every session, ours in order
        await asyncio.wait_for(relay.server_closed.wait(), TIMEOUT)
        sent = await asyncio.to_thread(notifications_sent, metrics_port)
        for number in range(IN_THE_WINDOW):
            await rig.thoonk.publish_one(f"window-{number}")
        written = sent + IN_THE_WINDOW * len(subscribers)
        deadline = time.monotonic() + 4 * TIMEOUT
        while await asyncio.to_thread(notifications_sent, metrics_port) < written:
            assert time.monotonic() < deadline, "the component never wrote the items"
            await asyncio.sleep(0.02)
        swallowed = await wait_until(lambda: relay.dropped > 0, TIMEOUT)
        assert swallowed, "the component's writes never reached the relay"
        relay.release.set()
        closed = await wait_until(lambda: "XMPP link lost" in rig.component.log(), TIMEOUT)
        assert closed, rig.component.log()
        assert "XMPP link lost (closed in order)" in rig.component.log()

        await asyncio.to_thread(rig.prosody.start)
        reconnected = await wait_until(
            lambda: "reconnected to the XMPP server" in rig.component.log(), 30.0
        )
        assert reconnected, rig.component.log()
        for subscriber in subscribers:
            await subscriber.connect()
        stored = set(await rig.stored())
        assert len(stored) == BEFORE + IN_THE_WINDOW
        await wait_until(lambda: all(stored <= set(s.received) for s in subscribers), 20.0)
        await rig.thoonk.publish_one(SENTINEL)
        fenced = await wait_until(lambda: all(SENTINEL in s.received for s in subscribers), 15.0)
        figures = "\n".join(
            f"subscriber {n}: missing {sorted(stored - set(s.received))},"
            f" twice {sorted(i for i, c in s.received.items() if c > 1)}"
            for n, s in enumerate(subscribers, 1)
        )
        print(f"\n{figures}")
        missing = sum(len(stored - set(s.received)) for s in subscribers)
        assert fenced and not missing, f"{missing} notifications lost\n{figures}"
        for subscriber in subscribers:
            assert all(c <= 2 for c in subscriber.received.values()), figures
            twice = [i for i, c in subscriber.received.items() if c > 1]
            assert all(i.startswith("window-") for i in twice), figures
