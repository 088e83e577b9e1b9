"""The node options pubsub#item_expire, pubsub#contact (jid-multi) and pubsub#language, and
the XEP-0248 collection fields a leaf-only service meets in forms."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service import node_config
from thoonk_xmpp.service.errors import InvalidNodeConfig, NotACollection, Unsupported
from thoonk_xmpp.service.model import NodeKind
from thoonk_xmpp.service.node_config import NodeConfig, apply, from_stored, to_stored
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.xmpp import forms

DEFAULT = NodeConfig()
DATA = "{jabber:x:data}"


def form_fields(x: ET.Element) -> dict[str, tuple[str | None, list[str]]]:
    return {
        f.get("var", ""): (f.get("type"), [v.text or "" for v in f.findall(f"{DATA}value")])
        for f in x.findall(f"{DATA}field")
    }


# --- pubsub#item_expire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("2", 2), ("604800", 604800), ("max", None), ("", None)]
)
def test_item_expire_takes_seconds_or_max(text: str, seconds: int | None) -> None:
    assert apply(DEFAULT, {"pubsub#item_expire": [text]}).item_expire == seconds


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "soon"])
def test_item_expire_refuses_what_is_not_seconds(text: str) -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#item_expire": [text]})
    assert caught.value.field == "pubsub#item_expire"


def test_item_expire_is_stored_under_its_var_and_read_back() -> None:
    stored = to_stored(NodeConfig(item_expire=30))
    assert stored["pubsub#item_expire"] == "30"
    assert from_stored({"pubsub#item_expire": "30"}, DEFAULT).item_expire == 30
    assert to_stored(DEFAULT)["pubsub#item_expire"] is None  # the field is deleted
    assert node_config.render(DEFAULT, node_config.BY_VAR["pubsub#item_expire"]) == "max"


def test_ordered_nodes_take_no_item_expire() -> None:
    ordered = NodeConfig(node_kind=NodeKind.SORTED_FEED)
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(ordered, {"pubsub#item_expire": ["5"]})
    assert caught.value.field == "pubsub#item_expire"
    with pytest.raises(InvalidNodeConfig):
        apply(DEFAULT, {"thoonkx#node_kind": ["sorted_feed"], "pubsub#item_expire": ["5"]})
    assert apply(ordered, {"pubsub#item_expire": ["max"]}) == ordered  # a resubmitted form


# --- pubsub#contact -------------------------------------------------------------------------


def test_contact_takes_several_jids_and_keeps_them_in_order() -> None:
    changed = apply(DEFAULT, {"pubsub#contact": ["b@example.org", "a@example.org/desk"]})
    assert changed.contact == ("b@example.org", "a@example.org/desk")
    stored = to_stored(changed)["pubsub#contact"]
    assert stored is not None
    assert from_stored({"pubsub#contact": stored}, DEFAULT).contact == changed.contact
    assert apply(changed, {"pubsub#contact": []}).contact == ()


@pytest.mark.parametrize("jid", ["a@b@c", "@example.org", "a b@example.org", "a@", "x@exa mple"])
def test_contact_refuses_what_is_not_a_jid(jid: str) -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#contact": ["ok@example.org", jid]})
    assert caught.value.field == "pubsub#contact"


def test_contact_is_a_jid_multi_field_in_forms() -> None:
    config = NodeConfig(contact=("a@x.org", "b@x.org"))
    fields = form_fields(forms.node_config_form(config))
    assert fields["pubsub#contact"] == ("jid-multi", ["a@x.org", "b@x.org"])
    assert form_fields(forms.node_config_form(DEFAULT))["pubsub#contact"] == ("jid-multi", [])


def test_contact_is_stored_one_jid_a_line_and_a_bad_one_reads_as_none() -> None:
    stored = to_stored(NodeConfig(contact=("a@x.org", "b@x.org/r s")))
    assert stored["pubsub#contact"] == "a@x.org\nb@x.org/r s"
    assert from_stored({"pubsub#contact": "a@b@c"}, DEFAULT).contact == ()
    with pytest.raises(InvalidNodeConfig):
        apply(DEFAULT, {"pubsub#contact": ["a@x.org/line\nbreak"]})


# --- pubsub#language ------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["en", "pt-BR", "zh-Hant-TW", ""])
def test_language_takes_a_language_tag(tag: str) -> None:
    changed = apply(DEFAULT, {"pubsub#language": [tag]})
    assert changed.language == tag
    stored = {k: v for k, v in to_stored(changed).items() if v is not None}
    assert from_stored(stored, DEFAULT).language == tag


@pytest.mark.parametrize("tag", ["english language", "en_GB", "-en", "toolongsubtag"])
def test_language_refuses_what_is_not_a_tag(tag: str) -> None:
    with pytest.raises(InvalidNodeConfig):
        apply(DEFAULT, {"pubsub#language": [tag]})


# --- collections (XEP-0248): leaf nodes only ------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"pubsub#children": []},
        {"pubsub#children": [""]},
        {"pubsub#collection": [""]},
        {"pubsub#node_type": ["leaf"]},
        {"pubsub#children_max": [""]},
    ],
)
def test_empty_collection_fields_are_ignored(changes: dict[str, list[str]]) -> None:
    assert apply(DEFAULT, {"pubsub#title": ["t"], **changes}) == NodeConfig(title="t")


@pytest.mark.parametrize("var", ["pubsub#children", "pubsub#collection"])
def test_children_or_a_collection_on_a_leaf_are_invalid_options(var: str) -> None:
    with pytest.raises(NotACollection) as caught:
        apply(DEFAULT, {var: ["other-node"]})
    assert caught.value.field == var


@pytest.mark.parametrize(
    ("var", "value"),
    [("pubsub#node_type", "collection"), ("pubsub#children_max", "10")],
)
def test_asking_for_a_collection_is_unsupported(var: str, value: str) -> None:
    with pytest.raises(Unsupported) as caught:
        apply(DEFAULT, {var: [value]})
    assert caught.value.feature == "collections"


# --- defaults from the settings file --------------------------------------------------------


def test_default_node_takes_the_new_options() -> None:
    settings = Settings.from_mapping(
        {
            "component": {"jid": "pubsub.example.org", "secret": "s"},
            "pubsub": {
                "default_node": {
                    "item_expire": 3600,
                    "contact": ["admin@example.org"],
                    "language": "en",
                }
            },
        }
    )
    defaults = settings.pubsub.defaults
    assert (defaults.item_expire, defaults.contact, defaults.language) == (
        3600,
        ("admin@example.org",),
        "en",
    )
