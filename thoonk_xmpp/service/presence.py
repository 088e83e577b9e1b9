"""Who is online: the latest presence of every resource the XMPP server tells us about.

Kept in Redis (one hash per bare JID, :func:`thoonk_xmpp.thoonk.keys.presence`), so
every instance of the bridge sees the same: the presence stanzas of one user may
reach any of them.  Fed by the XMPP adapter from every presence stanza the component
receives — presence the server forwards under a XEP-0356 presence privilege, and
presence sent directly to the service — and read by access and delivery rules
(``send_last_published_item = on_sub_and_presence``, the ``show-values`` option).

Only what the server sends is known: a resource that went offline while no instance
was connected stays available here until its next presence.
"""

from __future__ import annotations

from enum import StrEnum

import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.replies import bdict


class Show(StrEnum):
    """An available resource's ``<show/>`` (XEP-0060 ``pubsub#show-values`` options)."""

    #: Available with no ``<show/>``.
    ONLINE = "online"
    CHAT = "chat"
    AWAY = "away"
    XA = "xa"
    DND = "dnd"


def bare_of(jid: str) -> str:
    """The bare form of a JID."""
    return jid.partition("/")[0]


def show_of(text: str | None) -> Show:
    """The :class:`Show` of a ``<show/>`` text (None or unknown text: online)."""
    try:
        return Show((text or Show.ONLINE.value).strip())
    except ValueError:
        return Show.ONLINE


class PresenceStore:
    """The latest presence per full JID, in Redis."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def available(self, jid: str, show: Show = Show.ONLINE) -> bool:
        """Record that ``jid`` (full, or bare for an entity without resources) is available.

        Returns True when it was not known to be available before: it came online.
        """
        added = await self.redis.hset(keys.presence(bare_of(jid)), jid, show.value)
        return bool(added)

    async def unavailable(self, jid: str) -> None:
        """Record that ``jid`` went offline (a bare JID: all its resources)."""
        bare = bare_of(jid)
        if jid == bare:
            await self.redis.delete(keys.presence(bare))
        else:
            await self.redis.hdel(keys.presence(bare), jid)

    async def shows(self, bare: str) -> dict[str, Show]:
        """Every available resource of ``bare`` (full JID → show); empty when offline."""
        raw = bdict(await self.redis.hgetall(keys.presence(bare_of(bare))))
        return {
            jid.decode("utf-8", "surrogateescape"): show_of(show.decode("utf-8", "replace"))
            for jid, show in raw.items()
        }

    async def is_available(self, jid: str) -> bool:
        """Whether ``jid`` is available: that resource for a full JID, any for a bare one."""
        bare = bare_of(jid)
        if jid == bare:
            return bool(await self.redis.exists(keys.presence(bare)))
        return bool(await self.redis.hexists(keys.presence(bare), jid))
