"""The thoonk-xmpp process: Redis, the pubsub service, event delivery and the component link.

:class:`Bridge` owns the running objects; :func:`run` adds signal handling and
turns startup failures into a message and an exit status.  Once started, the
bridge keeps serving through outages: it reconnects to the XMPP server with
capped exponential backoff, and the Thoonk listener resubscribes to Redis by
itself (requests made while Redis is away get an error reply, never silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import Any, Final, TextIO
from urllib.parse import parse_qsl, urlsplit

from redis.exceptions import RedisError

from thoonk_xmpp.metrics import Metrics
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.settings import RedisSettings, Settings
from thoonk_xmpp.thoonk import AsyncThoonk, ThoonkError

from . import multicast
from .component import ComponentError, PubSubComponent, StreamRefused
from .json_log import JsonFormatter
from .monitor import Monitor
from .notifications import Notifier

log = logging.getLogger(__name__)

#: Exit statuses of ``thoonk-xmpp run``.
EXIT_OK: Final = 0
EXIT_STARTUP: Final = 1

#: Seconds to wait for Redis or for a component session at startup.
STARTUP_TIMEOUT: Final = 10.0
#: First wait before reconnecting to the XMPP server; doubles up to the configured cap.
FIRST_RETRY_DELAY: Final = 0.5
#: Wait between a standby's tries to take over the component JID.
STANDBY_RETRY_DELAY: Final = 0.5


class StartupError(Exception):
    """The bridge could not start; the message says what to fix."""


class Bridge:
    """One running thoonk-xmpp: build with settings, then :meth:`start`, :meth:`serve`, :meth:`aclose`."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = STARTUP_TIMEOUT,
        first_retry_delay: float = FIRST_RETRY_DELAY,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.first_retry_delay = first_retry_delay
        component = settings.component
        self.thoonk = _thoonk(settings.redis)
        self.service = PubSubService(self.thoonk, settings.pubsub)
        self.notifier = Notifier(
            self._send, component.jid, max_stanza_size=component.max_stanza_size
        )
        self.router = EventRouter(self.service, self.notifier, delivery=settings.delivery)
        self.component = PubSubComponent(
            component.jid,
            component.secret,
            component.host,
            component.port,
            self.service,
            self.router,
            limits=settings.limits,
            max_stanza_size=component.max_stanza_size,
        )
        #: The Prometheus figures; None unless [metrics] enabled.
        self.metrics = self.component.metrics = Metrics() if settings.metrics.enabled else None
        self.monitor: Monitor | None = None
        # Events wait for a session with the server, then for a catch-up (see
        # thoonk_xmpp.service.delivery): a session start or end is a gap in delivery.
        self.router.link_lost()
        self._shut_down = self._linked = False
        self._finding: asyncio.Future[None] | None = None
        self.component.xmpp.add_event_handler("session_start", self._on_link_up)
        self.component.xmpp.add_event_handler("stream_error", self._on_stream_error)
        self.component.xmpp.add_event_handler("disconnected", self._on_link_lost)
        self.component.xmpp.add_event_handler("message_error", self._on_message_error)
        #: How many sessions with the XMPP server were started (1 after :meth:`start`).
        self.sessions = 0
        #: Notifications dropped because the link to the XMPP server was down.
        self.dropped = 0

    def _on_link_up(self, _: Any) -> None:
        self._shut_down = False
        self._linked = True
        self.router.link_up()
        if self.settings.component.multicast:
            self._finding = asyncio.ensure_future(self._find_multicast())

    async def _find_multicast(self) -> None:
        """Send events through the server's XEP-0033 service if it has one."""
        component = self.settings.component
        domain = component.jid.partition(".")[2] or component.jid
        try:
            found = await multicast.find(self.component.xmpp, self.component.jid, domain)
        except Exception as exc:  # the link went meanwhile: the next session looks again
            log.info("looking for a multicast service failed: %s", exc)
            return
        if found is not None and self._linked:
            self.notifier.multicast = multicast.Multicast(
                found, domain, component.multicast_limit, self.component.multicast_flow
            )
            log.info("sending events through %s (XEP-0033 multicast)", found)

    def _on_message_error(self, message: Any) -> None:
        # The service refuses a whole message (too many addresses, most often) and delivers
        # none of it: every later event would be lost the same way.  Its errors carry our
        # multicast message ids, never a handed id, so they are never taken for bounces.
        used = self.notifier.multicast
        if used is None or message["from"].bare != used.jid:
            return
        self.notifier.multicast = None  # one message per subscriber until the next session
        condition, text = multicast.stanza_error(message.xml)
        log.warning(
            "multicast service %s refused an event (%s%s): its subscribers missed it; "
            "sending one message per subscriber until the next session. Keep "
            "[component] multicast_limit (%d) at or below the service's own limit",
            used.jid,
            condition,
            f": {text}" if text else "",
            used.limit,
        )

    def _on_stream_error(self, error: Any) -> None:
        # A server shutting down in order ends the stream with system-shutdown.
        self._shut_down = str(error["condition"]) == "system-shutdown"

    def _on_link_lost(self, reason: Any) -> None:
        # Closed in order or not, the catch-up sends the last in_flight seconds again:
        # what we wrote before we noticed even an orderly close may have gone nowhere.
        if not self._linked:
            return  # an attempt that never became a session
        self._linked = False
        self.notifier.multicast = None  # found again once the link is back
        in_order = self._shut_down or reason is None or reason == "End of stream"
        log.info("XMPP link lost (%s)", "closed in order" if in_order else reason or "dropped")
        self.router.link_lost()

    def _send(self, messages: list[str]) -> None:
        # While the link is down the server could not route them anyway: count and drop
        # (the router's catch-up sends stored items again once the link is back).
        if not self.component.connected.is_set():
            if self.metrics is not None:
                self.metrics.notifications_dropped.inc(len(messages))
            before, self.dropped = self.dropped, self.dropped + len(messages)
            if before == 0 or before // 1000 != self.dropped // 1000:
                log.warning("XMPP link down: %d notifications dropped so far", self.dropped)
            return
        self.component.send_soon("".join(messages))
        if self.metrics is not None:
            self.metrics.notifications_sent.inc(len(messages))

    @property
    def where(self) -> str:
        component = self.settings.component
        return f"{component.host}:{component.port}"

    async def start(self) -> None:
        """Reach Redis, start event delivery, open the component session.

        Raises :class:`StartupError` (after releasing what was opened) if Redis or
        the XMPP server cannot be used within the timeout.
        """
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise

    async def _start(self) -> None:
        if self.metrics is not None:
            await self._start_monitor(self.metrics)
        self.thoonk.listener.add_sink(self.router.on_notice)
        try:
            await asyncio.wait_for(self.thoonk.connect(), self.timeout)
        except (ThoonkError, RedisError, OSError, TimeoutError) as exc:
            raise StartupError(
                f"cannot use Redis at {self.settings.redis.redacted_url}: {exc or 'timed out'}"
            ) from None
        moved = await self.service.store.migrate_jid_index()
        if moved:
            log.info("moved %d subscription index entries into their buckets", moved)
        self.router.start()
        try:
            await self.component.connect(self.timeout)
        except ComponentError as exc:
            if self._standing_by(exc):
                self.router.stand_by()
                log.info(
                    "standing by: another instance serves %s; taking over when it goes",
                    self.settings.component.jid,
                )
                return
            raise StartupError(
                f"cannot connect to the XMPP server at {self.where} as "
                f"{self.settings.component.jid}: {exc}"
                f"{_hint(exc, self.settings.component.secret_source)}"
            ) from None
        self.sessions = 1
        log.info("serving %s through %s", self.settings.component.jid, self.where)

    async def serve(self, stop: asyncio.Event) -> None:
        """Keep the component session up until ``stop`` is set."""
        while not stop.is_set():
            await _first(stop.wait(), self.component.wait_disconnected())
            if stop.is_set():
                return
            if self.sessions:
                log.warning("lost the XMPP server at %s; reconnecting", self.where)
            await self._reconnect(stop)

    async def _reconnect(self, stop: asyncio.Event) -> None:
        delay = self.first_retry_delay
        cap = self.settings.component.reconnect_max_delay
        while not stop.is_set():
            attempt = asyncio.ensure_future(self.component.connect(self.timeout))
            await _first(stop.wait(), asyncio.shield(attempt))
            if stop.is_set():
                attempt.cancel()
                await asyncio.gather(attempt, return_exceptions=True)
                return
            try:
                attempt.result()
            except Exception as exc:  # whatever went wrong, the next try may work
                if self._standing_by(exc):
                    self.router.stand_by()
                    log.debug("still standing by: %s", exc)
                    delay = STANDBY_RETRY_DELAY  # take over soon after the active one goes
                else:
                    log.warning(
                        "reconnecting to %s failed (%s); next try in %.1f s", self.where, exc, delay
                    )
            else:
                self.sessions += 1
                if self.metrics is not None:
                    self.metrics.reconnects.inc()
                log.info("reconnected to the XMPP server at %s", self.where)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, cap)

    def _standing_by(self, error: Exception) -> bool:
        """Whether ``error`` means another instance is active and this one is a standby."""
        return (
            self.settings.component.standby
            and isinstance(error, StreamRefused)
            and error.condition == "conflict"
        )

    async def _start_monitor(self, metrics: Metrics) -> None:
        settings = self.settings.metrics
        monitor = Monitor(metrics, settings, self.service, self.router, self.component)
        try:
            await monitor.start()
        except OSError as exc:
            raise StartupError(
                f"cannot serve metrics on {settings.host}:{settings.port}: {exc.strerror or exc}"
            ) from None
        self.monitor = monitor

    async def aclose(self) -> None:
        """Close the session, stop delivery and the listener, release Redis."""
        if self._finding is not None:
            self._finding.cancel()
            await asyncio.gather(self._finding, return_exceptions=True)
        await self.router.settle()
        with contextlib.suppress(Exception):
            await self.component.disconnect()
        if self.monitor is not None:
            await self.monitor.aclose()
            self.monitor = None
        await self.router.aclose()
        await self.thoonk.aclose()


