"""A light XMPP load generator for the bridge benchmark: raw asyncio c2s connections.

Subscribers must not be the bottleneck when 100 of them each receive every
notification, so no client here parses XML after login: each connection scans
the bytes it receives with one compiled regex for the benchmark payload marker
(``<t xmlns='urn:x-bridge-bench'>PHASE SEQ SENT_NS …</t>``), IQ opening tags
(results and errors of our own requests, matched by id) and stream errors.
Login is SASL PLAIN over plain TCP on loopback, which the test Prosody allows.

Payload timestamps are ``time.monotonic_ns()`` of the publishing process; the
benchmark publishes and receives in the same process, so they compare directly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

MARK_NS = "urn:x-bridge-bench"
PUBSUB_NS = "http://jabber.org/protocol/pubsub"
TIMEOUT = 15.0

_SCAN = re.compile(
    rb"<t xmlns=['\"]urn:x-bridge-bench['\"]>(\d+) (\d+) (\d+)[ <]"
    rb"|<iq\b[^>]*>"
    rb"|<retract\b"
    rb"|<stream:error\b|</stream:stream>"
)
_ATTR = re.compile(rb"""([\w:]+)=(['"])(.*?)\2""")
#: Longest unmatched tail kept between reads (a match is far shorter).
_TAIL = 4096


class XMPPError(Exception):
    """A request was answered with an error, or the stream failed."""


def payload(phase: int, seq: int, pad: str = "") -> str:
    """The benchmark payload element, stamped with the current monotonic time."""
    return f"<t xmlns='{MARK_NS}'>{phase} {seq} {time.monotonic_ns()}{' ' + pad if pad else ''}</t>"


def publish_iq(service: str, node: str, iq_id: str, item: str) -> bytes:
    return (
        f"<iq type='set' id='{iq_id}' to={quoteattr(service)}><pubsub xmlns='{PUBSUB_NS}'>"
        f"<publish node={quoteattr(node)}><item>{item}</item></publish></pubsub></iq>"
    ).encode()


def create_iq(service: str, node: str, iq_id: str, options: dict[str, str]) -> bytes:
    fields = "".join(
        f"<field var={quoteattr(var)}><value>{value}</value></field>"
        for var, value in options.items()
    )
    form = (
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{PUBSUB_NS}#node_config</value></field>{fields}</x>"
    )
    return (
        f"<iq type='set' id='{iq_id}' to={quoteattr(service)}><pubsub xmlns='{PUBSUB_NS}'>"
        f"<create node={quoteattr(node)}/><configure>{form}</configure></pubsub></iq>"
    ).encode()


def subscribe_iq(service: str, node: str, iq_id: str, jid: str) -> bytes:
    return (
        f"<iq type='set' id='{iq_id}' to={quoteattr(service)}><pubsub xmlns='{PUBSUB_NS}'>"
        f"<subscribe node={quoteattr(node)} jid={quoteattr(jid)}/></pubsub></iq>"
    ).encode()


def ping_iq(to: str, iq_id: str) -> bytes:
    return f"<iq type='get' id='{iq_id}' to={quoteattr(to)}><ping xmlns='urn:xmpp:ping'/></iq>".encode()


@dataclass
class Collector:
    """Counts benchmark notifications of the current phase and their latencies (ns)."""

    phase: int = 0
    count: int = 0
    stray: int = 0
    #: Retraction notifications seen (of any phase: they carry no payload).
    retracts: int = 0
    last_ns: int = 0
    latencies: list[int] = field(default_factory=list)

    def start(self, phase: int) -> None:
        self.phase, self.count, self.last_ns = phase, 0, 0
        self.latencies = []

    def __call__(self, phase: int, sent_ns: int) -> None:
        if phase != self.phase:
            self.stray += 1
            return
        now = time.monotonic_ns()
        self.count += 1
        self.last_ns = now
        self.latencies.append(now - sent_ns)


IqCallback = Callable[[bool, bytes], None]


class RawClient(asyncio.Protocol):
    """One c2s connection: login, then byte scanning (see the module docstring)."""

    def __init__(self, domain: str, user: str, password: str, sink: Collector | None) -> None:
        self.domain = domain
        self.bare = f"{user}@{domain}"
        self.user = user
        self.password = password
        self.sink = sink
        self.full = ""
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._scanning = False
        self._arrived = asyncio.Event()
        self._pending: dict[str, IqCallback] = {}
        self._ids = (f"q{n}" for n in itertools.count(1))
        self.failure: str | None = None
        self.closed = asyncio.get_running_loop().create_future()

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection closed")
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self._scanning:
            self._buffer += data
            self._arrived.set()
            return
        self._scan(self._buffer + data if self._buffer else data)

    # --- login --------------------------------------------------------------------------

    async def login(self, host: str, port: int, resource: str = "bench") -> None:
        """Connect, authenticate (PLAIN), bind, send presence; returns once it is effective."""
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        await asyncio.wait_for(self._login(resource), TIMEOUT)

    def _header(self) -> None:
        self.write(
            f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".encode()
        )

    async def _expect(self, pattern: bytes) -> re.Match[bytes]:
        regex = re.compile(pattern, re.S)
        while True:
            match = regex.search(self._buffer)
            if match:
                self._buffer = self._buffer[match.end() :]
                return match
            if self.failure:
                raise XMPPError(self.failure)
            self._arrived.clear()
            await self._arrived.wait()

    async def _login(self, resource: str) -> None:
        self._header()
        features = await self._expect(rb".*?</stream:features>")
        if b"PLAIN" not in features.group(0):
            raise XMPPError(f"{self.bare}: server offers no PLAIN: {features.group(0)!r}")
        secret = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        self.write(
            f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{secret}</auth>".encode()
        )
        outcome = await self._expect(rb"<success\b.*?(?:/>|</success>)|<failure\b.*?</failure>")
        if outcome.group(0).startswith(b"<failure"):
            raise XMPPError(f"{self.bare}: authentication failed: {outcome.group(0)!r}")
        self._header()
        await self._expect(rb".*?</stream:features>")
        self.write(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            f"<resource>{resource}</resource></bind></iq>".encode()
        )
        bound = await self._expect(rb"<jid>([^<]+)</jid>.*?</iq>")
        self.full = bound.group(1).decode()
        rest, self._buffer = self._buffer, b""
        self._scanning = True
        self._scan(rest)
        # Delivery to a bare JID needs available presence; the server handles a session's
        # stanzas in order, so the ping's answer means the presence has been taken in.
        self.write(b"<presence/>")
        await self.iq(ping_iq(self.domain, "%s"))

    # --- scanning -----------------------------------------------------------------------

    def _scan(self, data: bytes) -> None:
        end = 0
        sink = self.sink
        for match in _SCAN.finditer(data):
            phase = match.group(1)
            if phase is not None:
                if sink is not None:
                    sink(int(phase), int(match.group(3)))
            elif match.group(0).startswith(b"<r"):
                if sink is not None:
                    sink.retracts += 1
            elif match.group(0).startswith(b"<iq"):
                if not self._answer(data, match):
                    end = match.start()
                    break
            else:
                self._fail(
                    f"stream ended by the server: {data[match.start() : match.start() + 400]!r}"
                )
            end = match.end()
        tail = data[end:]
        self._buffer = tail if len(tail) <= _TAIL or tail.startswith(b"<iq") else tail[-_TAIL:]

    def _answer(self, data: bytes, match: re.Match[bytes]) -> bool:
        """Settle the request an IQ answers; False if an error IQ's body is still incomplete."""
        attrs = {m.group(1): m.group(3) for m in _ATTR.finditer(match.group(0))}
        kind = attrs.get(b"type")
        if kind not in (b"result", b"error"):
            return True  # a request to us: nothing in this benchmark asks clients anything
        text = match.group(0)
        if kind == b"error" and not text.endswith(b"/>"):
            close = data.find(b"</iq>", match.end())
            if close < 0:
                return False
            text = data[match.start() : close + 5]
        callback = self._pending.pop(attrs.get(b"id", b"").decode(), None)
        if callback is not None:
            callback(kind == b"result", text)
        return True

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = f"{self.bare}: {reason}"
        self._arrived.set()
        pending, self._pending = self._pending, {}
        for callback in pending.values():
            callback(False, reason.encode())

    # --- requests -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def send_iq(self, template: bytes, callback: IqCallback) -> str:
        """Send an IQ whose id attribute is ``%s`` in ``template``; ``callback`` gets the answer."""
        if self.failure:
            raise XMPPError(self.failure)
        iq_id = next(self._ids)
        self._pending[iq_id] = callback
        self.write(template.replace(b"%s", iq_id.encode(), 1))
        return iq_id

    async def iq(self, template: bytes, timeout: float = TIMEOUT) -> bytes:
        """Send an IQ and wait for its result; :class:`XMPPError` on an error answer."""
        future: asyncio.Future[tuple[bool, bytes]] = asyncio.get_running_loop().create_future()

        def settle(ok: bool, text: bytes) -> None:
            if not future.done():
                future.set_result((ok, text))

        self.send_iq(template, settle)
        ok, text = await asyncio.wait_for(future, timeout)
        if not ok:
            raise XMPPError(f"{self.bare}: {text.decode(errors='replace')}")
        return text

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"</stream:stream>")
            self.transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 2.0)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def connect_all(
    host: str,
    port: int,
    domain: str,
    accounts: list[tuple[str, str]],
    sink: Collector | None,
    *,
    concurrency: int = 20,
) -> list[RawClient]:
    """Log ``accounts`` (user, password) in, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(user: str, password: str) -> RawClient:
        async with gate:
            client = RawClient(domain, user, password, sink)
            await client.login(host, port)
            return client

    return list(await asyncio.gather(*(one(u, p) for u, p in accounts)))


class Window:
    """Keeps ``size`` publish IQs outstanding from one client until stopped or ``limit``."""

    def __init__(
        self,
        client: RawClient,
        build: Callable[[int], bytes],
        size: int,
        limit: int,
    ) -> None:
        self.client = client
        self.build = build
        self.size = size
        self.limit = limit
        self.sent = 0
        self.done = 0
        self.error: str | None = None
        self.stopping = False
        self.finished = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        for _ in range(min(self.size, self.limit)):
            self._send()

    def stop(self) -> None:
        self.stopping = True
        self._check()

    def _send(self) -> None:
        self.sent += 1
        self.client.send_iq(self.build(self.sent), self._answered)

    def _answered(self, ok: bool, text: bytes) -> None:
        self.done += 1
        if not ok and self.error is None:
            self.error = text.decode(errors="replace")
            self.stopping = True
        if not self.stopping and self.sent < self.limit:
            self._send()
        self._check()

    def _check(self) -> None:
        stopped = self.stopping or self.sent >= self.limit
        if stopped and self.done >= self.sent and not self.finished.done():
            self.finished.set_result(None)


class RawComponent:
    """An XEP-0114 component that only sends prebuilt messages: Prosody's routing ceiling."""

    def __init__(self, jid: str, secret: str) -> None:
        self.jid = jid
        self.secret = secret
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write(
            "<stream:stream xmlns='jabber:component:accept' "
            f"xmlns:stream='http://etherx.jabber.org/streams' to='{self.jid}'>".encode()
        )
        header = await asyncio.wait_for(self.reader.readuntil(b">"), TIMEOUT)
        while b"stream:stream" not in header:
            header += await asyncio.wait_for(self.reader.readuntil(b">"), TIMEOUT)
        found = re.search(rb"""\bid=['"]([^'"]+)['"]""", header)
        if found is None:
            raise XMPPError(f"no stream id in {header!r}")
        digest = hashlib.sha1(found.group(1) + self.secret.encode()).hexdigest()
        self.writer.write(f"<handshake>{digest}</handshake>".encode())
        answer = await asyncio.wait_for(self.reader.readuntil(b">"), TIMEOUT)
        if not answer.startswith(b"<handshake"):
            raise XMPPError(f"component handshake refused: {answer!r}")

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.write(b"</stream:stream>")
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2.0)


def event_message(sender: str, to: str, message_id: str, node: str, item_id: str, item: str) -> str:
    """An event message shaped like the ones our component and Prosody send."""
    return (
        f"<message from='{sender}' to='{to}' type='headline' id='{message_id}'>"
        "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
        f"<items node='{node}'><item id='{item_id}'>{item}</item></items></event></message>"
    )
