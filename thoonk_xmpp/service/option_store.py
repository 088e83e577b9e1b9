"""What subscription options keep in Redis for delivery: digests gathering, leases ending.

Both live in Redis, not in an instance's memory, so a restart or another instance
loses nothing: a digest's events wait in a list per subscription
(:func:`~thoonk_xmpp.thoonk.keys.digest`) until the time in
:data:`~thoonk_xmpp.thoonk.keys.DIGESTS_DUE`; a lease ends at its score in
:data:`~thoonk_xmpp.thoonk.keys.SUBSCRIPTION_LEASES`.  Taking a due digest and ending
a lease are scripts that succeed once, so exactly one instance acts on each.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.replies import blist, optional_bytes
from thoonk_xmpp.thoonk.scripts import Scripts

from .events import (
    Event,
    ItemMoved,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
)
from .model import NotificationType, Subscription
from .pending import REMOVED
from .store import bare

#: Events kept for one digest; older ones are dropped past this.
DIGEST_EVENTS = 1000


def encode_event(event: Event) -> str:
    """One event of a digest as JSON (no recipients: the digest has its own)."""
    fact: dict[str, Any] = {"k": type(event).__name__}
    match event:
        case ItemPublished():
            fact["id"] = event.item_id
            if event.payload is not None:
                fact["p"] = base64.b64encode(event.payload).decode("ascii")
        case ItemRetracted():
            fact["id"] = event.item_id
        case ItemMoved():
            fact |= {"id": event.item_id, "at": event.position}
        case NodeDeleted():
            fact["r"] = event.redirect
        case NodePurged() | NodeConfigured():
            pass  # a configuration goes without its form in a digest
    return json.dumps(fact, separators=(",", ":"))


def decode_event(node: str, raw: bytes | str, kind: NotificationType) -> Event | None:
    """An event from :func:`encode_event` (recipients empty); None if unreadable."""
    try:
        fact = json.loads(raw)
        match fact["k"]:
            case "ItemPublished":
                payload = base64.b64decode(fact["p"]) if "p" in fact else None
                return ItemPublished(node, (), kind, fact["id"], payload)
            case "ItemRetracted":
                return ItemRetracted(node, (), kind, fact["id"])
            case "ItemMoved":
                return ItemMoved(node, (), kind, fact["id"], fact["at"])
            case "NodeDeleted":
                return NodeDeleted(node, (), kind, fact["r"])
            case "NodePurged":
                return NodePurged(node, (), kind)
            case "NodeConfigured":
                return NodeConfigured(node, (), kind, None)
    except (ValueError, KeyError, TypeError):
        pass
    return None


def split_member(raw: bytes) -> tuple[str, str]:
    """(node, subid) of a ``<node>\\0<subid>`` member (subids hold no NUL)."""
    node, _, subid = raw.rpartition(keys.SEP)
    return node.decode("utf-8", "surrogateescape"), subid.decode("utf-8", "surrogateescape")


class OptionStore:
    """Digests and leases of subscriptions, in Redis."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.thoonk = thoonk
        self.redis = thoonk.redis
        self._scripts = Scripts(thoonk.commands, __package__)

    # --- digests -----------------------------------------------------------------------

    async def gather(self, sub: Subscription, event: Event, now_ms: int) -> None:
        """Keep ``event`` for the next digest of ``sub`` (due a period after the first)."""
        member = keys.subscription_lease(sub.node, sub.subid)
        await self._scripts.run(
            "add_to_digest",
            sub.node,
            (keys.DIGESTS_DUE, keys.digest(sub.node, sub.subid)),
            (member, now_ms + sub.options.digest_frequency, encode_event(event), DIGEST_EVENTS),
        )

    async def due_digests(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        """(node, subid) of digests due by ``now_ms``."""
        return list(self._members(await self._due(keys.DIGESTS_DUE, now_ms, limit)))

    async def take_digest(self, node: str, subid: str, now_ms: int) -> list[bytes]:
        """The events of a due digest, taken once (empty if another took it first)."""
        taken = await self._scripts.run(
            "take_digest",
            node,
            (keys.DIGESTS_DUE, keys.digest(node, subid)),
            (keys.subscription_lease(node, subid), now_ms),
        )
        return blist(list(taken))

    # --- leases ----------------------------------------------------------------------

    async def due_leases(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        """(node, subid) of subscriptions whose lease ended by ``now_ms``."""
        return list(self._members(await self._due(keys.SUBSCRIPTION_LEASES, now_ms, limit)))

    async def end_lease(self, node: str, subid: str, now_ms: int) -> str | None:
        """End the subscription ``subid`` if its lease is over, told on the state notice
        as an owner's removal (:mod:`.subscription_events`); its JID, or None when
        another instance ended it first (or it was gone)."""
        raw_jid = optional_bytes(await self.redis.hget(keys.node_subscriptions(node), subid))
        jid = raw_jid.decode("utf-8", "surrogateescape") if raw_jid is not None else ""
        who = bare(jid)
        ended = await self._scripts.run(
            "end_lease",
            node,
            (
                keys.node_subscriptions(node),
                keys.node_subscription_options(node),
                keys.SUBSCRIPTION_LEASES,
                keys.jid_subscriptions(who),
            ),
            (
                node,
                keys.state_channel(node),
                keys.state_payload(self.thoonk.instance, ((REMOVED, jid, subid),)),
                subid,
                jid,
                keys.jid_subscription(who, node, subid),
                keys.subscription_lease(node, subid),
                now_ms,
            ),
        )
        return jid if int(ended) else None

    async def _due(self, key: bytes, now_ms: int, limit: int) -> list[bytes]:
        return blist(list(await self.redis.zrangebyscore(key, "-inf", now_ms, 0, limit)))

    @staticmethod
    def _members(raw: list[bytes]) -> Iterator[tuple[str, str]]:
        return (split_member(member) for member in raw)
