"""What node and subscription options are made of: a form field's spec, :func:`option`
declaring one as a dataclass attribute, and the parsers of field values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .model import NodeKind
from .option_values import MAX


class FieldKind(StrEnum):
    """How a field is presented in a data form (XEP-0004 field types)."""

    TEXT = "text-single"
    BOOLEAN = "boolean"
    LIST = "list-single"
    #: Several values: subscription options' ``pubsub#show-values``; node options hold a
    #: tuple of them, ``parse`` reads each, stored one per line (so do JIDS).
    LIST_MULTI = "list-multi"
    JIDS = "jid-multi"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One form field: its var, record attribute, kind, label, value parser and storage."""

    var: str
    attr: str
    kind: FieldKind
    label: str
    parse: Callable[[str], Any]
    options: tuple[str, ...] = ()
    #: The form text of the value None (``max`` for max_items).
    unset: str = ""
    #: Bounded by the service's max_items cap, which None stands for.
    capped: bool = False
    #: A field Thoonk itself acts on is kept under Thoonk's name (else under ``var``) ...
    stored_as: str | None = None
    #: ... read as Thoonk reads it (the stored text, None when missing) ...
    read: Callable[[str | None], Any] | None = None
    #: ... and written as Thoonk expects (None deletes the field).
    write: Callable[[Any], str | None] | None = None
    #: Shown and accepted only on XEP-0254 queue nodes (``pubsub#queue_requests``).
    queue_only: bool = False
    #: Settable only on nodes of these kinds (empty: on every kind).
    kinds: tuple[NodeKind, ...] = ()

    @property
    def multi(self) -> bool:
        """Takes several values (a tuple of what ``parse`` makes of each)."""
        return self.kind in (FieldKind.JIDS, FieldKind.LIST_MULTI)


def option(
    default: Any,
    var: str,
    kind: FieldKind,
    label: str,
    parse: Callable[[str], Any],
    **more: Any,
) -> Any:
    """Declare a node option: a :class:`NodeConfig` attribute and its :class:`FieldSpec`."""
    spec = {"var": var, "kind": kind, "label": label, "parse": parse, **more}
    return dataclasses.field(default=default, metadata={"spec": spec})


def boolean_value(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"{value!r} is not a boolean (1, 0, true, false)")


def positive_or_max(value: str) -> int | None:
    if value.strip() == MAX:
        return None
    return positive_value(value)


def positive_value(value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{value!r} is not a positive integer")
    return int(text)


def optional_positive(value: str) -> int | None:
    return None if value.strip() == "" else positive_value(value)


def choice_of(enum: type[StrEnum]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return enum(value.strip())
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValueError(f"{value!r} is not one of {allowed}") from None

    return parse


def text_value(value: str) -> str:
    return value


def roster_group(value: str) -> str:
    if not value or "\n" in value:
        raise ValueError(f"{value!r} is not a roster group name")
    return value


def choices(enum: type[StrEnum]) -> dict[str, Any]:
    return {"parse": choice_of(enum), "options": tuple(enum)}
