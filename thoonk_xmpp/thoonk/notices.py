"""Live notices: one Redis pub/sub connection per client, parsed and fanned out.

The listener pattern-subscribes every per-feed notice channel and subscribes
the three registry channels, so feeds created later by any client are heard
without resubscribing.  It reconnects and resubscribes by itself after Redis
restarts (with backoff).  Handlers get registry notices carrying our own
instance id only when the listener is made with ``ignore_own=False`` (the
client's default: thoonk.py calls them for its own actions too); contract 15.8.

Handler arguments, by kind (thoonk.py's order; items are ``str``)::

    create(feed)            delete(feed)            config(feed)
    publish(feed, item, id) edit(feed, item, id)    retract(feed, id)
    position(feed, id, rel) finish(feed, id, result)
    job_put(feed, item, id) job_claim(feed, id)   purge(feed, count)
    trim(feed, count)       state(feed)             notify(feed, count)
    mark(instance, ms)

A handler may be a plain function or a coroutine function.  Handlers run in
notice order as the notices are read (:mod:`.notice_connection`): a plain
function at once, and a handler that returns an awaitable holds back the
notices after it until the awaitable is done.  Sinks
(:meth:`Listener.add_sink`) get every :class:`Notice` with raw bytes, our own
registry notices included; the same rules apply to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from . import keys
from .notice_connection import NoticeConnection
from .resp import RespConnectionError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
Sink = Callable[["Notice"], Awaitable[None] | None]


class NoticeKind(StrEnum):
    """What a notice reports."""

    CREATE = "create"
    DELETE = "delete"
    CONFIG = "config"
    PUBLISH = "publish"
    EDIT = "edit"
    RETRACT = "retract"
    POSITION = "position"
    FINISH = "finish"
    JOB_PUT = "job_put"
    JOB_CLAIM = "job_claim"
    #: Ours: a purge; ``count`` retract notices for the purged ids follow.
    PURGE = "purge"
    #: Ours: a publish trimmed the feed; ``count`` retract notices for the trimmed ids follow.
    TRIM = "trim"
    #: Ours: state an application keeps beside the feed changed (pubsub subscriptions, …).
    STATE = "state"
    #: Ours: the ``count`` retract notices that follow were asked to be announced.
    NOTIFY = "notify"
    #: Ours: a delivery mark; ``instance`` sent it, ``count`` is its Redis time in ms.
    MARK = "mark"
    #: Ours: a job or queue node has items or free capacity to hand out (``item_id``: a job
    #: finished without a result, or empty).
    READY = "ready"
    #: Never on the wire: the listener (re)subscribed, so notices sent before may be lost.
    #: Sinks get it before any notice of the new subscription; handlers never do.
    LISTENING = "listening"


_REGISTRY_KINDS = {
    keys.NEWFEED: NoticeKind.CREATE,
    keys.DELFEED: NoticeKind.DELETE,
    keys.CONFFEED: NoticeKind.CONFIG,
}

# thoonk.py's README names (publish_notice, ...) are accepted as aliases.
_ALIASES = {f"{kind.value}_notice": kind for kind in NoticeKind}


@dataclass(frozen=True, slots=True)
class Notice:
    """One parsed notice. Fields not carried by a kind are ``None``."""

    kind: NoticeKind
    feed: str
    item_id: str | None = None
    item: bytes | None = None
    position: str | None = None
    result: bytes | None = None
    instance: str | None = None
    count: int | None = None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse(channel: bytes, payload: bytes) -> Notice | None:
    """Parse one pub/sub message into a Notice; None for foreign channels."""
    registry = _REGISTRY_KINDS.get(channel)
    if registry is not None:
        name, instance = keys.split(payload)
        return Notice(registry, _text(name), instance=_text(instance))
    parsed = keys.parse_channel(channel)
    if parsed is None:
        return None
    kind, raw_name = NoticeKind(parsed[0]), parsed[1]
    feed = _text(raw_name)
    first, second = keys.split(payload)
    match kind:
        case NoticeKind.PUBLISH | NoticeKind.EDIT | NoticeKind.JOB_PUT:
            return Notice(kind, feed, item_id=_text(first), item=second)
        case NoticeKind.POSITION:
            return Notice(kind, feed, item_id=_text(first), position=_text(second))
        case NoticeKind.FINISH:
            return Notice(kind, feed, item_id=_text(first), result=second)
        case NoticeKind.PURGE | NoticeKind.TRIM | NoticeKind.NOTIFY:
            return Notice(kind, feed, count=int(payload) if payload.isdigit() else 0)
        case NoticeKind.MARK:
            return Notice(kind, "", instance=feed, count=int(payload) if payload.isdigit() else 0)
        case NoticeKind.STATE:  # what changed, if said, travels after the instance id
            return Notice(kind, feed, instance=_text(first), item=second or None)
        case _:
            return Notice(kind, feed, item_id=_text(payload))


def handler_args(notice: Notice) -> tuple[Any, ...]:
    """The documented handler arguments for a notice."""
    item = None if notice.item is None else _text(notice.item)
    match notice.kind:
        case NoticeKind.PUBLISH | NoticeKind.EDIT | NoticeKind.JOB_PUT:
            return (notice.feed, item, notice.item_id)
        case NoticeKind.POSITION:
            return (notice.feed, notice.item_id, notice.position)
        case NoticeKind.FINISH:
            result = None if notice.result is None else _text(notice.result)
            return (notice.feed, notice.item_id, result)
        case NoticeKind.RETRACT | NoticeKind.JOB_CLAIM:
            return (notice.feed, notice.item_id)
        case NoticeKind.PURGE | NoticeKind.TRIM | NoticeKind.NOTIFY:
            return (notice.feed, notice.count)
        case NoticeKind.MARK:
            return (notice.instance, notice.count)
        case _:
            return (notice.feed,)


def _kind(kind: str | NoticeKind) -> NoticeKind:
    if isinstance(kind, NoticeKind):
        return kind
    if kind in _ALIASES:
        return _ALIASES[kind]
    try:
        return NoticeKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in NoticeKind)
        raise ValueError(f"unknown notice kind {kind!r}; known: {known}") from None


class Listener:
    """Receives notices on one connection; started with :meth:`start`, stopped by :meth:`stop`."""

    def __init__(self, redis: aioredis.Redis, instance: str, *, ignore_own: bool = True) -> None:
        self._redis = redis
        self._instance = instance
        self._ignore_own = ignore_own
        self._handlers: dict[NoticeKind, list[Handler]] = {kind: [] for kind in NoticeKind}
        self._sinks: list[Sink] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: NoticeConnection | None = None
        # handler calls being awaited while reading is paused → what each awaits
        self._pending: dict[asyncio.Future[None], Awaitable[Any]] = {}
        self._ready = asyncio.Event()
        # set from subscribing until the new subscription's LISTENING notice is handed on
        self._announce = False
        #: How many times the subscription was (re)established.
        self.connections = 0

    def register_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        self._handlers[_kind(kind)].append(handler)

    def remove_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        self._handlers[_kind(kind)].remove(handler)

    def add_sink(self, sink: Sink) -> None:
        """Receive every notice as a :class:`Notice` (raw bytes), in order."""
        self._sinks.append(sink)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def epoch(self) -> int | None:
        """Which subscription notices come through now; ``None`` while there is none.

        A cache kept coherent by notices may trust what it learned during one
        epoch only while the epoch lasts: notices sent between two epochs are lost.
        """
        return self.connections if self._ready.is_set() else None

    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once subscribed (so no later notice is missed)."""
        if not self.running:
            self._ready.clear()
            self._task = asyncio.create_task(self._run(), name="thoonk-listener")
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        """Stop the listener task (by cancellation) and release its connection."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # then the handlers still being awaited
        pending, self._pending = self._pending, {}
        for waiter in pending:
            waiter.cancel()
        for waiter, awaited in pending.items():
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            if inspect.iscoroutine(awaited) and (
                inspect.getcoroutinestate(awaited) == inspect.CORO_CREATED
            ):
                awaited.close()  # cancelled before it started: never awaited otherwise

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the subscription is (re-)established."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            connection: NoticeConnection | None = None
            try:
                connection = await NoticeConnection.open(
                    self._redis, lambda: NoticeConnection(self._on_message)
                )
                self._connection = connection
                self._announce = True
                await connection.subscribe(keys.NOTICE_PATTERNS, keys.REGISTRY_CHANNELS)
                self._announce_listening()
                self.connections += 1
                self._ready.set()
                backoff = 0.05
                await connection.closed
            except (RespConnectionError, OSError) as exc:
                self._ready.clear()
                log.warning("notice listener lost Redis (%s); retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                self._ready.clear()
                self._connection = None
                if connection is not None:
                    connection.close()

    def _on_message(self, channel: bytes, payload: bytes) -> None:
        """Hand one message to the sinks and handlers, inside the connection's callback.

        Plain functions run at once; when one returns an awaitable, reading
        pauses until it (and the calls after it) finished, so order is kept.
        """
        notice = parse(channel, payload)
        if notice is None:
            return
        self._announce_listening()
        self._hand_on(notice)

    def _announce_listening(self) -> None:
        """Give sinks the LISTENING notice once per subscription, before its first notice."""
        if self._announce:
            self._announce = False
            self._hand_on(Notice(NoticeKind.LISTENING, ""))

    def _hand_on(self, notice: Notice) -> None:
        calls = self._calls(notice)
        for function, args in calls:
            outcome = _call_now(function, args)
            if outcome is not None:
                connection = self._connection
                if connection is not None:
                    connection.pause()
                waiter = asyncio.ensure_future(self._finish(outcome, calls, connection))
                self._pending[waiter] = outcome
                waiter.add_done_callback(self._forget)
                return

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        self._pending.pop(waiter, None)

    def _calls(self, notice: Notice) -> Iterator[tuple[Handler, tuple[Any, ...]]]:
        for sink in self._sinks:
            yield sink, (notice,)
        if notice.kind == NoticeKind.LISTENING:
            return
        if self._ignore_own and notice.instance == self._instance:
            return
        handlers = self._handlers[notice.kind]
        if handlers:
            args = handler_args(notice)
            for handler in handlers:
                yield handler, args

    async def _finish(
        self,
        pending: Awaitable[Any],
        calls: Iterator[tuple[Handler, tuple[Any, ...]]],
        connection: NoticeConnection | None,
    ) -> None:
        """Await ``pending``, make the rest of the notice's calls, then read on.

        A lost connection does not interrupt this: the handler finishes, and
        resuming the dead connection only hands on what it had read before.
        """
        await _settle(pending)
        for function, args in calls:
            outcome = _call_now(function, args)
            if outcome is not None:
                await _settle(outcome)
        if connection is not None:
            connection.resume()


def _call_now(function: Handler, args: tuple[Any, ...]) -> Awaitable[Any] | None:
    """Call a handler; its awaitable if it returned one, else None (errors are logged)."""
    try:
        outcome = function(*args)
    except Exception:
        log.exception("notice handler %r failed", function)
        return None
    return outcome if inspect.isawaitable(outcome) else None


async def _settle(outcome: Awaitable[Any]) -> None:
    try:
        await outcome
    except Exception:
        log.exception("notice handler failed")
