"""``PubSubComponent``: the XEP-0114 component that answers pubsub, disco and ping IQs.

One slixmpp ``ComponentXMPP`` stream.  Every get/set iq addressed to the
service JID is taken as it leaves the parser, parsed once (:mod:`.parsing`),
run by its handler (:mod:`.handlers`), and answered with the result or the
error mapped by :mod:`.errors`.  IQs from one sender are answered in the
order they came; different senders run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any, Final

from redis.exceptions import ConnectionError as RedisConnectionError
from slixmpp import JID, ComponentXMPP
from slixmpp.xmlstream import tostring

from thoonk_xmpp.metrics import Metrics
from thoonk_xmpp.service.dispatch import QueueDispatcher
from thoonk_xmpp.service.errors import PubSubError
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE, RequestLimits
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import ConnectionLost as ThoonkConnectionLost

from . import authorization, fitting, handlers, ns, parsing, queue_handlers
from .errors import ResultTooBig, error_element, refused
from .limits import RequestGate
from .multicast import MulticastFlow
from .queue_messages import QueueMessages, watch_subscribers
from .requests import Request
from .server_news import ServerNews

log = logging.getLogger(__name__)


class ComponentError(Exception):
    """The component could not start a session with the server."""


class ConnectionRefused(ComponentError):
    """Nothing accepted the TCP connection (server down, wrong host or port)."""


class StreamRefused(ComponentError):
    """The server ended the stream: ``not-authorized`` (wrong secret), ``conflict``, …"""

    def __init__(self, condition: str, text: str = "") -> None:
        self.condition = condition
        super().__init__(
            f"the server refused the component: {condition}" + (f" ({text})" if text else "")
        )


class SessionTimeout(ComponentError):
    """No session within the timeout: a wrong secret (slixmpp may say nothing) or no answer."""


class _ComponentStream(ComponentXMPP):
    """slixmpp's component stream; get/set iqs to the service skip its stanza machinery.

    Such an iq goes from the parser straight to ``take`` as a plain element:
    no stanza object, no walk over every registered handler's matcher (half
    the time slixmpp spends on a publish).  Everything else takes slixmpp's
    usual way.
    """

    def __init__(
        self, jid: str, secret: str, host: str, port: int, take: Callable[[ET.Element], bool]
    ) -> None:
        super().__init__(jid, secret, host, port)  # type: ignore[no-untyped-call]
        self._take = take

    def _spawn_event(self, xml: ET.Element) -> None:
        if not self._take(xml):
            super()._spawn_event(xml)


_IQ: Final = ns.tag(ns.STANZA, "iq")
_PUBLISH: Final = f"{ns.tag(ns.PUBSUB, 'pubsub')}/{ns.tag(ns.PUBSUB, 'publish')}"


def _bare(jid: str) -> str:
    try:
        return JID(jid).bare
    except ValueError:
        return ""


class PubSubComponent:
    """The pubsub service on an XEP-0114 component connection."""

    def __init__(
        self,
        jid: str,
        secret: str,
        host: str,
        port: int,
        service: PubSubService,
        router: EventRouter,
        *,
        limits: RequestLimits | None = None,
        max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE,
    ) -> None:
        self.jid = JID(jid).bare
        #: No answer sent is bigger, in bytes: the server would close the link.
        self.max_stanza_size = max_stanza_size
        #: How many requests may wait for their answers (none is ever timed out).
        self.gate = RequestGate(limits or RequestLimits())
        self.host = host
        self.port = port
        self.service = service
        self.router = router
        self.xmpp = _ComponentStream(jid, secret, host, port, self._take)
        #: Set while a session is up; cleared when it ends.
        self.connected = asyncio.Event()
        #: Set while no session is up (initially, and after every disconnection).
        self.disconnected = asyncio.Event()
        self.disconnected.set()
        self._outcome: asyncio.Future[None] | None = None
        # sender → when its latest request is answered (its requests are answered in order)
        self._last_of: dict[str, asyncio.Future[None]] = {}
        self._inflight: set[asyncio.Future[None]] = set()
        self._outbox: list[str] = []
        #: Presence and XEP-0356 privileges (the service's roster reader).
        self.news = ServerNews(
            self.jid, service, self.send_element, self.connected.is_set, self._came_online
        )
        self.privileges = self.news.privileges
        #: Set by the bridge when [metrics] is enabled.
        self.metrics: Metrics | None = None
        #: Paces publishes to the server's multicast service (:mod:`.multicast`).
        self.multicast_flow = MulticastFlow(self.xmpp, self.jid)
        self.xmpp.add_event_handler("session_start", self._on_session_start)
        self.xmpp.add_event_handler("disconnected", self._on_disconnected)
        self.xmpp.add_event_handler("stream_error", self._on_stream_error)
        self.xmpp.add_event_handler("connection_failed", self._on_connection_failed)
        #: Hands the items of job and queue nodes to one subscriber each (XEP-0254).
        self.queues = QueueDispatcher(
            service,
            router,
            QueueMessages(
                self.send_soon, self.connected.is_set, self.jid, self._render, max_stanza_size
            ),
        )
        watch_subscribers(self.xmpp, self.queues)

    # --- lifecycle ----------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and hand-shake; returns on session start.

        Raises :class:`ConnectionRefused`, :class:`StreamRefused` or
        :class:`SessionTimeout` (after stopping the attempt).
        """
        self._outcome = asyncio.get_running_loop().create_future()
        # The server says what it grants right after the handshake, on every connection:
        # what an earlier one said may be no longer true (other instances hear it again
        # on theirs, moments apart).
        self.privileges.new_link()
        self.xmpp.connect(self.host, self.port)
        try:
            await asyncio.wait_for(asyncio.shield(self._outcome), timeout)
        except TimeoutError:
            await self._stop_stream()
            raise SessionTimeout(
                f"no session with {self.host}:{self.port} as {self.jid} after {timeout} s:"
                " wrong component secret, or the server does not answer"
            ) from None
        except ComponentError:
            await self._stop_stream()
            raise

    async def disconnect(self, wait: float = 2.0) -> None:
        """Finish the IQs being answered, then close the stream (and record the presence
        that came meanwhile)."""
        await self.queues.aclose()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=wait)
        await self._stop_stream(wait)
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=wait)

    async def wait_disconnected(self) -> None:
        """Return once the session is over (immediately if there is none)."""
        await self.disconnected.wait()

    async def _stop_stream(self, wait: float = 2.0) -> None:
        self.xmpp.cancel_connection_attempt()
        await self.xmpp.disconnect(wait=wait)

    def _settle(self, error: ComponentError | None) -> None:
        outcome = self._outcome
        if outcome is None or outcome.done():
            return
        if error is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(error)

    def _on_session_start(self, _: Any) -> None:
        self.disconnected.clear()
        self.connected.set()
        self.queues.start()
        self._settle(None)

    def _on_disconnected(self, _: Any) -> None:
        self.multicast_flow.reset()
        self.connected.clear()
        self.disconnected.set()

    def _on_stream_error(self, error: Any) -> None:
        self._settle(StreamRefused(str(error["condition"]), str(error["text"])))

    def _on_connection_failed(self, reason: Any) -> None:
        self._settle(ConnectionRefused(f"cannot connect to {self.host}:{self.port}: {reason}"))

    # --- sending ------------------------------------------------------------------------

    def send_element(self, element: ET.Element) -> None:
        """Send a finished stanza element (``{jabber:component:accept}message``, …)."""
        self.send_text(self._render(element))

    def _render(self, element: ET.Element) -> str:
        return str(tostring(element, stream=self.xmpp, top_level=True))

    def send_soon(self, text: str) -> None:
        """Queue stanza text for one write at the next turn of the event loop.

        Notifications go this way: whatever is queued in one turn shares a
        write, and an IQ answer sent before that write (:meth:`send_text`)
        takes the queue along behind it.
        """
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(text)

    @property
    def outbox_depth(self) -> int:
        """Stanzas waiting for the next write."""
        return len(self._outbox)

    def _flush(self) -> None:
        if self._outbox:
            text = "".join(self._outbox)
            self._outbox.clear()
            self._write(text)

    def send_text(self, text: str) -> None:
        """Write finished stanza text (one stanza or several) to the stream now.

        Straight to the transport, not through slixmpp's send queue and its
        task.  Notifications still queued go in the same write, after it: the
        answer to a publish usually meets the notification of that publish
        here, and one write wakes the server once instead of twice.
        """
        if self._outbox:
            text += "".join(self._outbox)
            self._outbox.clear()
        self._write(text)

    def _write(self, text: str) -> None:
        """Without a connection the text is dropped (it could not be routed)."""
        if self.xmpp.transport is None:
            log.debug("not connected; dropped %d characters", len(text))
            return
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            # A name or id a Thoonk app wrote in bytes that are not UTF-8 (kept as lone
            # surrogates): XML cannot carry them, so they go out as "?" rather than
            # failing the write and everything queued with it.
            log.warning("text not encodable as UTF-8 sent with replacement characters")
            data = text.encode("utf-8", "replace")
        self.xmpp.send_raw(data)

    # --- requests -----------------------------------------------------------------------

    def _take(self, element: ET.Element) -> bool:
        """Start answering ``element`` if it is a get/set iq to the service itself (or an
        owner's answer to a subscription request, :mod:`.authorization`); presence and
        XEP-0356 news are noted first (:class:`.server_news.ServerNews`)."""
        work, taken = self.news.note(element)
        if work is not None:
            self._keep(work)
        if taken:
            return True
        answer = authorization.is_answer(element)
        if not answer and (element.tag != _IQ or element.get("type") not in ("get", "set")):
            return False
        to = element.get("to", "")
        if to != self.jid and _bare(to) != self.jid:
            return False
        sender = element.get("from", "")
        refusal = self.gate.admit(sender)
        if refusal is not None:
            if answer:
                self._answer_decision_error(element, refusal)
            else:
                self._refuse(element, None, refusal, 0.0)
            return True
        task = asyncio.ensure_future(self._on_answer(element) if answer else self._on_iq(element))
        task.add_done_callback(lambda _: self.gate.release(sender))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return True

    async def _came_online(self, full_jid: str) -> None:
        await self.router.came_online(full_jid)

    def _keep(self, work: Awaitable[None]) -> None:
        """Work to finish before disconnecting."""
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _on_iq(self, iq: ET.Element) -> None:
        sender = iq.get("from", "")
        before = self._last_of.get(sender)
        answered = asyncio.get_running_loop().create_future()
        self._last_of[sender] = answered
        try:
            if before is not None:
                await before
            if iq.find(_PUBLISH) is not None:
                await self.multicast_flow.room()
            await self._answer(iq)
        finally:
            answered.set_result(None)
            if self._last_of.get(sender) is answered:
                del self._last_of[sender]

    async def _on_answer(self, message: ET.Element) -> None:
        """An owner's answer to a subscription request: acted on, or refused by a message
        error (a sender who owns nothing learns nothing of the node's requests)."""
        try:
            await authorization.answer(self.service, message)
        except Exception as exc:
            if not isinstance(exc, PubSubError):
                log.exception("acting on %s failed", tostring(message))
            self._answer_decision_error(message, exc)

    def _answer_decision_error(self, message: ET.Element, error: BaseException) -> None:
        self.send_element(authorization.error_message(message, error_element(error)))

    def _refuse(
        self, iq: ET.Element, request: Request | None, error: BaseException, started: float
    ) -> None:
        payload = queue_handlers.error_payload(iq, error)
        self.send_element(handlers.error_iq(iq, error_element(error), payload))
        verb, condition = refused(iq, request, error)
        if self.metrics is not None:
            self.metrics.answered(verb, condition, started or time.perf_counter())

    async def _answer(self, iq: ET.Element) -> None:
        started = time.perf_counter() if self.metrics is not None else 0.0
        request: Request | None = None
        try:
            envelope = parsing.envelope(iq)
            request = parsing.parse(iq)
            ctx = handlers.Context(
                self.service,
                self.router,
                self.jid,
                envelope.sender,
                envelope.actor,
                self.max_stanza_size,
                self.queues,
            )
            reply = await handlers.handle(ctx, request)
            answer = handlers.result_iq(iq, reply.payload)
            text = fitting.fitted(answer, reply.listing, self.max_stanza_size, self._render)
            if text is None:
                raise ResultTooBig(self.max_stanza_size)
        except Exception as exc:
            if isinstance(exc, ThoonkConnectionLost | RedisConnectionError):
                log.warning("cannot answer %s now: %s", iq.get("id"), exc)
            elif not isinstance(exc, PubSubError):
                log.exception("answering %s failed", tostring(iq))
            self._refuse(iq, request, exc, started)
            return
        self.send_text("".join(reply.messages) + text if reply.messages else text)
        if self.metrics is not None:
            self.metrics.answered(request.verb, "result", started)
        if reply.after is not None:
            try:
                await reply.after()
            except Exception:
                log.exception("after answering %s", tostring(iq))
