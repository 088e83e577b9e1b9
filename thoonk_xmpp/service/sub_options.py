"""Subscription options (``pubsub#subscribe_options``, XEP-0060 §6.3): record, fields, storage.

Each option is one declaration in :class:`SubscriptionOptions`, made by
:func:`~.option_fields.option` like a node option: attribute, default, form
field, label, parser, and ``stored_as``, the short name it is kept under.

A subscription's options are stored in the node's options hash
(:func:`thoonk_xmpp.thoonk.keys.node_subscription_options`, subid → :func:`encode`),
written by the same script that adds the subscription, so a subscription and
its options appear together.  Only values other than the defaults are kept; a
subscription with the default options has no entry.  An expiring subscription
(``pubsub#expire``) is also in the lease set, scored by its end
(:func:`thoonk_xmpp.thoonk.keys.subscription_leases`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import InvalidOptions
from .model import NodeKind
from .node_config import NodeConfig
from .option_fields import FieldKind, FieldSpec, boolean_value, choice_of, option, positive_value


class ShowValue(StrEnum):
    """A presence a subscriber may want events in (``pubsub#show-values``)."""

    AWAY = "away"
    CHAT = "chat"
    DND = "dnd"
    #: Available with no ``<show/>``.
    ONLINE = "online"
    XA = "xa"


class SubscriptionType(StrEnum):
    """What a subscription hears of (``pubsub#subscription_type``)."""

    #: Items published and retracted, and node events.
    ITEMS = "items"
    #: Only node events (configuration, purge, deletion): no item events.
    NODES = "nodes"


#: A day, in milliseconds: the digest period when the subscriber names none.
DEFAULT_DIGEST_FREQUENCY = 86_400_000
#: The longest digest period: a digest keeps up to DIGEST_EVENTS payloads until it is
#: sent, so a longer one would hold that much memory for a long time.
MAX_DIGEST_FREQUENCY = 86_400_000
#: The most requests of a queue node one subscriber may hold at once, so one
#: subscriber cannot take a node's whole backlog in one pass.
MAX_QUEUE_REQUESTS = 100


def _positive_up_to(limit: int) -> Any:
    """A parser of positive integers no greater than ``limit``."""

    def parse(value: str) -> int:
        number = positive_value(value)
        if number > limit:
            raise ValueError(f"{number} is more than the maximum, {limit}")
        return number

    return parse


def _datetime(value: str) -> datetime.datetime:
    """A XEP-0082 DateTime with its time zone, as a UTC datetime."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a XEP-0082 DateTime") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (add Z for UTC)")
    return parsed.astimezone(datetime.UTC)


_B, _T, _L, _M = FieldKind.BOOLEAN, FieldKind.TEXT, FieldKind.LIST, FieldKind.LIST_MULTI


def _list(enum: type[StrEnum]) -> dict[str, Any]:
    return {"parse": choice_of(enum), "options": tuple(enum)}


@dataclass(frozen=True, slots=True)
class SubscriptionOptions:
    """The options of one subscription, each declared once (see :func:`~.option_fields.option`)."""

    deliver: bool = option(
        True, "pubsub#deliver", _B, "Enable delivery?", boolean_value, stored_as="d"
    )
    digest: bool = option(
        False,
        "pubsub#digest",
        _B,
        "Receive one digest of notifications per period instead of each one?",
        boolean_value,
        stored_as="g",
    )
    digest_frequency: int = option(
        DEFAULT_DIGEST_FREQUENCY,
        "pubsub#digest_frequency",
        _T,
        "The minimum number of milliseconds between two digests",
        _positive_up_to(MAX_DIGEST_FREQUENCY),
        stored_as="f",
    )
    include_body: bool = option(
        False,
        "pubsub#include_body",
        _B,
        "Receive message body in addition to payload?",
        boolean_value,
        stored_as="b",
    )
    #: Deliver only while the subscriber's presence is one of these.
    show_values: tuple[ShowValue, ...] = option(
        tuple(ShowValue),
        "pubsub#show-values",
        _M,
        "The presence states for which you want notifications",
        stored_as="s",
        **_list(ShowValue),
    )
    subscription_type: SubscriptionType = option(
        SubscriptionType.ITEMS,
        "pubsub#subscription_type",
        _L,
        "Notifications of items (and node events) or of node events only",
        stored_as="t",
        **_list(SubscriptionType),
    )
    #: When the subscription ends by itself (a lease); None: never.
    expire: datetime.datetime | None = option(
        None,
        "pubsub#expire",
        _T,
        "The DateTime at which the subscription ends (empty: never)",
        _datetime,
        stored_as="e",
    )
    #: XEP-0254: how many requests of a queue node the subscriber takes at once.
    queue_requests: int | None = option(
        None,
        "pubsub#queue_requests",
        _T,
        "The number of requests you process in parallel",
        _positive_up_to(MAX_QUEUE_REQUESTS),
        stored_as="q",
        queue_only=True,
    )
    #: Items handed to the subscriber at once go in one items event, several ``<item/>``s
    #: (off: one message an item, for workers that read only an event's first item).
    queue_batch: bool = option(
        False,
        "thoonkx#queue_batch",
        _B,
        "Receive the items handed to you at once in one event?",
        boolean_value,
        stored_as="m",
        queue_only=True,
    )

    @property
    def expire_ms(self) -> int | None:
        """:attr:`expire` in epoch milliseconds."""
        return None if self.expire is None else round(self.expire.timestamp() * 1000)


DEFAULT = SubscriptionOptions()

FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(attr=field.name, **field.metadata["spec"])
    for field in dataclasses.fields(SubscriptionOptions)
)

BY_VAR: dict[str, FieldSpec] = {spec.var: spec for spec in FIELDS}
_BY_STORED: dict[str, FieldSpec] = {spec.stored_as or spec.var: spec for spec in FIELDS}


#: The kinds of publish-subscribe nodes; every other kind is a XEP-0254 queue node.
_PUBSUB_KINDS = frozenset({NodeKind.FEED, NodeKind.SORTED_FEED})


def is_queue_node(config: NodeConfig) -> bool:
    """Whether subscriptions to a node of this config take the queue options."""
    return config.node_kind not in _PUBSUB_KINDS


def fields_for(*, queue_node: bool) -> tuple[FieldSpec, ...]:
    """The options a subscription to a node of this kind has (queue nodes have one more)."""
    return tuple(spec for spec in FIELDS if queue_node or not spec.queue_only)


def render(options: SubscriptionOptions, spec: FieldSpec) -> list[str]:
    """A field's value as form values (several for a list-multi field)."""
    value = getattr(options, spec.attr)
    if spec.kind == FieldKind.LIST_MULTI:
        return [str(member) for member in value]
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if isinstance(value, datetime.datetime):
        return [value.isoformat(timespec="milliseconds").replace("+00:00", "Z")]
    return [] if value is None else [str(value)]


def _parse(spec: FieldSpec, values: Sequence[str]) -> Any:
    if spec.kind == FieldKind.LIST_MULTI:
        parsed = {spec.parse(value) for value in values}
        return tuple(member for member in spec.options if member in parsed)
    if len(values) > 1:
        raise ValueError("takes a single value")
    text = values[0] if values else ""
    if text.strip() == "" and getattr(DEFAULT, spec.attr) is None:
        return None
    return spec.parse(text)


def apply(
    options: SubscriptionOptions,
    changes: Mapping[str, Sequence[str]],
    *,
    queue_node: bool,
    now: datetime.datetime | None = None,
) -> SubscriptionOptions:
    """``options`` with form ``changes`` applied; an unknown field or a bad value raises
    :class:`InvalidOptions` (``now`` given: an ``expire`` not after it is refused)."""
    known = {spec.var: spec for spec in fields_for(queue_node=queue_node)}
    updates: dict[str, Any] = {}
    for var, values in changes.items():
        if var == "FORM_TYPE":
            continue
        spec = known.get(var)
        if spec is None:
            raise InvalidOptions(var, "unknown or unsupported field")
        try:
            updates[spec.attr] = _parse(spec, values)
        except ValueError as exc:
            raise InvalidOptions(var, str(exc)) from None
    changed = dataclasses.replace(options, **updates)
    ended = changed.expire is not None and now is not None and changed.expire <= now
    if ended and "expire" in updates:
        raise InvalidOptions("pubsub#expire", "the lease would have ended already")
    return changed


def encode(options: SubscriptionOptions) -> str:
    """The stored form: the values other than the defaults ("" when there are none)."""
    stored: dict[str, str | list[str]] = {}
    for spec in FIELDS:
        if getattr(options, spec.attr) != getattr(DEFAULT, spec.attr):
            values = render(options, spec)
            stored[spec.stored_as or spec.var] = (
                values if spec.kind == FieldKind.LIST_MULTI else values[0]
            )
    return json.dumps(stored, separators=(",", ":")) if stored else ""


def decode(raw: str | bytes | None) -> SubscriptionOptions:
    """Options from their stored form; what cannot be read takes its default."""
    if not raw:
        return DEFAULT
    try:
        stored = json.loads(raw)
    except ValueError:
        return DEFAULT
    if not isinstance(stored, dict):
        return DEFAULT
    updates: dict[str, Any] = {}
    for name, value in stored.items():
        spec = _BY_STORED.get(name)
        if spec is None:
            continue
        values = value if isinstance(value, list) else [value]
        try:
            updates[spec.attr] = _parse(spec, [str(v) for v in values])
        except ValueError:
            continue  # written by a later version; keep the default
    return dataclasses.replace(DEFAULT, **updates)
