"""What a service admin reads beyond the XEP-0060 operations: a node's whole report, and
subscriptions and affiliations across every node (the operator's admin commands).

Each function refuses an actor who is not a service admin, like every service method
checks access before acting, and reads through the service's store.
"""

from __future__ import annotations

from dataclasses import dataclass

from thoonk_xmpp.thoonk import BYTES, Feed, SortedFeed

from .access import Action
from .errors import Forbidden
from .model import Actor, Affiliation, NodeKind, Subscription
from .node_config import NodeConfig
from .service import CREATION_DATE, CREATOR, PubSubService
from .store import bare


@dataclass(frozen=True, slots=True)
class NodeReport:
    """Everything about one node: its options, metadata and how much it holds."""

    node: str
    config: NodeConfig
    creator: str | None
    creation_date: str | None
    items: int
    subscriptions: tuple[Subscription, ...]
    affiliations: dict[str, Affiliation]


def _require_admin(service: PubSubService, actor: Actor, what: str) -> None:
    if not service.policy.is_admin(actor):
        raise Forbidden(what)


async def node_report(service: PubSubService, actor: Actor, node: str) -> NodeReport:
    """The report of ``node`` (its owner or an admin). Raises NodeNotFound."""
    await service.check(actor, node, Action.CONFIGURE)
    state = await service.store.state(node)
    ordered = state.config.node_kind == NodeKind.SORTED_FEED
    feed = (SortedFeed if ordered else Feed)(service.thoonk, node, BYTES)
    return NodeReport(
        node=node,
        config=state.config,
        creator=state.stored.get(CREATOR),
        creation_date=state.stored.get(CREATION_DATE),
        # a queue node's items: those pending (waiting or held)
        items=await (
            service.queues.count(node) if state.config.node_kind.queueing else feed.count()
        ),
        subscriptions=state.subscriptions,
        affiliations=dict(state.affiliations),
    )


async def all_subscriptions(
    service: PubSubService, actor: Actor, jid: str | None = None
) -> list[Subscription]:
    """Every subscription on every node, in node order; only those of ``jid`` if given
    (a bare JID matches each of its resources, a full JID only itself)."""
    _require_admin(service, actor, "list every subscription")
    nodes = await service.list_nodes()
    if jid is None:
        states = await service.store.states_of(nodes)
        return [sub for node in nodes for sub in states[node].subscriptions]
    # A deleted node's subscriptions stay until a bridge has told its subscribers.
    live = set(nodes)
    return sorted(
        (
            sub
            for sub in await service.store.jid_subscriptions(jid)
            if sub.node in live and (sub.jid == jid or bare(jid) == jid)
        ),
        key=lambda sub: (sub.node, sub.jid, sub.subid),
    )


async def jid_affiliations(
    service: PubSubService, actor: Actor, jid: str
) -> dict[str, Affiliation]:
    """The stored affiliations of a bare JID on every existing node, by node."""
    _require_admin(service, actor, "list the affiliations of others")
    live = set(await service.list_nodes())
    found = await service.store.jid_affiliations(jid)
    return {node: aff for node, aff in found.items() if node in live}
