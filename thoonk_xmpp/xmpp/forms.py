"""XEP-0004 data forms: the node configuration, publish-options and meta-data forms.

Forms go out built from :data:`thoonk_xmpp.service.node_config.FIELDS`, so a
field the service learns appears in every form at once.  Submitted forms come
in as ``Mapping[str, list[str]]`` (var → values, without ``FORM_TYPE``); the
service judges the values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from thoonk_xmpp.service import node_config, sub_options
from thoonk_xmpp.service.node_config import FieldKind, NodeConfig
from thoonk_xmpp.service.service import NodeMetadata
from thoonk_xmpp.service.sub_options import SubscriptionOptions

from . import ns
from .errors import MalformedRequest

NODE_CONFIG: Final = "http://jabber.org/protocol/pubsub#node_config"
PUBLISH_OPTIONS: Final = "http://jabber.org/protocol/pubsub#publish-options"
META_DATA: Final = "http://jabber.org/protocol/pubsub#meta-data"
SUBSCRIBE_OPTIONS: Final = "http://jabber.org/protocol/pubsub#subscribe_options"
FORM_TYPE: Final = "FORM_TYPE"


class FormType(StrEnum):
    """The ``type`` attribute of ``<x xmlns='jabber:x:data'/>``."""

    FORM = "form"
    SUBMIT = "submit"
    CANCEL = "cancel"
    RESULT = "result"


class FieldType(StrEnum):
    """XEP-0004 §3.3 field types used here."""

    BOOLEAN = "boolean"
    HIDDEN = "hidden"
    JID_MULTI = "jid-multi"
    JID_SINGLE = "jid-single"
    LIST_SINGLE = "list-single"
    LIST_MULTI = "list-multi"
    TEXT_SINGLE = "text-single"
    TEXT_MULTI = "text-multi"


_KIND_TYPES: Final = {
    FieldKind.TEXT: FieldType.TEXT_SINGLE,
    FieldKind.BOOLEAN: FieldType.BOOLEAN,
    FieldKind.LIST: FieldType.LIST_SINGLE,
    FieldKind.LIST_MULTI: FieldType.LIST_MULTI,
    FieldKind.JIDS: FieldType.JID_MULTI,
}


@dataclass(frozen=True, slots=True)
class Submission:
    """A parsed form: its type, its FORM_TYPE (if any) and its fields."""

    type: FormType
    form_type: str | None
    fields: Mapping[str, list[str]]


def _x(name: str) -> str:
    return ns.tag(ns.DATA, name)


# --- reading ---------------------------------------------------------------------------


def parse_form(x: ET.Element) -> Submission:
    """Read one ``<x xmlns='jabber:x:data'/>``; a malformed form raises MalformedRequest."""
    if x.tag != _x("x"):
        raise MalformedRequest(f"expected a jabber:x:data form, got {x.tag}")
    try:
        kind = FormType(x.get("type", ""))
    except ValueError:
        raise MalformedRequest(f"form type {x.get('type')!r} is not a XEP-0004 type") from None
    fields: dict[str, list[str]] = {}
    for element in x.findall(_x("field")):
        var = element.get("var")
        if not var:
            raise MalformedRequest("a submitted form field has no 'var'")
        if var in fields:
            raise MalformedRequest(f"form field {var!r} appears twice")
        fields[var] = [value.text or "" for value in element.findall(_x("value"))]
    form_type = fields.pop(FORM_TYPE, None)
    return Submission(kind, form_type[0] if form_type else None, fields)


def find_form(parent: ET.Element | None) -> ET.Element | None:
    """The data form child of ``parent``, if any."""
    return None if parent is None else parent.find(_x("x"))


def submitted(parent: ET.Element | None, form_type: str) -> Mapping[str, list[str]] | None:
    """The fields of the submit form in ``parent`` (None: no form, or a cancel form).

    ``FORM_TYPE`` may be left out; if given it must be ``form_type``.
    """
    x = find_form(parent)
    if x is None:
        return None
    form = parse_form(x)
    if form.type == FormType.CANCEL:
        return None
    if form.type != FormType.SUBMIT:
        raise MalformedRequest(f"expected a submit form, got type {form.type.value!r}")
    if form.form_type is not None and form.form_type != form_type:
        raise MalformedRequest(f"FORM_TYPE {form.form_type!r} is not {form_type!r}")
    return form.fields


# --- writing ---------------------------------------------------------------------------


def form_element(form_type: FormType, namespace: str) -> ET.Element:
    """An empty form with its hidden FORM_TYPE field."""
    x = ET.Element(_x("x"), {"type": form_type.value})
    add_field(x, FORM_TYPE, FieldType.HIDDEN, [namespace])
    return x


def add_field(
    x: ET.Element,
    var: str,
    kind: FieldType,
    values: Iterable[str],
    *,
    label: str | None = None,
    options: Iterable[str] = (),
) -> ET.Element:
    """Append one field with its values (and options for list fields)."""
    attrs = {"var": var, "type": kind.value}
    if label is not None:
        attrs["label"] = label
    element = ET.SubElement(x, _x("field"), attrs)
    for option in options:
        ET.SubElement(ET.SubElement(element, _x("option")), _x("value")).text = option
    for value in values:
        ET.SubElement(element, _x("value")).text = value
    return element


def _config_fields(
    x: ET.Element,
    config: NodeConfig,
    *,
    with_options: bool,
    unoffered: Iterable[str] = (),
    choices: Mapping[str, Iterable[str]] | None = None,
) -> None:
    left_out = frozenset(unoffered)
    for spec in node_config.FIELDS:
        options: Iterable[str] = ()
        if with_options:
            options = [o for o in spec.options if o not in left_out]
            options += list((choices or {}).get(spec.var, ()))
        add_field(
            x,
            spec.var,
            _KIND_TYPES[spec.kind],
            node_config.values(config, spec),
            label=spec.label,
            options=options,
        )


def node_config_form(
    config: NodeConfig,
    form_type: str = FormType.FORM,
    *,
    unoffered: Iterable[str] = (),
    choices: Mapping[str, Iterable[str]] | None = None,
) -> ET.Element:
    """The ``pubsub#node_config`` form holding ``config`` (type form, or result for events).

    ``unoffered``: option values not listed (access models the server gives no means for);
    ``choices``: options of fields that have none of their own, by var (roster groups).
    """
    kind = FormType(form_type)
    x = form_element(kind, NODE_CONFIG)
    with_options = kind == FormType.FORM
    _config_fields(x, config, with_options=with_options, unoffered=unoffered, choices=choices)
    return x


def subscribe_options_form(
    options: SubscriptionOptions, *, queue_node: bool, form_type: str = FormType.FORM
) -> ET.Element:
    """The ``pubsub#subscribe_options`` form holding ``options`` (type form, or result)."""
    kind = FormType(form_type)
    x = form_element(kind, SUBSCRIBE_OPTIONS)
    for spec in sub_options.fields_for(queue_node=queue_node):
        add_field(
            x,
            spec.var,
            _KIND_TYPES[spec.kind],
            sub_options.render(options, spec),
            label=spec.label,
            options=spec.options if kind == FormType.FORM else (),
        )
    return x


def metadata_form(meta: NodeMetadata) -> ET.Element:
    """The XEP-0128 ``pubsub#meta-data`` result form for a node's disco#info."""
    x = form_element(FormType.RESULT, META_DATA)
    add_field(x, "pubsub#creator", FieldType.JID_SINGLE, _some(meta.creator), label="Node creator")
    add_field(
        x,
        "pubsub#creation_date",
        FieldType.TEXT_SINGLE,
        _some(meta.creation_date),
        label="Creation date",
    )
    add_field(x, "pubsub#owner", FieldType.JID_MULTI, meta.owners, label="Node owners")
    add_field(x, "pubsub#publisher", FieldType.JID_MULTI, meta.publishers, label="Publishers")
    add_field(
        x,
        "pubsub#num_subscribers",
        FieldType.TEXT_SINGLE,
        [str(meta.num_subscribers)],
        label="Number of subscribers to this node",
    )
    _config_fields(x, meta.config, with_options=False)
    return x


def _some(value: str | None) -> list[str]:
    return [] if value is None else [value]
