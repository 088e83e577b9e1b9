"""Presence stanzas the component receives → the service's presence store.

The server sends the component presence in two ways: forwarded under a XEP-0356
presence privilege (the users of the server, and with ``roster`` their contacts:
``from`` is the user, ``to`` the component), and presence a user sends to the
service itself (directed presence, and the ``unavailable`` the server sends for it
when that user goes offline).  Both feed the same store.  Subscription requests,
probes and errors are not presence of anyone and are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from thoonk_xmpp.service.presence import PresenceStore, Show, show_of

from . import ns

log = logging.getLogger(__name__)

PRESENCE: Final = ns.tag(ns.STANZA, "presence")
_SHOW: Final = ns.tag(ns.STANZA, "show")


@dataclass(frozen=True, slots=True)
class PresenceNews:
    """What one presence stanza says: who, and available (with its show) or not."""

    jid: str
    show: Show | None


def read_presence(element: ET.Element) -> PresenceNews | None:
    """The news in a presence stanza; None for anything that is not someone's presence."""
    if element.tag != PRESENCE:
        return None
    sender = element.get("from", "")
    kind = element.get("type")
    if not sender or kind not in (None, "unavailable"):
        return None
    if kind == "unavailable":
        return PresenceNews(sender, None)
    show = element.find(_SHOW)
    return PresenceNews(sender, show_of(None if show is None else show.text))


#: Called with the full JID of a resource that just came online.
CameOnline = Callable[[str], Awaitable[None]]


class PresenceIntake:
    """Records each presence in the store, each JID's in the order they came; tells
    ``came_online`` about new resources."""

    def __init__(self, store: PresenceStore, came_online: CameOnline | None = None) -> None:
        self.store = store
        self.came_online = came_online
        # JID → the recording of its latest presence
        self._latest: dict[str, asyncio.Future[None]] = {}

    def record(self, news: PresenceNews) -> asyncio.Future[None]:
        """Start recording ``news`` after the JID's earlier presence; the task."""
        before = self._latest.get(news.jid)
        task = asyncio.ensure_future(self._in_order(news, before))
        self._latest[news.jid] = task

        def done(_: object) -> None:
            if self._latest.get(news.jid) is task:
                del self._latest[news.jid]

        task.add_done_callback(done)
        return task

    async def _in_order(self, news: PresenceNews, before: asyncio.Future[None] | None) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        try:
            await self.take(news)
        except Exception as exc:  # Redis away: the next presence of that JID corrects it
            log.warning("presence of %s not recorded: %s", news.jid, exc)

    async def take(self, news: PresenceNews) -> None:
        if news.show is None:
            await self.store.unavailable(news.jid)
            return
        if await self.store.available(news.jid, news.show) and self.came_online is not None:
            await self.came_online(news.jid)
