"""Subscription and affiliation operations of the service (XEP-0060 §5.6-5.7, §6, §8.8-8.9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .access import Action
from .errors import (
    InvalidJid,
    InvalidNodeConfig,
    InvalidSubId,
    LastOwner,
    NotSubscribed,
    SubIdRequired,
)
from .model import Actor, Affiliation, Subscription, SubscriptionState
from .store import bare

if TYPE_CHECKING:
    from .policy import ServicePolicy
    from .service import NodeAccess
    from .store import NodeStore


class SubscriptionOps:
    """Mixed into PubSubService: subscribe, unsubscribe, and the owner's lists."""

    store: NodeStore
    policy: ServicePolicy

    if TYPE_CHECKING:

        async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess: ...

    async def subscribe(self, actor: Actor, node: str, jid: str) -> Subscription:
        """Subscribe ``jid`` (whose bare JID must be the actor's). One subscription per JID:
        subscribing again returns the existing one."""
        if bare(jid) != actor.bare and not self.policy.is_admin(actor):
            raise InvalidJid(jid, actor.bare)
        await self.check(actor, node, Action.SUBSCRIBE)
        for existing in await self.store.subscriptions(node):
            if existing.jid == jid:
                return existing
        return await self.store.subscribe(node, jid)

    async def unsubscribe(
        self, actor: Actor, node: str, jid: str, subid: str | None = None
    ) -> None:
        """Remove the subscription of ``jid`` (``subid`` picks one when it has several)."""
        if bare(jid) != actor.bare and not self.policy.is_admin(actor):
            await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        else:
            await self.store.state(node)  # NodeNotFound first
        mine = [s for s in await self.store.subscriptions(node) if s.jid == jid]
        if not mine:
            raise NotSubscribed(node, jid)
        if subid is None:
            if len(mine) > 1:
                raise SubIdRequired(node)
            chosen = mine
        else:
            chosen = [s for s in mine if s.subid == subid]
            if not chosen:
                raise InvalidSubId(node, subid)
        await self.store.unsubscribe(node, chosen)

    async def own_subscriptions(self, actor: Actor, node: str | None = None) -> list[Subscription]:
        """The actor's subscriptions, on one node or all."""
        if node is not None:
            await self.store.state(node)
            return [s for s in await self.store.subscriptions(node) if bare(s.jid) == actor.bare]
        return await self.store.jid_subscriptions(actor.bare)

    async def own_affiliations(
        self, actor: Actor, node: str | None = None
    ) -> dict[str, Affiliation]:
        """The actor's stored affiliations, on one node or all."""
        found = await self.store.jid_affiliations(actor.bare)
        if node is None:
            return found
        await self.store.state(node)
        return {n: a for n, a in found.items() if n == node}

    async def node_subscriptions(self, actor: Actor, node: str) -> list[Subscription]:
        """Every subscription of a node (owner only)."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        return await self.store.subscriptions(node)

    async def set_subscriptions(
        self, actor: Actor, node: str, changes: Sequence[tuple[str, SubscriptionState, str | None]]
    ) -> list[Subscription]:
        """Owner changes: ``subscribed`` adds a subscription, ``none`` removes one."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        current = await self.store.subscriptions(node)
        removals: list[Subscription] = []
        additions: list[str] = []
        for jid, state, subid in changes:
            mine = [s for s in current if s.jid == jid and (subid is None or s.subid == subid)]
            if state == SubscriptionState.NONE:
                if not mine:
                    raise NotSubscribed(node, jid)
                removals.extend(mine)
            elif not mine:
                additions.append(jid)
        if removals:
            await self.store.unsubscribe(node, removals)
        return [await self.store.subscribe(node, jid) for jid in additions]

    async def node_affiliations(self, actor: Actor, node: str) -> dict[str, Affiliation]:
        """Every stored affiliation of a node (owner only)."""
        await self.check(actor, node, Action.MANAGE_AFFILIATIONS)
        return await self.store.affiliations(node)

    async def set_affiliations(
        self, actor: Actor, node: str, changes: Mapping[str, Affiliation]
    ) -> None:
        """Owner changes to affiliations; a node with an owner keeps one (§8.9.2.4).

        A node a Thoonk app made has none until someone is given the affiliation."""
        await self.check(actor, node, Action.MANAGE_AFFILIATIONS)
        for jid in changes:
            if not jid or "/" in jid or "\x00" in jid:
                raise InvalidNodeConfig("jid", f"{jid!r} is not a bare JID")
        current = await self.store.affiliations(node)
        after = {**current, **changes}
        had_owner = Affiliation.OWNER in current.values()
        if had_owner and Affiliation.OWNER not in after.values():
            raise LastOwner(node)
        await self.store.set_affiliations(node, changes)
