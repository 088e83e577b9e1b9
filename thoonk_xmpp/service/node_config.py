"""Node configuration (``pubsub#node_config``): typed record, field table, parsing.

A node's options live in its Thoonk feed's config hash, beside ``type``, under
their XEP-0060 field names; ``pubsub#max_items`` is the feed's ``max_length``
(so thoonk.js and thoonk.py apps trim the node the same way).  Fields never
written take the service defaults, which is how a feed created by a Thoonk
app becomes a node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import InvalidNodeConfig
from .model import (
    AccessModel,
    NodeKind,
    NotificationType,
    PublishModel,
    PublishNodeFull,
    SendLastPublished,
)

#: Thoonk config fields holding max_items, persist_items and node_kind.
MAX_LENGTH = "max_length"
PERSIST = "persist"
TYPE = "type"
MAX = "max"


class FieldKind(StrEnum):
    """How a field is presented in a data form (XEP-0004 field types)."""

    TEXT = "text-single"
    BOOLEAN = "boolean"
    LIST = "list-single"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Every node option the service honours."""

    title: str = ""
    description: str = ""
    type: str = ""
    #: None means ``max``: as many as the service allows.
    max_items: int | None = None
    persist_items: bool = True
    deliver_payloads: bool = True
    deliver_notifications: bool = True
    notify_retract: bool = True
    notify_delete: bool = True
    notify_config: bool = False
    access_model: AccessModel = AccessModel.OPEN
    publish_model: PublishModel = PublishModel.PUBLISHERS
    send_last_published_item: SendLastPublished = SendLastPublished.NEVER
    max_payload_size: int | None = None
    notification_type: NotificationType = NotificationType.HEADLINE
    publish_node_full: PublishNodeFull = PublishNodeFull.DISCARD_OLDEST
    #: Chosen when the node is created, never changed after.
    node_kind: NodeKind = NodeKind.FEED


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One form field: its var, record attribute, kind, label and value parser."""

    var: str
    attr: str
    kind: FieldKind
    label: str
    parse: Callable[[str], Any]
    options: tuple[str, ...] = ()


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"{value!r} is not a boolean (1, 0, true, false)")


def _positive_or_max(value: str) -> int | None:
    if value.strip() == MAX:
        return None
    return _positive(value)


def _positive(value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{value!r} is not a positive integer")
    return int(text)


def _optional_positive(value: str) -> int | None:
    return None if value.strip() == "" else _positive(value)


def _choice(enum: type[StrEnum]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return enum(value.strip())
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValueError(f"{value!r} is not one of {allowed}") from None

    return parse


def _text(value: str) -> str:
    return value


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("pubsub#title", "title", FieldKind.TEXT, "A friendly name for the node", _text),
    FieldSpec(
        "pubsub#description", "description", FieldKind.TEXT, "Description of the node", _text
    ),
    FieldSpec("pubsub#type", "type", FieldKind.TEXT, "Payload type (namespace)", _text),
    FieldSpec(
        "pubsub#max_items",
        "max_items",
        FieldKind.TEXT,
        "Max number of items to persist (or max)",
        _positive_or_max,
    ),
    FieldSpec(
        "pubsub#persist_items",
        "persist_items",
        FieldKind.BOOLEAN,
        "Persist items to storage",
        _boolean,
    ),
    FieldSpec(
        "pubsub#deliver_payloads",
        "deliver_payloads",
        FieldKind.BOOLEAN,
        "Deliver payloads with event notifications",
        _boolean,
    ),
    FieldSpec(
        "pubsub#deliver_notifications",
        "deliver_notifications",
        FieldKind.BOOLEAN,
        "Deliver event notifications",
        _boolean,
    ),
    FieldSpec(
        "pubsub#notify_retract",
        "notify_retract",
        FieldKind.BOOLEAN,
        "Notify subscribers when items are removed",
        _boolean,
    ),
    FieldSpec(
        "pubsub#notify_delete",
        "notify_delete",
        FieldKind.BOOLEAN,
        "Notify subscribers when the node is deleted",
        _boolean,
    ),
    FieldSpec(
        "pubsub#notify_config",
        "notify_config",
        FieldKind.BOOLEAN,
        "Notify subscribers when the configuration changes",
        _boolean,
    ),
    FieldSpec(
        "pubsub#access_model",
        "access_model",
        FieldKind.LIST,
        "Who may subscribe and retrieve items",
        _choice(AccessModel),
        tuple(AccessModel),
    ),
    FieldSpec(
        "pubsub#publish_model",
        "publish_model",
        FieldKind.LIST,
        "Who may publish",
        _choice(PublishModel),
        tuple(PublishModel),
    ),
    FieldSpec(
        "pubsub#send_last_published_item",
        "send_last_published_item",
        FieldKind.LIST,
        "When to send the last published item",
        _choice(SendLastPublished),
        tuple(SendLastPublished),
    ),
    FieldSpec(
        "pubsub#max_payload_size",
        "max_payload_size",
        FieldKind.TEXT,
        "Max payload size in bytes",
        _optional_positive,
    ),
    FieldSpec(
        "pubsub#notification_type",
        "notification_type",
        FieldKind.LIST,
        "Message type of notifications",
        _choice(NotificationType),
        tuple(NotificationType),
    ),
    FieldSpec(
        "pubsub#publish_node_full",
        "publish_node_full",
        FieldKind.LIST,
        "What publishing to a full node does with the oldest item",
        _choice(PublishNodeFull),
        tuple(PublishNodeFull),
    ),
    FieldSpec(
        "thoonkx#node_kind",
        "node_kind",
        FieldKind.LIST,
        "Node kind, chosen at creation: feed (publication order) or sorted_feed (ordered)",
        _choice(NodeKind),
        tuple(NodeKind),
    ),
)

# Options that Thoonk itself acts on are stored under its own field names.
_STORED_AS = {"max_items": MAX_LENGTH, "persist_items": PERSIST, "node_kind": TYPE}

BY_VAR: dict[str, FieldSpec] = {spec.var: spec for spec in FIELDS}


def render(config: NodeConfig, spec: FieldSpec) -> str:
    """A field's value as form text."""
    value = getattr(config, spec.attr)
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return MAX if spec.attr == "max_items" else ""
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
            raise InvalidNodeConfig(var, "unknown or unsupported field")
        if len(values) > 1:
            raise InvalidNodeConfig(var, "takes a single value")
        try:
            value = spec.parse(values[0] if values else "")
        except ValueError as exc:
            raise InvalidNodeConfig(var, str(exc)) from None
        if spec.attr == "max_items" and cap is not None and value is not None and value > cap:
            raise InvalidNodeConfig(var, f"at most {cap} items on this service")
        updates[spec.attr] = value
    return dataclasses.replace(config, **updates)


