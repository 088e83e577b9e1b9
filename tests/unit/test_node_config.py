"""Node configuration: form changes (apply), the Thoonk config hash (to/from
stored) and form rendering."""

from __future__ import annotations

import pytest

from thoonk_xmpp.service import node_config
from thoonk_xmpp.service.errors import InvalidNodeConfig
from thoonk_xmpp.service.model import (
    AccessModel,
    NodeKind,
    NotificationType,
    PublishModel,
    PublishNodeFull,
    SendLastPublished,
)
from thoonk_xmpp.service.node_config import BY_VAR, FIELDS, NodeConfig, apply, render

DEFAULT = NodeConfig()


def test_every_field_maps_to_an_attribute() -> None:
    attrs = {spec.attr for spec in FIELDS}
    assert attrs == set(NodeConfig.__dataclass_fields__)
    assert all(spec.var.startswith(("pubsub#", "thoonkx#")) for spec in FIELDS)
    assert len(BY_VAR) == len(FIELDS)


def test_apply_every_field() -> None:
    changes = {
        "FORM_TYPE": ["http://jabber.org/protocol/pubsub#node_config"],
        "pubsub#title": ["Princely Musings"],
        "pubsub#description": ["Atom feed"],
        "pubsub#type": ["http://www.w3.org/2005/Atom"],
        "pubsub#max_items": ["10"],
        "pubsub#persist_items": ["0"],
        "pubsub#deliver_payloads": ["false"],
        "pubsub#deliver_notifications": ["0"],
        "pubsub#notify_retract": ["0"],
        "pubsub#notify_delete": ["FALSE"],
        "pubsub#notify_config": ["true"],
        "pubsub#access_model": ["whitelist"],
        "pubsub#publish_model": ["open"],
        "pubsub#send_last_published_item": ["on_sub"],
        "pubsub#max_payload_size": ["1024"],
        "pubsub#notification_type": ["normal"],
        "pubsub#publish_node_full": ["discard-oldest"],
    }
    assert apply(DEFAULT, changes) == NodeConfig(
        title="Princely Musings",
        description="Atom feed",
        type="http://www.w3.org/2005/Atom",
        max_items=10,
        persist_items=False,
        deliver_payloads=False,
        deliver_notifications=False,
        notify_retract=False,
        notify_delete=False,
        notify_config=True,
        access_model=AccessModel.WHITELIST,
        publish_model=PublishModel.OPEN,
        send_last_published_item=SendLastPublished.ON_SUB,
        max_payload_size=1024,
        notification_type=NotificationType.NORMAL,
        publish_node_full=PublishNodeFull.DISCARD_OLDEST,
    )


def test_apply_keeps_fields_not_given() -> None:
    start = NodeConfig(title="kept", max_items=5)
    assert apply(start, {"pubsub#notify_config": ["1"]}) == NodeConfig(
        title="kept", max_items=5, notify_config=True
    )
    assert apply(start, {}) == start


def test_apply_unknown_field_names_it() -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#title": ["ok"], "pubsub#body_xslt": ["x"]})
    assert caught.value.field == "pubsub#body_xslt"
    assert "pubsub#body_xslt" in str(caught.value)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("pubsub#max_items", "0"),
        ("pubsub#max_items", "-3"),
        ("pubsub#max_items", "ten"),
        ("pubsub#max_items", ""),
        ("pubsub#max_items", "1.5"),
        ("pubsub#max_items", "٣"),
        ("pubsub#max_items", "²"),
        ("pubsub#persist_items", "yes"),
        ("pubsub#deliver_payloads", ""),
        ("pubsub#deliver_notifications", "2"),
        ("pubsub#notify_retract", "on"),
        ("pubsub#notify_delete", "nope"),
        ("pubsub#notify_config", "t"),
        ("pubsub#access_model", "everyone"),
        ("pubsub#access_model", "nobody"),
        ("pubsub#publish_model", "everyone"),
        ("pubsub#send_last_published_item", "on_presence"),
        ("pubsub#max_payload_size", "0"),
        ("pubsub#max_payload_size", "big"),
        ("pubsub#notification_type", "chat"),
        ("pubsub#publish_node_full", "reject"),
        ("pubsub#publish_node_full", "retract_oldest"),
    ],
)
def test_apply_bad_value_names_the_field(var: str, value: str) -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {var: [value]})
    assert caught.value.field == var
    assert str(caught.value).startswith(var)


def test_apply_refuses_several_values() -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#title": ["a", "b"]})
    assert caught.value.field == "pubsub#title"


def test_apply_empty_value_list_is_the_empty_string() -> None:
    assert apply(NodeConfig(title="x"), {"pubsub#title": []}).title == ""
    assert apply(NodeConfig(max_payload_size=9), {"pubsub#max_payload_size": []}) == DEFAULT


