"""Events the router makes beside routed notices: a deleted node's, a new subscriber's last item,
the authorization forms an owner asks for again.

Also who an event goes to: the subscribers the access table lets be notified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .events import Event, ItemPublished, NodeDeleted, Recipient, SubscriptionRequested
from .model import Affiliation, Item, NotificationType, SendLastPublished, Subscription
from .node_config import NodeConfig
from .option_delivery import audience_of
from .store import bare
from .sub_options import SubscriptionType

#: The send_last_published_item values that send the last item on subscription.
ON_SUB = frozenset({SendLastPublished.ON_SUB, SendLastPublished.ON_SUB_AND_PRESENCE})

if TYPE_CHECKING:
    from .delivering import Loaded
    from .service import PubSubService
    from .store import NodeStore


def recipients_of(
    config: NodeConfig, subs: Iterable[Subscription], affs: Mapping[str, Affiliation]
) -> tuple[Recipient, ...]:
    """Every subscriber the access model lets be notified and whose options deliver."""
    return audience_of(config, subs, affs).all


class DirectEvents:
    """Mixed into EventRouter: the delete notice's event and the last item on subscribe."""

    service: PubSubService
    store: NodeStore

    if TYPE_CHECKING:

        async def _load(self, node: str) -> Loaded: ...

        async def _emit(self, event: Event) -> None: ...

    async def _node_deleted(self, node: str) -> None:
        if await self.service.thoonk.feed_exists(node):
            # Created again before this notice came: create_node already dropped the old
            # subscriptions and affiliations, and the new ones must stay.
            return
        facts = await self.store.tombstone(node)
        subs = await self.store.subscriptions(node)
        affs = await self.store.affiliations(node)
        redirect = facts.get("redirect")
        # The feed's config is gone: what the delete needs was left in the tombstone
        # (absent when a Thoonk app deleted the feed: the service defaults apply).
        known = {
            var: str(facts[field])
            for field, var in (
                ("notification_type", "pubsub#notification_type"),
                ("access_model", "pubsub#access_model"),
            )
            if field in facts
        }
        config = self.service.node_config_of(known)
        if bool(facts.get("notify_delete", True)) and subs:
            recipients = recipients_of(config, subs, affs)
            await self._emit(
                NodeDeleted(
                    node,
                    recipients,
                    config.notification_type,
                    redirect if isinstance(redirect, str) else None,
                )
            )
        await self.store.drop_node(node)

    async def send_requests(self, requests: Iterable[Subscription], to: str) -> None:
        """Send ``to`` the authorization form of each waiting request (get-pending, §8.7)."""
        for request in requests:
            recipient = (Recipient(to, ()),)
            normal = NotificationType.NORMAL
            await self._emit(
                SubscriptionRequested(request.node, recipient, normal, request.jid, request.subid)
            )

    async def send_last_item(self, subscription: Subscription, item: Item | None) -> None:
        """Send a node's last item to one new subscriber (send_last_published_item)."""
        options = subscription.options
        if item is None or not options.deliver:
            return
        if options.subscription_type == SubscriptionType.NODES:
            return
        loaded = await self._load(subscription.node)
        if loaded is None:
            return
        config, _ = loaded
        if config.send_last_published_item not in ON_SUB or not config.deliver_notifications:
            return
        recipient = Recipient(subscription.jid, (subscription.subid,), options.include_body)
        await self._send_last(subscription.node, config, recipient, item)

    async def came_online(self, full_jid: str) -> None:
        """A resource came online: the last item of each node it is subscribed to with
        send_last_published_item = on_sub_and_presence (XEP-0060 §6.1.7), sent to it."""
        subs: dict[str, list[Subscription]] = {}
        for sub in await self.store.jid_subscriptions(full_jid):
            if sub.jid in (full_jid, bare(full_jid)):
                subs.setdefault(sub.node, []).append(sub)
        for node, held in subs.items():
            loaded = await self._load(node)
            if loaded is None:
                continue
            config, audience = loaded
            if (
                config.send_last_published_item != SendLastPublished.ON_SUB_AND_PRESENCE
                or not config.deliver_notifications
            ):
                continue
            # those the access model lets hear items (not an outcast's, deliver=0 or nodes)
            hearing = {subid for r in audience.all for subid in r.subids}
            wanted = [
                sub
                for sub in held
                if sub.subid in hearing and sub.options.subscription_type != SubscriptionType.NODES
            ]
            item = await self.service.last_item(node) if wanted else None
            if item is not None:
                body = any(sub.options.include_body for sub in wanted)
                ids = tuple(sorted(sub.subid for sub in wanted))
                await self._send_last(node, config, Recipient(full_jid, ids, body), item)

    async def _send_last(
        self, node: str, config: NodeConfig, recipient: Recipient, item: Item
    ) -> None:
        payload = item.payload if config.deliver_payloads else None
        await self._emit(
            ItemPublished(
                node,
                (recipient,),
                config.notification_type,
                item.id,
                payload,
                replay=True,
                published_ms=item.published_ms,
            )
        )
