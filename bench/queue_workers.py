"""Workers for the job-node benchmark: XMPP workers (raw c2s connections) and Thoonk
workers of ours (``AsyncThoonk`` claim + finish loops).

An XMPP worker is a :class:`bench.xmpp_load.RawClient` that, once subscribed to the job
node, answers every item the service hands it (an items event) with the XEP-0254 finish:
a retract of that id carrying a result. Like the load generator's clients it never
parses XML: it scans the bytes it receives for ``<item id=…>`` openings and IQ answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from xml.sax.saxutils import quoteattr

from bench.xmpp_load import PUBSUB_NS, RawClient
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Empty, Job

#: The result element: what workers of either kind send back for a job.
RESULT_NS = "urn:thoonk-xmpp:job:0"
RESULT = b"<r xmlns='urn:x-queue-bench'>done</r>"

_SCAN = re.compile(
    rb"<item\b[^>]*?\bid=(['\"])(.*?)\1" rb"|<iq\b[^>]*>" rb"|<stream:error\b|</stream:stream>"
)
_TAIL = 4096


def finish_iq(service: str, node: str, item_ids: list[str]) -> bytes:
    """The holder's finish: retract the items (one, or several at once), each with a
    result (``%s`` = the IQ id)."""
    result = f"<result xmlns='{RESULT_NS}'>{RESULT.decode()}</result>"
    items = "".join(f"<item id={quoteattr(item_id)}>{result}</item>" for item_id in item_ids)
    return (
        f"<iq type='set' id='%s' to={quoteattr(service)}><pubsub xmlns='{PUBSUB_NS}'>"
        f"<retract node={quoteattr(node)}>{items}</retract></pubsub></iq>"
    ).encode()


def join_iq(service: str, node: str, jid: str, queue_requests: int, batch: bool) -> bytes:
    """Subscribe holding ``queue_requests`` jobs at once (XEP-0254 requires the option);
    ``batch``: the items handed at once come in one event (``thoonkx#queue_batch``)."""
    attrs = f"node={quoteattr(node)} jid={quoteattr(jid)}"
    together = "<field var='thoonkx#queue_batch'><value>1</value></field>" if batch else ""
    options = (
        f"<options {attrs}><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE' type='hidden'>"
        f"<value>{PUBSUB_NS}#subscribe_options</value></field>"
        f"<field var='pubsub#queue_requests'><value>{queue_requests}</value></field>"
        f"{together}</x></options>"
    )
    return (
        f"<iq type='set' id='%s' to={quoteattr(service)}><pubsub xmlns='{PUBSUB_NS}'>"
        f"<subscribe {attrs}/>{options}</pubsub></iq>"
    ).encode()


class XmppWorker(RawClient):
    """Finishes every job it is handed on the node it works on, at once: one retract a
    job, or (``batch``) one retract for all the jobs of what it read in one go."""

    def __init__(self, domain: str, user: str, password: str) -> None:
        super().__init__(domain, user, password, None)
        self.service = ""
        self.node = ""
        self.handed = 0
        self.finished = 0
        self.errors: list[str] = []
        #: Seconds from an item's arrival to its finish being answered, per job.
        self.answer_times: list[float] = []
        #: Seconds from a finish answered to the next item's arrival, per job.
        self.wait_times: list[float] = []
        self._answered_at: float | None = None
        self.batch = False

    async def work_on(self, service: str, node: str, queue_requests: int, batch: bool) -> None:
        """Directed presence to the service (it learns when we go), then subscribe."""
        self.service, self.node, self.batch = service, node, batch
        self.write(f"<presence to={quoteattr(service)}/>".encode())
        await self.iq(join_iq(service, node, self.bare, queue_requests, batch))

    def _scan(self, data: bytes) -> None:
        end = 0
        handed: list[str] = []
        for match in _SCAN.finditer(data):
            found = match.group(0)
            if found.startswith(b"<item"):
                handed.append(match.group(2).decode())
            elif found.startswith(b"<iq"):
                if not self._answer(data, match):
                    end = match.start()
                    break
            else:
                self._fail(f"stream ended by the server: {data[match.start() :][:400]!r}")
            end = match.end()
        tail = data[end:]
        self._buffer = tail if len(tail) <= _TAIL or tail.startswith(b"<iq") else tail[-_TAIL:]
        if not handed:
            return
        if self.batch:
            self._finish(handed)
        else:
            for item_id in handed:
                self._finish([item_id])

    def _finish(self, item_ids: list[str]) -> None:
        now = time.perf_counter()
        self.handed += len(item_ids)
        if self._answered_at is not None:
            self.wait_times.append(now - self._answered_at)
            self._answered_at = None
        answered = functools.partial(self._finished, now, len(item_ids))
        self.send_iq(finish_iq(self.service, self.node, item_ids), answered)

    def _finished(self, handed_at: float, jobs: int, ok: bool, text: bytes) -> None:
        now = time.perf_counter()
        self.answer_times.append(now - handed_at)
        self._answered_at = now
        if ok:
            self.finished += jobs
        else:
            self.errors.append(text.decode(errors="replace")[:300])

    def forget_times(self) -> None:
        self.answer_times, self.wait_times, self._answered_at = [], [], None


class ThoonkWorkers:
    """``count`` workers of ours, each its own client, claiming and finishing jobs."""

    def __init__(self, url: str, node: str, count: int) -> None:
        self.url = url
        self.node = node
        self.count = count
        self.clients: list[AsyncThoonk] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.finished = 0

    async def start(self) -> None:
        for _ in range(self.count):
            client = AsyncThoonk.from_url(self.url)
            await client.connect()
            self.clients.append(client)
            job = Job(client, self.node, BYTES)
            self.tasks.append(asyncio.create_task(self._work(job)))

    async def _work(self, job: Job[bytes]) -> None:
        while True:
            try:
                claimed = await job.get(timeout=5)
            except Empty:
                continue
            await job.finish(claimed.id, RESULT)
            self.finished += 1

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self.clients:
            await client.aclose()