def test_max_items_max_and_cap() -> None:
    assert apply(NodeConfig(max_items=3), {"pubsub#max_items": ["max"]}).max_items is None
    assert apply(DEFAULT, {"pubsub#max_items": ["max"]}, cap=50).max_items is None
    assert apply(DEFAULT, {"pubsub#max_items": ["50"]}, cap=50).max_items == 50
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#max_items": ["51"]}, cap=50)
    assert caught.value.field == "pubsub#max_items"
    assert "50" in str(caught.value)
    # without a cap any positive number goes
    assert apply(DEFAULT, {"pubsub#max_items": ["1000000"]}).max_items == 1_000_000


def test_to_stored_uses_thoonk_field_names() -> None:
    stored = node_config.to_stored(NodeConfig(max_items=7, persist_items=False))
    assert stored["max_length"] == "7"
    assert stored["persist"] == "false"
    assert "pubsub#max_items" not in stored
    assert "pubsub#persist_items" not in stored
    assert node_config.to_stored(DEFAULT)["persist"] == "true"
    ordered = NodeConfig(node_kind=NodeKind.SORTED_FEED)
    assert node_config.to_stored(ordered)["type"] == "sorted_feed"
    assert "thoonkx#node_kind" not in node_config.to_stored(ordered)


def test_node_kind_is_the_thoonk_type() -> None:
    assert node_config.from_stored({"type": "sorted_feed"}, DEFAULT).node_kind == "sorted_feed"
    assert node_config.from_stored({}, DEFAULT).node_kind == NodeKind.FEED
    assert node_config.from_stored({"type": "job"}, DEFAULT).node_kind == NodeKind.JOB
    assert node_config.from_stored({"type": "queue"}, DEFAULT).node_kind == NodeKind.QUEUE
    assert node_config.from_stored({"type": "pyqueue"}, DEFAULT).node_kind == NodeKind.FEED
    changed = node_config.apply(DEFAULT, {"thoonkx#node_kind": ["sorted_feed"]})
    assert changed.node_kind == NodeKind.SORTED_FEED
    assert node_config.apply(DEFAULT, {"thoonkx#node_kind": ["queue"]}).node_kind == "queue"
    with pytest.raises(InvalidNodeConfig):
        node_config.apply(DEFAULT, {"thoonkx#node_kind": ["pyqueue"]})


def test_claim_timeout_is_the_thoonk_job_timeout() -> None:
    assert node_config.from_stored({"timeout": "2.5"}, DEFAULT).claim_timeout == 2
    assert node_config.from_stored({"timeout": "30"}, DEFAULT).claim_timeout == 30
    assert node_config.from_stored({"timeout": "x"}, DEFAULT).claim_timeout is None
    assert node_config.from_stored({}, DEFAULT).claim_timeout is None
    changed = node_config.apply(DEFAULT, {"thoonkx#claim_timeout": ["90"]})
    assert node_config.to_stored(changed)["timeout"] == "90"
    assert "thoonkx#claim_timeout" not in node_config.to_stored(changed)
    with pytest.raises(InvalidNodeConfig):
        node_config.apply(DEFAULT, {"thoonkx#claim_timeout": ["0"]})


def test_to_stored_max_is_the_cap_or_no_field() -> None:
    assert node_config.to_stored(DEFAULT)["max_length"] is None
    assert node_config.to_stored(DEFAULT, cap=100)["max_length"] == "100"
    assert node_config.to_stored(NodeConfig(max_items=5), cap=100)["max_length"] == "5"


def test_to_stored_every_other_field_under_its_var() -> None:
    config = NodeConfig(
        title="T",
        access_model=AccessModel.WHITELIST,
        notify_config=True,
        max_payload_size=64,
    )
    stored = node_config.to_stored(config)
    assert stored.pop("timeout") is None  # claim_timeout: the Thoonk job feed's field
    assert stored == {
        "pubsub#title": "T",
        "pubsub#description": "",
        "pubsub#type": "",
        "max_length": None,
        "persist": "true",
        "type": "feed",
        "pubsub#deliver_payloads": "1",
        "pubsub#deliver_notifications": "1",
        "pubsub#roster_groups_allowed": None,
        "pubsub#notify_retract": "1",
        "pubsub#notify_delete": "1",
        "pubsub#notify_config": "1",
        "pubsub#access_model": "whitelist",
        "pubsub#publish_model": "publishers",
        "pubsub#send_last_published_item": "never",
        "pubsub#max_payload_size": "64",
        "pubsub#notification_type": "headline",
        "pubsub#publish_node_full": "discard-oldest",
        "pubsub#notify_sub": "0",
        "pubsub#item_expire": None,
        "pubsub#contact": None,
        "pubsub#language": "",
    }
    assert node_config.to_stored(DEFAULT)["pubsub#max_payload_size"] is None


@pytest.mark.parametrize(
    "config",
    [
        DEFAULT,
        NodeConfig(max_items=1, persist_items=False, deliver_payloads=False),
        NodeConfig(
            title="Ünïcode title",
            description="multi\nline",
            max_items=99,
            notify_retract=False,
            notify_delete=False,
            deliver_notifications=False,
            access_model=AccessModel.WHITELIST,
            publish_model=PublishModel.SUBSCRIBERS,
            send_last_published_item=SendLastPublished.ON_SUB,
            max_payload_size=10,
            notification_type=NotificationType.NORMAL,
            publish_node_full=PublishNodeFull.DISCARD_OLDEST,
        ),
    ],
)
def test_stored_round_trip(config: NodeConfig) -> None:
    stored = {k: v for k, v in node_config.to_stored(config).items() if v is not None}
    assert node_config.from_stored(stored, DEFAULT) == config


