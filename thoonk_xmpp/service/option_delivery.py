"""What subscription options do to delivery (XEP-0060 §6.3): the router's half.

A node's subscribers split, once per node state, into an :class:`Audience`:

- ``deliver = 0``: nothing at all.
- ``subscription_type = nodes``: node events (configuration, purge, deletion) only.
- ``include_body = 1``: the messages carry a text ``<body/>`` (:attr:`Recipient.body`).
- ``digest = 1`` or ``show-values`` other than all five: *special*, decided as each event
  goes (:meth:`OptionDelivery._emit_special`): a digest subscription's events are gathered
  in Redis and sent as one message per ``digest_frequency``; a ``show-values`` one gets
  the event only while its presence (as the presence source says) is one of the values.
- ``expire``: the lease loop ends the subscription at that time, announced like an owner's
  removal (:mod:`.subscription_events`: the subscriber and notify_sub owners hear it).

Digests and leases are acted on by whichever instance delivers the node's slot, from
Redis (:mod:`.option_store`), so they survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

from thoonk_xmpp.thoonk import ThoonkError

from .access import Action, may
from .delivery import Ledger
from .events import ITEM_EVENTS, Digest, Event, ItemPublished, Recipient
from .model import Affiliation, Subscription
from .node_config import NodeConfig
from .option_store import OptionStore, decode_event
from .store import bare
from .sub_options import ShowValue, SubscriptionType

if TYPE_CHECKING:
    from .service import PubSubService
    from .store import NodeStore

log = logging.getLogger(__name__)

_EVERY_SHOW = tuple(ShowValue)


class PresenceSource(Protocol):
    """Where the presence of subscribers is learned (full JID → show, of a bare JID)."""

    async def shows(self, bare: str) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Audience:
    """Who hears a node's events, by their subscription options."""

    #: Hear every event at once.
    items: tuple[Recipient, ...]
    #: Hear node events at once: ``items`` and the ``subscription_type = nodes`` ones.
    everyone: tuple[Recipient, ...]
    #: Digest and ``show-values`` subscriptions: decided as each event goes.
    special: tuple[Subscription, ...]
    #: Every subscription that delivers at all (a deleted node tells them all at once).
    all: tuple[Recipient, ...]

    def now(self, event: Event) -> tuple[Recipient, ...]:
        """Who gets ``event`` as it happens (special subscriptions aside)."""
        return self.items if isinstance(event, ITEM_EVENTS) else self.everyone


def grouped(subs: Iterable[Subscription]) -> tuple[Recipient, ...]:
    """One recipient per JID holding its subids, in JID order."""
    by_jid: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_jid.setdefault(sub.jid, []).append(sub)
    return tuple(
        Recipient(
            jid,
            tuple(sorted(sub.subid for sub in held)),
            any(sub.options.include_body for sub in held),
        )
        for jid, held in sorted(by_jid.items())
    )


def audience_of(
    config: NodeConfig, subs: Iterable[Subscription], affs: Mapping[str, Affiliation]
) -> Audience:
    """The audience of a node's events: subscribers the access model lets be notified."""
    items: list[Subscription] = []
    nodes: list[Subscription] = []
    special: list[Subscription] = []
    for sub in subs:
        options = sub.options
        if not options.deliver or not may(
            Action.BE_NOTIFIED,
            affs.get(bare(sub.jid)),
            access=config.access_model,
            publish_model=config.publish_model,
            subscribed=True,
            admitted=True,  # an owner's roster let it in when it subscribed
        ):
            continue
        if options.digest or options.show_values != _EVERY_SHOW:
            special.append(sub)
        elif options.subscription_type == SubscriptionType.NODES:
            nodes.append(sub)
        else:
            items.append(sub)
    return Audience(
        grouped(items), grouped(items + nodes), tuple(special), grouped(items + nodes + special)
    )


def _showing(sub: Subscription, shows: Mapping[str, str]) -> bool:
    """Whether ``sub``'s JID is available with a show it wants events in (a bare JID:
    any of its resources)."""
    if "/" not in sub.jid:
        return any(show in sub.options.show_values for show in shows.values())
    return shows.get(sub.jid) in sub.options.show_values


def _now_ms() -> int:
    return int(time.time() * 1000)


class OptionDelivery:
    """Mixed into EventRouter: special subscriptions, digests and leases."""

    service: PubSubService
    store: NodeStore
    ledger: Ledger
    standing_by: bool
    presence: PresenceSource
    #: Seconds between two looks for due digests and ended leases.
    option_tick: float = 0.25

    if TYPE_CHECKING:

        def delivers(self, node: str) -> bool: ...

        async def _emit(self, event: Event) -> None: ...

    def _init_options(self, presence: PresenceSource) -> None:
        self.presence = presence
        self._options = OptionStore(self.service.thoonk)
        self._options_task: asyncio.Task[None] | None = None

    def _start_options(self) -> None:
        if self._options_task is None or self._options_task.done():
            self._options_task = asyncio.create_task(
                self._options_forever(), name="pubsub-subscription-options"
            )

    async def _stop_options(self) -> None:
        task, self._options_task = self._options_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _emit_special(self, event: Event, special: tuple[Subscription, ...]) -> None:
        """Gather ``event`` for digest subscriptions; send it to the ``show-values`` ones
        whose presence is one they asked for."""
        if self.ledger.gap and isinstance(event, ItemPublished) and event.digest is not None:
            return  # dropped in a gap: the catch-up that follows hands it on
        is_item = isinstance(event, ITEM_EVENTS)
        live: list[Subscription] = []
        for sub in special:
            if is_item and sub.options.subscription_type == SubscriptionType.NODES:
                continue
            if sub.options.digest:
                await self._options.gather(sub, event, _now_ms())
            else:
                live.append(sub)
        present: list[Subscription] = []
        shows: dict[str, Mapping[str, str]] = {}
        for sub in live:
            who = bare(sub.jid)
            if who not in shows:
                shows[who] = await self.presence.shows(who)
            if _showing(sub, shows[who]):
                present.append(sub)
        if present:
            await self._emit(dataclasses.replace(event, recipients=grouped(present)))

    async def _options_forever(self) -> None:
        while True:
            await asyncio.sleep(self.option_tick)
            if self.standing_by or not self.ledger.link_up:
                continue  # what is due stays due until it can be told
            try:
                await self._end_leases()
                await self._send_digests()
            except (RedisError, ThoonkError, OSError) as exc:
                log.warning("subscription leases and digests: %s; trying again", exc)

    async def _end_leases(self) -> None:
        now_ms = _now_ms()
        for node, subid in await self._options.due_leases(now_ms):
            if not self.delivers(node):
                continue
            # The subscriber (and a notify_sub node's owners) hear it through the state
            # notice the script sends, routed like an owner's removal.
            await self._options.end_lease(node, subid, now_ms)
            self.store.forget(node)

    async def _send_digests(self) -> None:
        now_ms = _now_ms()
        for node, subid in await self._options.due_digests(now_ms):
            if not self.delivers(node):
                continue
            gathered = await self._options.take_digest(node, subid, now_ms)
            state = (await self.store.states_of((node,)))[node]
            subs = [sub for sub in state.subscriptions if sub.subid == subid]
            if not gathered or not subs or not state.is_node:
                continue  # taken by another instance, or the subscription is gone
            kind = state.config.notification_type
            events = tuple(
                event
                for event in (decode_event(node, raw, kind) for raw in gathered)
                if event is not None
            )
            if events:
                await self._emit(Digest(node, grouped(subs), kind, events))