def _thoonk(redis: RedisSettings) -> AsyncThoonk:
    """The listening Thoonk client the settings describe (through Sentinels if named)."""
    if not redis.sentinels:
        return AsyncThoonk.from_url(redis.url, listen=True)
    parts = urlsplit(redis.url)
    db = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "0")
    return AsyncThoonk.from_sentinel(
        redis.sentinels,
        redis.sentinel_master,
        listen=True,
        db=int(db) if db.isdigit() else 0,
        password=parts.password,
        username=parts.username or None,
    )


def _hint(error: ComponentError, secret_source: str) -> str:
    if isinstance(error, StreamRefused) and error.condition == "not-authorized":
        return f"; check that the secret (from {secret_source}) is the server's component secret"
    if isinstance(error, StreamRefused) and error.condition == "host-unknown":
        return "; the server has no Component block for this jid"
    if isinstance(error, StreamRefused) and error.condition == "conflict":
        return (
            "; another process is connected as this component"
            " ([component] standby = true makes this one wait to take over)"
        )
    return ""


async def _first(*waits: Awaitable[Any]) -> None:
    """Wait for the first of several awaitables; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run(
    settings: Settings, stop: asyncio.Event | None = None, *, err: TextIO | None = None
) -> int:
    """Run the bridge until SIGINT/SIGTERM (or ``stop``); returns the exit status."""
    err = err or sys.stderr
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        bridge = Bridge(settings)
        try:
            await bridge.start()
        except StartupError as exc:
            print(f"thoonk-xmpp: error: {exc}", file=err, flush=True)
            return EXIT_STARTUP
        try:
            await bridge.serve(stop)
        finally:
            log.info("stopping")
            await bridge.aclose()
        return EXIT_OK
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


def configure_logging(level: str, stream: TextIO | None = None, format: str = "plain") -> None:
    """Log to ``stream`` (stderr) at ``level``, as text lines or JSON (``format="json"``);
    slixmpp's stanza dumps only at ``debug``."""
    logging.basicConfig(
        level=level.upper(),
        stream=stream or sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if format == "json":
        logging.getLogger().handlers[0].setFormatter(JsonFormatter())
    if level != "debug":
        logging.getLogger("slixmpp").setLevel(logging.WARNING)
