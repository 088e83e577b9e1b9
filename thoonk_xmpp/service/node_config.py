"""Node configuration (``pubsub#node_config``): typed record, field table, parsing.

Each option is one declaration in :class:`NodeConfig`: its attribute (name, type and
default) made by :func:`option` with its form field, label, parser and storage.  A new
option needs nothing else: forms, meta-data, storage and the settings file follow.

A node's options live in its Thoonk feed's config hash, beside ``type``, under
their XEP-0060 field names; ``pubsub#max_items`` is the feed's ``max_length``
(so thoonk.js and thoonk.py apps trim the node the same way).  Fields never
written take the service defaults, which is how a feed created by a Thoonk
app becomes a node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import leaf_only, option_values
from .errors import InvalidNodeConfig
from .model import (
    AccessModel,
    NodeKind,
    NotificationType,
    PublishModel,
    PublishNodeFull,
    SendLastPublished,
)
from .option_fields import FieldKind as FieldKind
from .option_fields import FieldSpec as FieldSpec
from .option_fields import (
    boolean_value,
    choices,
    option,
    optional_positive,
    positive_or_max,
    positive_value,
    roster_group,
    text_value,
)

#: Thoonk config fields holding max_items, persist_items, node_kind and claim_timeout.
MAX_LENGTH = "max_length"
PERSIST = "persist"
TYPE = "type"
TIMEOUT = "timeout"
MAX = option_values.MAX


def _thoonk_max_length(stored: str | None) -> int | None:
    # publish.lua trims only on a positive max_length
    try:
        return positive_value(stored or "")
    except ValueError:
        return None


def _thoonk_timeout(stored: str | None) -> int | None:
    # Thoonk's reap takes any positive number of seconds; whole seconds are shown
    try:
        seconds = float(stored or "")
    except ValueError:
        return None
    return max(1, round(seconds)) if 0 < seconds < float("inf") else None


def _thoonk_kind(stored: str | None) -> NodeKind:
    return NodeKind(stored) if stored in tuple(NodeKind) else NodeKind.FEED


_B, _L, _T, _M, _J = (
    FieldKind.BOOLEAN,
    FieldKind.LIST,
    FieldKind.TEXT,
    FieldKind.LIST_MULTI,
    FieldKind.JIDS,
)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Every node option the service honours, each declared once (see :func:`option`)."""

    title: str = option("", "pubsub#title", _T, "A friendly name for the node", text_value)
    description: str = option("", "pubsub#description", _T, "Description of the node", text_value)
    type: str = option("", "pubsub#type", _T, "Payload type (namespace)", text_value)
    #: None means ``max``: as many as the service allows.
    max_items: int | None = option(
        None,
        "pubsub#max_items",
        _T,
        "Max number of items to persist (or max)",
        positive_or_max,
        unset=MAX,
        capped=True,
        stored_as=MAX_LENGTH,
        read=_thoonk_max_length,
    )
    persist_items: bool = option(
        True,
        "pubsub#persist_items",
        _B,
        "Persist items to storage",
        boolean_value,
        stored_as=PERSIST,
        read=lambda stored: stored != "false",  # publish.lua stores unless "false"
        write=lambda persist: "true" if persist else "false",
    )
    deliver_payloads: bool = option(
        True,
        "pubsub#deliver_payloads",
        _B,
        "Deliver payloads with event notifications",
        boolean_value,
    )
    deliver_notifications: bool = option(
        True, "pubsub#deliver_notifications", _B, "Deliver event notifications", boolean_value
    )
    notify_retract: bool = option(
        True,
        "pubsub#notify_retract",
        _B,
        "Notify subscribers when items are removed",
        boolean_value,
    )
    notify_delete: bool = option(
        True,
        "pubsub#notify_delete",
        _B,
        "Notify subscribers when the node is deleted",
        boolean_value,
    )
    notify_config: bool = option(
        False,
        "pubsub#notify_config",
        _B,
        "Notify subscribers when the configuration changes",
        boolean_value,
    )
    access_model: AccessModel = option(
        AccessModel.OPEN,
        "pubsub#access_model",
        _L,
        "Who may subscribe and retrieve items",
        **choices(AccessModel),
    )
    #: For access model ``roster``: the owners' roster groups whose members are let in.
    roster_groups_allowed: tuple[str, ...] = option(
        (), "pubsub#roster_groups_allowed", _M, "Roster groups allowed to subscribe", roster_group
    )
    publish_model: PublishModel = option(
        PublishModel.PUBLISHERS,
        "pubsub#publish_model",
        _L,
        "Who may publish",
        **choices(PublishModel),
    )
    send_last_published_item: SendLastPublished = option(
        SendLastPublished.NEVER,
        "pubsub#send_last_published_item",
        _L,
        "When to send the last published item",
        **choices(SendLastPublished),
    )
    max_payload_size: int | None = option(
        None, "pubsub#max_payload_size", _T, "Max payload size in bytes", optional_positive
    )
    notification_type: NotificationType = option(
        NotificationType.HEADLINE,
        "pubsub#notification_type",
        _L,
        "Message type of notifications",
        **choices(NotificationType),
    )
    publish_node_full: PublishNodeFull = option(
        PublishNodeFull.DISCARD_OLDEST,
        "pubsub#publish_node_full",
        _L,
        "What publishing to a full node does with the oldest item",
        **choices(PublishNodeFull),
    )
    #: Chosen when the node is created, never changed after.
    node_kind: NodeKind = option(
        NodeKind.FEED,
        "thoonkx#node_kind",
        _L,
        "Node kind, chosen at creation: feed (publication order), sorted_feed (ordered),"
        " job or queue (XEP-0254: each item to one subscriber)",
        stored_as=TYPE,
        read=_thoonk_kind,
        **choices(NodeKind),
    )
    #: Job nodes: seconds a subscriber may hold a job before it goes to another (the Thoonk
    #: job feed's ``timeout``, which Thoonk reapers read too); None: held until given back.
    claim_timeout: int | None = option(
        None,
        "thoonkx#claim_timeout",
        _T,
        "Seconds a job may be held before it is given to another worker (job nodes)",
        optional_positive,
        stored_as=TIMEOUT,
        read=_thoonk_timeout,
    )
    notify_sub: bool = option(
        False,
        "pubsub#notify_sub",
        _B,
        "Notify owners about new subscribers and unsubscribes",
        boolean_value,
    )
    #: Seconds after its publication (or last edit) an item is removed; None: never.
    #: Ordered nodes keep no publication times, so they take none.
    item_expire: int | None = option(
        None,
        "pubsub#item_expire",
        _T,
        "Seconds after which items are removed (or max: never)",
        option_values.seconds_or_max,
        unset=MAX,
        kinds=(NodeKind.FEED,),
    )
    contact: tuple[str, ...] = option(
        (),
        "pubsub#contact",
        _J,
        "People to contact with questions",
        option_values.jid,
    )
    language: str = option(
        "", "pubsub#language", _T, "Default language", option_values.language_tag
    )


FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(attr=field.name, **field.metadata["spec"]) for field in dataclasses.fields(NodeConfig)
)

BY_VAR: dict[str, FieldSpec] = {spec.var: spec for spec in FIELDS}


def render(config: NodeConfig, spec: FieldSpec) -> str:
    """A field's value as form text (several values one per line)."""
    return _as_text(getattr(config, spec.attr), spec)


def values(config: NodeConfig, spec: FieldSpec) -> list[str]:
    """A field's values as form texts (none for an empty text or multi-valued field)."""
    value = getattr(config, spec.attr)
    if spec.multi:
        return list(value)
    text = _as_text(value, spec)
    return [text] if text or spec.kind != FieldKind.TEXT else []


def _as_text(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, tuple):
        return "\n".join(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return spec.unset
    return str(value)


def apply(
    config: NodeConfig, changes: Mapping[str, Sequence[str]], *, cap: int | None = None
) -> NodeConfig:
    """``config`` with form ``changes`` applied; unknown fields and bad values raise."""
    updates: dict[str, Any] = {}
    for var, values in changes.items():
        if var == "FORM_TYPE":
            continue
        spec = BY_VAR.get(var)
        if spec is None:
            if var in leaf_only.NOT_SUPPORTED:
                leaf_only.NOT_SUPPORTED[var](values)
                continue
            raise InvalidNodeConfig(var, "unknown or unsupported field")
        try:
            value = parse_values(spec, values)
        except ValueError as exc:
            raise InvalidNodeConfig(var, str(exc)) from None
        if spec.capped and cap is not None and value is not None and value > cap:
            raise InvalidNodeConfig(var, f"at most {cap} on this service")
        updates[spec.attr] = value
    updated = dataclasses.replace(config, **updates)
    for spec in FIELDS:
        if (
            spec.kinds
            and updated.node_kind not in spec.kinds
            and spec.attr in updates
            and updates[spec.attr] != getattr(NodeConfig(), spec.attr)
        ):
            kinds = ", ".join(spec.kinds)
            raise InvalidNodeConfig(spec.var, f"only nodes of kind {kinds} take it")
    return updated


def parse_values(spec: FieldSpec, values: Sequence[str]) -> Any:
    """The value of a submitted field (ValueError if it is not one)."""
    if spec.multi:
        return tuple(dict.fromkeys(spec.parse(value) for value in values))
    if len(values) > 1:
        raise ValueError("takes a single value")
    return spec.parse(values[0] if values else "")


def from_stored(stored: Mapping[str, str], defaults: NodeConfig) -> NodeConfig:
    """The config of a node from its Thoonk config hash; missing or bad fields use defaults.

    What Thoonk acts on is reported as Thoonk acts on it, whatever the defaults.
    """
    updates: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.read is not None:
            updates[spec.attr] = spec.read(stored.get(spec.stored_as or spec.var))
        elif spec.var in stored:
            text = stored[spec.var]
            try:
                updates[spec.attr] = parse_values(
                    spec, text.split("\n") if spec.multi and text else [text]
                )
            except ValueError:
                continue  # written by someone else; keep the default
    return dataclasses.replace(defaults, **updates)


def to_stored(config: NodeConfig, *, cap: int | None = None) -> dict[str, str | None]:
    """The Thoonk config fields for ``config`` (None deletes a field)."""
    fields: dict[str, str | None] = {}
    for spec in FIELDS:
        value = getattr(config, spec.attr)
        if spec.capped and value is None:
            value = cap
        key = spec.stored_as or spec.var
        if spec.write is not None:
            fields[key] = spec.write(value)
        else:
            fields[key] = None if value is None or value == () else _as_text(value, spec)
    return fields