def from_stored(stored: Mapping[str, str], defaults: NodeConfig) -> NodeConfig:
    """The config of a node from its Thoonk config hash; missing or bad fields use defaults."""
    updates: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.attr in _STORED_AS:
            continue
        if spec.var in stored:
            try:
                updates[spec.attr] = spec.parse(stored[spec.var])
            except ValueError:
                continue  # written by someone else; keep the default
    # What Thoonk acts on is reported as Thoonk acts: publish.lua trims only on a
    # positive max_length and stores items unless persist is "false".
    try:
        updates["max_items"] = _positive(stored.get(MAX_LENGTH, ""))
    except ValueError:
        updates["max_items"] = None
    updates["persist_items"] = stored.get(PERSIST) != "false"
    kind = stored.get(TYPE, NodeKind.FEED.value)
    updates["node_kind"] = NodeKind(kind) if kind in tuple(NodeKind) else NodeKind.FEED
    return dataclasses.replace(defaults, **updates)


def to_stored(config: NodeConfig, *, cap: int | None = None) -> dict[str, str | None]:
    """The Thoonk config fields for ``config`` (None deletes a field)."""
    fields: dict[str, str | None] = {}
    for spec in FIELDS:
        if spec.attr == "max_items":
            limit = config.max_items if config.max_items is not None else cap
            fields[MAX_LENGTH] = None if limit is None else str(limit)
        elif spec.attr == "persist_items":
            fields[PERSIST] = "true" if config.persist_items else "false"
        elif spec.attr == "node_kind":
            fields[TYPE] = config.node_kind.value
        elif spec.attr == "max_payload_size" and config.max_payload_size is None:
            fields[spec.var] = None
        else:
            fields[spec.var] = render(config, spec)
    return fields
