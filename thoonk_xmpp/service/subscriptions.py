"""Subscription and affiliation operations of the service (XEP-0060 §5.6-5.7, §6, §8.8-8.9)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import sub_options
from .access import Action, needs_approval
from .errors import (
    BadRequest,
    ConfigurationRequired,
    Forbidden,
    InvalidJid,
    InvalidNodeConfig,
    InvalidSubId,
    LastOwner,
    NodeIdRequired,
    NodeNotFound,
    NotPending,
    NotSubscribed,
    PendingSubscription,
    SubIdRequired,
)
from .model import Actor, Affiliation, Subscription, SubscriptionState
from .store import bare
from .sub_options import SubscriptionOptions

#: A form's fields: var → values.
Changes = Mapping[str, Sequence[str]]

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

    async def subscribe(
        self, actor: Actor, node: str, jid: str, options: Changes | None = None
    ) -> Subscription:
        """Subscribe ``jid`` (whose bare JID must be the actor's), with ``options`` changed
        from the defaults (§6.3.7). One subscription per JID: subscribing again returns the
        existing one, with ``options`` applied to it.

        On an ``authorize`` node an entity with no affiliation gets a pending subscription
        (with the default options), which the owners are asked to approve; asking again
        while it waits raises PendingSubscription."""
        if bare(jid) != actor.bare and not self.policy.is_admin(actor):
            raise InvalidJid(jid, actor.bare)
        access = await self.check(actor, node, Action.SUBSCRIBE)
        queue_node = sub_options.is_queue_node(access.config)
        for existing in await self.store.subscriptions(node):
            if existing.jid == jid:
                if options is None:
                    return existing
                changed = sub_options.apply(
                    existing.options, options, queue_node=queue_node, now=_now()
                )
                return await self.store.set_options(existing, changed)
        chosen = sub_options.DEFAULT
        if options is not None:
            chosen = sub_options.apply(chosen, options, queue_node=queue_node, now=_now())
        if queue_node and chosen.queue_requests is None:  # XEP-0254 §Subscribing
            raise ConfigurationRequired(node, jid)
        if needs_approval(access.affiliation, access.config.access_model):
            # a request keeps no options: the subscription starts with the defaults
            if any(p.jid == jid for p in (await self.store.state(node)).pending):
                raise PendingSubscription(node, jid)
            return await self.store.request_subscription(node, jid)
        return await self.store.subscribe(node, jid, chosen, told=bare(jid) != actor.bare)

    async def subscription_options(
        self, actor: Actor, node: str, jid: str, subid: str | None = None
    ) -> tuple[Subscription, bool]:
        """The subscription whose options are asked for (§6.3.1-6.3.4) and whether its node
        is a queue node (its form has the queue options)."""
        if not node:
            raise NodeIdRequired()
        state = await self.store.state(node)
        if not state.is_node:
            raise NodeNotFound(node)
        if bare(jid) != actor.bare and not self.policy.is_admin(actor):
            raise Forbidden(f"manage the subscription options of {jid}", node)
        subs = await self.store.subscriptions(node)
        mine = [s for s in subs if s.jid == jid]
        if not mine and "/" not in jid:  # a bare JID names its full JIDs' subscriptions too
            mine = [s for s in subs if bare(s.jid) == jid]
        if not mine:
            raise NotSubscribed(node, jid)
        if subid is None:
            if len(mine) > 1:
                raise SubIdRequired(node)
            return mine[0], sub_options.is_queue_node(state.config)
        for sub in mine:
            if sub.subid == subid:
                return sub, sub_options.is_queue_node(state.config)
        raise InvalidSubId(node, subid)

    async def set_subscription_options(
        self, actor: Actor, node: str, jid: str, subid: str | None, changes: Changes
    ) -> Subscription:
        """Change a subscription's options (§6.3.5); a bad field or value changes nothing."""
        sub, queue_node = await self.subscription_options(actor, node, jid, subid)
        options = sub_options.apply(sub.options, changes, queue_node=queue_node, now=_now())
        return await self.store.set_options(sub, options)

    async def default_subscription_options(
        self, node: str | None = None
    ) -> tuple[SubscriptionOptions, bool]:
        """The options a new subscription gets (§6.4), of the service or of ``node``, and
        whether that node is a queue node."""
        if node is None:
            return sub_options.DEFAULT, False
        state = await self.store.state(node)
        if not state.is_node:
            raise NodeNotFound(node)
        return sub_options.DEFAULT, sub_options.is_queue_node(state.config)

    async def unsubscribe(
        self, actor: Actor, node: str, jid: str, subid: str | None = None
    ) -> None:
        """Remove the subscription of ``jid`` (``subid`` picks one when it has several)."""
        someone_else = bare(jid) != actor.bare
        if someone_else and not self.policy.is_admin(actor):
            await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        else:
            await self.store.state(node)  # NodeNotFound first
        mine = [s for s in await self.store.subscriptions(node) if s.jid == jid]
        if not mine:
            asked = [s for s in await self.store.pending(node) if s.jid == jid]
            if asked and subid in (None, asked[0].subid):
                # withdrawn by the subscriber (nobody is told), or denied by an owner
                await self.store.decide_subscription(asked[0], False, announce=someone_else)
                return
            raise NotSubscribed(node, jid)
        if subid is None:
            if len(mine) > 1:
                raise SubIdRequired(node)
            chosen = mine
        else:
            chosen = [s for s in mine if s.subid == subid]
            if not chosen:
                raise InvalidSubId(node, subid)
        await self.store.unsubscribe(node, chosen, told=someone_else)

    async def own_subscriptions(self, actor: Actor, node: str | None = None) -> list[Subscription]:
        """The actor's subscriptions (pending ones too), on one node or all."""
        if node is not None:
            state = await self.store.state(node)
            subs = [*state.subscriptions, *state.pending]
            return sorted(
                (s for s in subs if bare(s.jid) == actor.bare), key=lambda s: (s.jid, s.subid)
            )
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
        """Every subscription of a node, pending ones last (owner only)."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        return [*await self.store.subscriptions(node), *await self.store.pending(node)]

    async def set_subscriptions(
        self, actor: Actor, node: str, changes: Sequence[tuple[str, SubscriptionState, str | None]]
    ) -> list[Subscription]:
        """Owner changes: ``subscribed`` adds a subscription (or approves a pending one),
        ``none`` removes one (or denies a pending one)."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        current = await self.store.subscriptions(node)
        waiting = await self.store.pending(node)
        removals: list[Subscription] = []
        additions: list[str] = []
        decisions: list[tuple[Subscription, bool]] = []
        for jid, state, subid in changes:
            if state == SubscriptionState.PENDING:
                raise BadRequest(f"{jid}: only 'subscribed' or 'none' can be set")
            mine = [s for s in current if s.jid == jid and (subid is None or s.subid == subid)]
            asked = [s for s in waiting if s.jid == jid and (subid is None or s.subid == subid)]
            if state == SubscriptionState.NONE:
                if not mine and not asked:
                    raise NotSubscribed(node, jid)
                removals.extend(mine)
                decisions.extend((s, False) for s in asked)
            elif asked:
                decisions.extend((s, True) for s in asked)
            elif not mine:
                additions.append(jid)
        if removals:
            await self.store.unsubscribe(node, removals, told=True)
        for request, approve in decisions:
            await self.store.decide_subscription(request, approve)
        return [await self.store.subscribe(node, jid, told=True) for jid in additions]

    async def decide_subscription(
        self, actor: Actor, node: str, subid: str | None, jid: str | None, approve: bool
    ) -> Subscription:
        """An owner's answer to a subscription request (§8.6): approve or deny it.

        ``subid`` and ``jid`` (either may be missing, not both) must name a request still
        waiting: a decided one raises NotPending and changes nothing."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        if subid is None and jid is None:
            raise BadRequest("a subid or subscriber JID is required")
        chosen = [
            s
            for s in await self.store.pending(node)
            if subid in (None, s.subid) and jid in (None, s.jid)
        ]
        if not chosen:
            raise NotPending(node, subid or jid or "")
        return await self.store.decide_subscription(chosen[0], approve)

    async def pending_requests(self, actor: Actor, node: str) -> list[Subscription]:
        """The subscription requests of a node waiting for approval (owner only, §8.7)."""
        await self.check(actor, node, Action.MANAGE_SUBSCRIPTIONS)
        return await self.store.pending(node)

    async def owned_nodes(self, actor: Actor) -> list[str]:
        """The existing nodes the actor is an owner of, sorted."""
        found = await self.store.jid_affiliations(actor.bare)
        return await self.store.existing(
            sorted(n for n, a in found.items() if a == Affiliation.OWNER)
        )

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
        outcasts = {jid for jid, aff in changes.items() if aff == Affiliation.OUTCAST}
        removed = []
        if outcasts:
            removed = [s for s in await self.store.subscriptions(node) if bare(s.jid) in outcasts]
        await self.store.set_affiliations(node, changes, removed)
        # §8.7: a waiting request of an entity made outcast is denied; made member,
        # publisher or owner, it is approved (they subscribe without approval)
        for request in await self.store.pending(node):
            changed = changes.get(bare(request.jid))
            if changed not in (None, Affiliation.NONE, Affiliation.PUBLISH_ONLY):
                try:
                    await self.store.decide_subscription(request, changed != Affiliation.OUTCAST)
                except NotPending:
                    continue  # an owner decided it meanwhile


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
