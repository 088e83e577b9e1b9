"""XEP-0004 forms: node_config rendered from the FIELDS table, meta-data, parsing submissions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service import node_config
from thoonk_xmpp.service.model import AccessModel
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.service import NodeMetadata
from thoonk_xmpp.xmpp import forms
from thoonk_xmpp.xmpp.errors import MalformedRequest

X = "{jabber:x:data}"


def fields(x: ET.Element) -> dict[str, tuple[str | None, list[str]]]:
    """var → (type, values) of a rendered form."""
    return {
        f.get("var", ""): (f.get("type"), [v.text or "" for v in f.findall(f"{X}value")])
        for f in x.findall(f"{X}field")
    }


def test_node_config_form_has_form_type_and_every_field_of_the_table() -> None:
    x = forms.node_config_form(NodeConfig(title="News", max_items=10))
    assert x.tag == f"{X}x"
    assert x.get("type") == "form"
    found = fields(x)
    assert found["FORM_TYPE"] == ("hidden", [forms.NODE_CONFIG])
    assert list(found)[1:] == [spec.var for spec in node_config.FIELDS]
    assert found["pubsub#title"] == ("text-single", ["News"])
    assert found["pubsub#max_items"] == ("text-single", ["10"])
    assert found["pubsub#persist_items"] == ("boolean", ["1"])
    assert found["pubsub#notify_config"] == ("boolean", ["0"])
    assert found["pubsub#access_model"] == ("list-single", ["open"])
    assert found["pubsub#description"] == ("text-single", [])


def test_unbounded_max_items_renders_as_max() -> None:
    found = fields(forms.node_config_form(NodeConfig(max_items=None)))
    assert found["pubsub#max_items"][1] == ["max"]


def test_list_fields_offer_their_options_with_labels_from_the_table() -> None:
    x = forms.node_config_form(NodeConfig())
    access = next(f for f in x.findall(f"{X}field") if f.get("var") == "pubsub#access_model")
    options = [o.findtext(f"{X}value") for o in access.findall(f"{X}option")]
    assert options == [m.value for m in AccessModel]
    assert access.get("label") == node_config.BY_VAR["pubsub#access_model"].label


def test_result_form_for_notifications_has_no_options() -> None:
    x = forms.node_config_form(NodeConfig(), form_type="result")
    assert x.get("type") == "result"
    assert not x.findall(f"{X}field/{X}option")


def test_rendered_form_round_trips_through_parse_and_apply() -> None:
    config = NodeConfig(title="T", max_items=3, access_model=AccessModel.WHITELIST)
    x = forms.node_config_form(config)
    x.set("type", "submit")
    parsed = forms.parse_form(x)
    assert parsed.form_type == forms.NODE_CONFIG
    assert node_config.apply(NodeConfig(), parsed.fields) == config


def test_metadata_form_carries_automatic_facts_and_the_configuration() -> None:
    meta = NodeMetadata(
        node="n",
        config=NodeConfig(title="News", type="urn:x", max_items=7),
        creator="alice@x.org",
        creation_date="2026-01-02T03:04:05Z",
        owners=["alice@x.org", "bob@x.org"],
        publishers=["carol@x.org"],
        num_subscribers=4,
    )
    x = forms.metadata_form(meta)
    assert x.get("type") == "result"
    found = fields(x)
    assert found["FORM_TYPE"] == ("hidden", [forms.META_DATA])
    assert found["pubsub#creator"] == ("jid-single", ["alice@x.org"])
    assert found["pubsub#creation_date"] == ("text-single", ["2026-01-02T03:04:05Z"])
    assert found["pubsub#owner"] == ("jid-multi", ["alice@x.org", "bob@x.org"])
    assert found["pubsub#publisher"] == ("jid-multi", ["carol@x.org"])
    assert found["pubsub#num_subscribers"] == ("text-single", ["4"])
    assert found["pubsub#title"][1] == ["News"]
    assert found["pubsub#type"][1] == ["urn:x"]
    assert found["pubsub#access_model"][1] == ["open"]
    assert found["pubsub#max_items"][1] == ["7"]


def test_metadata_form_of_a_feed_made_by_a_thoonk_app_has_no_creator() -> None:
    meta = NodeMetadata("n", NodeConfig(), None, None, [], [], 0)
    found = fields(forms.metadata_form(meta))
    assert found["pubsub#creator"] == ("jid-single", [])
    assert found["pubsub#owner"] == ("jid-multi", [])


# --- submissions ---------------------------------------------------------------------------------


def parent(x: str) -> ET.Element:
    return ET.fromstring(f"<configure xmlns='http://jabber.org/protocol/pubsub'>{x}</configure>")


SUBMIT = (
    "<x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>{ft}</value></field>"
    "<field var='pubsub#title'><value>A</value></field>"
    "<field var='pubsub#roster_groups_allowed'><value>a</value><value>b</value></field>"
    "<field var='pubsub#description'/>"
    "</x>"
)


def test_submitted_form_gives_var_to_values_without_form_type() -> None:
    got = forms.submitted(parent(SUBMIT.format(ft=forms.NODE_CONFIG)), forms.NODE_CONFIG)
    assert got == {
        "pubsub#title": ["A"],
        "pubsub#roster_groups_allowed": ["a", "b"],
        "pubsub#description": [],
    }


def test_submitted_form_may_leave_out_form_type() -> None:
    x = "<x xmlns='jabber:x:data' type='submit'><field var='pubsub#title'><value>A</value></field></x>"
    assert forms.submitted(parent(x), forms.NODE_CONFIG) == {"pubsub#title": ["A"]}


def test_no_form_and_cancel_form_give_none() -> None:
    assert forms.submitted(None, forms.NODE_CONFIG) is None
    assert forms.submitted(parent(""), forms.NODE_CONFIG) is None
    assert (
        forms.submitted(parent("<x xmlns='jabber:x:data' type='cancel'/>"), forms.NODE_CONFIG)
        is None
    )


@pytest.mark.parametrize(
    "x",
    [
        SUBMIT.format(ft=forms.PUBLISH_OPTIONS),
        "<x xmlns='jabber:x:data' type='form'/>",
        "<x xmlns='jabber:x:data' type='result'/>",
        "<x xmlns='jabber:x:data'/>",
        "<x xmlns='jabber:x:data' type='submit'><field><value>1</value></field></x>",
        "<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>",
    ],
)
def test_bad_submissions_are_malformed_requests(x: str) -> None:
    with pytest.raises(MalformedRequest):
        forms.submitted(parent(x), forms.NODE_CONFIG)


def test_parse_form_refuses_what_is_not_a_data_form() -> None:
    with pytest.raises(MalformedRequest):
        forms.parse_form(ET.fromstring("<x xmlns='urn:other' type='submit'/>"))
