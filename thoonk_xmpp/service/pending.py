"""Subscription requests waiting for an owner's approval (``authorize`` nodes), in Redis.

A request is kept in its node's pending hash (subid → JID, :func:`keys.node_pending`)
with its entry in the subscription index, so that it is listed with the JID's
subscriptions and never among the node's subscribers: it gets no events and no items.
An approval moves it, subid and all, into the subscriptions; a denial drops it.  Both
are one script, and only the first decision counts.  Each change is announced with the
node's state notice, which carries what happened (see :mod:`.subscription_events`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from thoonk_xmpp.thoonk import FeedNotFound, ItemNotFound, keys
from thoonk_xmpp.thoonk.replies import bdict

from .errors import NodeNotFound, NotPending, PendingSubscription
from .jid_index import bare
from .model import Subscription, SubscriptionState

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from thoonk_xmpp.thoonk.scripts import Scripts


#: What a state notice says happened to a subscription, beside ``subscribed`` and ``none``
#: (the subscriber's own doing): a request now waits; an owner approved it (or subscribed
#: the JID), denied it, or removed the subscription.
REQUESTED = SubscriptionState.PENDING.value
APPROVED = "approved"
DENIED = "denied"
REMOVED = "removed"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class PendingOps:
    """Mixed into NodeStore: ask, list and decide subscription requests."""

    redis: aioredis.Redis
    _scripts: Scripts

    if TYPE_CHECKING:

        def forget(self, node: str) -> None: ...

        def _state_facts(self, node: str, *facts: tuple[str, str, str]) -> tuple[bytes, bytes]: ...

    async def pending(self, node: str) -> list[Subscription]:
        """The node's requests waiting for approval, sorted by JID then subid."""
        raw = bdict(await self.redis.hgetall(keys.node_pending(node)))
        found = (
            Subscription(node, _text(jid), _text(subid), _PENDING) for subid, jid in raw.items()
        )
        return sorted(found, key=lambda s: (s.jid, s.subid))

    async def request_subscription(self, node: str, jid: str) -> Subscription:
        """Ask for a subscription of ``jid`` to ``node``, pending until an owner decides.

        Raises PendingSubscription if ``jid`` has a request waiting already."""
        subid = secrets.token_hex(8)
        who = bare(jid)
        try:
            added = await self._scripts.run(
                "request_subscription",
                node,
                (keys.FEEDS, keys.node_pending(node), keys.jid_subscriptions(who)),
                (
                    node,
                    *self._state_facts(node, (REQUESTED, jid, subid)),
                    subid,
                    jid,
                    keys.jid_subscription(who, node, subid),
                ),
            )
        except FeedNotFound:
            raise NodeNotFound(node) from None
        finally:
            self.forget(node)
        if not added:
            raise PendingSubscription(node, jid)
        return Subscription(node, jid, subid, _PENDING)

    async def decide_subscription(
        self, request: Subscription, approve: bool, *, announce: bool = True
    ) -> Subscription:
        """Approve (it becomes a subscription) or deny (it is dropped) a waiting request.

        Raises NotPending if it is no longer waiting (decided already).  ``announce``
        False: the subscriber withdrew it, nobody is told."""
        node, who = request.node, bare(request.jid)
        outcome = APPROVED if approve else DENIED
        facts = ((outcome, request.jid, request.subid),) if announce else ()
        try:
            await self._scripts.run(
                "decide_subscription",
                node,
                (
                    keys.FEEDS,
                    keys.node_pending(node),
                    keys.node_subscriptions(node),
                    keys.jid_subscriptions(who),
                ),
                (
                    node,
                    *self._state_facts(node, *facts),
                    request.subid,
                    request.jid,
                    "1" if approve else "0",
                    keys.jid_subscription(who, node, request.subid),
                ),
            )
        except FeedNotFound:
            raise NodeNotFound(node) from None
        except ItemNotFound:
            raise NotPending(node, request.subid) from None
        finally:
            self.forget(node)
        state = SubscriptionState.SUBSCRIBED if approve else SubscriptionState.NONE
        return Subscription(node, request.jid, request.subid, state)


_PENDING = SubscriptionState.PENDING