def test_from_stored_plain_thoonk_feed_takes_defaults() -> None:
    defaults = NodeConfig(title="default", notify_config=True, max_items=20)
    got = node_config.from_stored({"type": "feed"}, defaults)
    # max_items reflects what Thoonk really does: no max_length, no trimming
    assert got == NodeConfig(title="default", notify_config=True, max_items=None)
    assert node_config.from_stored({"type": "feed", "max_length": "4"}, defaults).max_items == 4


def test_from_stored_persist_reflects_what_thoonk_does() -> None:
    transient = NodeConfig(persist_items=False)
    # a feed made by a Thoonk app without the field stores its items
    assert node_config.from_stored({}, transient).persist_items is True
    assert node_config.from_stored({"persist": "false"}, DEFAULT).persist_items is False
    assert node_config.from_stored({"persist": "true"}, transient).persist_items is True


def test_from_stored_ignores_bad_values() -> None:
    stored = {
        "pubsub#notify_retract": "maybe",
        "pubsub#access_model": "nobody",
        "pubsub#max_payload_size": "-1",
        "pubsub#publish_node_full": "reject",
        "pubsub#title": "fine",
        "unrelated": "x",
    }
    defaults = NodeConfig(notify_retract=False, max_payload_size=5)
    assert node_config.from_stored(stored, defaults) == NodeConfig(
        title="fine", notify_retract=False, max_payload_size=5
    )


def test_from_stored_unreadable_max_length_means_no_limit() -> None:
    # publish.lua treats a non-number or a number below 1 as "no limit"
    for raw in ("abc", "0", "-2", "max"):
        got = node_config.from_stored({"max_length": raw}, NodeConfig(max_items=3))
        assert got.max_items is None, raw


def test_render() -> None:
    config = NodeConfig(
        title="T", max_items=None, persist_items=False, max_payload_size=None, notify_config=True
    )
    shown = {spec.var: render(config, spec) for spec in FIELDS}
    assert shown["pubsub#title"] == "T"
    assert shown["pubsub#max_items"] == "max"
    assert shown["pubsub#persist_items"] == "0"
    assert shown["pubsub#notify_config"] == "1"
    assert shown["pubsub#max_payload_size"] == ""
    assert shown["pubsub#access_model"] == "open"
    assert shown["pubsub#notification_type"] == "headline"
    # trims are silent by default, as in Prosody and libervia-pubsub (ejabberd 23.01 retracts)
    assert shown["pubsub#publish_node_full"] == "discard-oldest"
    retract = NodeConfig(publish_node_full=PublishNodeFull.RETRACT_OLDEST)
    assert render(retract, BY_VAR["pubsub#publish_node_full"]) == "retract-oldest"
    assert render(NodeConfig(max_items=8), BY_VAR["pubsub#max_items"]) == "8"


def test_render_then_apply_is_identity() -> None:
    config = NodeConfig(
        title="x",
        max_items=3,
        persist_items=False,
        access_model=AccessModel.WHITELIST,
        max_payload_size=12,
        publish_node_full=PublishNodeFull.DISCARD_OLDEST,
    )
    form = {spec.var: node_config.values(config, spec) for spec in FIELDS}
    assert apply(DEFAULT, form) == config
    assert (
        apply(config, {spec.var: node_config.values(DEFAULT, spec) for spec in FIELDS}) == DEFAULT
    )


def test_list_fields_offer_their_options() -> None:
    assert BY_VAR["pubsub#access_model"].options == (
        "open",
        "whitelist",
        "authorize",
        "presence",
        "roster",
    )
    full = BY_VAR["pubsub#publish_node_full"]
    assert full.kind == "list-single"
    assert full.options == ("retract-oldest", "discard-oldest")
    assert BY_VAR["pubsub#persist_items"].kind == "boolean"
    assert BY_VAR["pubsub#max_items"].kind == "text-single"


def test_roster_groups_take_several_values_kept_one_a_line() -> None:
    var = "pubsub#roster_groups_allowed"
    config = apply(DEFAULT, {var: ["friends", "family", "friends"]})
    assert config.roster_groups_allowed == ("friends", "family")
    assert node_config.values(config, BY_VAR[var]) == ["friends", "family"]
    stored = node_config.to_stored(config)
    assert stored[var] == "friends\nfamily"
    assert node_config.from_stored({var: "friends\nfamily"}, DEFAULT) == config
    assert apply(config, {var: []}).roster_groups_allowed == ()
    assert node_config.to_stored(DEFAULT)[var] is None


@pytest.mark.parametrize("group", ["", "two\nlines"])
def test_a_roster_group_must_be_a_name(group: str) -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        apply(DEFAULT, {"pubsub#roster_groups_allowed": ["friends", group]})
    assert caught.value.field == "pubsub#roster_groups_allowed"
