"""Subscription options: each declared once; forms in, stored text out and back."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from thoonk_xmpp.service import sub_options
from thoonk_xmpp.service.errors import InvalidOptions
from thoonk_xmpp.service.model import NodeKind
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.sub_options import (
    DEFAULT,
    MAX_DIGEST_FREQUENCY,
    MAX_QUEUE_REQUESTS,
    ShowValue,
    SubscriptionOptions,
    SubscriptionType,
    apply,
    decode,
    encode,
)

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def test_every_option_is_one_declaration_with_a_field_and_a_short_stored_name() -> None:
    assert [spec.var for spec in sub_options.FIELDS] == [
        "pubsub#deliver",
        "pubsub#digest",
        "pubsub#digest_frequency",
        "pubsub#include_body",
        "pubsub#show-values",
        "pubsub#subscription_type",
        "pubsub#expire",
        "pubsub#queue_requests",
        "thoonkx#queue_batch",
    ]
    stored = [spec.stored_as for spec in sub_options.FIELDS]
    assert all(stored) and len(set(stored)) == len(stored)
    assert [f.name for f in dataclasses.fields(SubscriptionOptions)] == [
        spec.attr for spec in sub_options.FIELDS
    ]


def test_defaults_deliver_everything_at_once() -> None:
    assert DEFAULT.deliver and not DEFAULT.digest and not DEFAULT.include_body
    assert DEFAULT.show_values == tuple(ShowValue)
    assert DEFAULT.subscription_type == SubscriptionType.ITEMS
    assert DEFAULT.expire is None and DEFAULT.queue_requests is None


def test_the_queue_option_is_only_for_queue_nodes() -> None:
    plain = [spec.var for spec in sub_options.fields_for(queue_node=False)]
    queue = [spec.var for spec in sub_options.fields_for(queue_node=True)]
    assert "pubsub#queue_requests" not in plain
    assert queue == [*plain, "pubsub#queue_requests", "thoonkx#queue_batch"]
    with pytest.raises(InvalidOptions) as raised:
        apply(DEFAULT, {"pubsub#queue_requests": ["5"]}, queue_node=False)
    assert raised.value.field == "pubsub#queue_requests"
    assert apply(DEFAULT, {"pubsub#queue_requests": ["5"]}, queue_node=True).queue_requests == 5
    assert not sub_options.is_queue_node(NodeConfig())
    assert not sub_options.is_queue_node(NodeConfig(node_kind=NodeKind.SORTED_FEED))


def test_a_form_changes_only_the_fields_it_names() -> None:
    changed = apply(
        DEFAULT,
        {
            "FORM_TYPE": ["http://jabber.org/protocol/pubsub#subscribe_options"],
            "pubsub#deliver": ["false"],
            "pubsub#digest": ["1"],
            "pubsub#digest_frequency": ["60000"],
            "pubsub#show-values": ["online", "chat", "online"],
            "pubsub#subscription_type": ["nodes"],
            "pubsub#expire": ["2026-12-05T09:30:00+02:00"],
        },
        queue_node=False,
        now=NOW,
    )
    assert changed == SubscriptionOptions(
        deliver=False,
        digest=True,
        digest_frequency=60000,
        show_values=(ShowValue.CHAT, ShowValue.ONLINE),  # declared order, once each
        subscription_type=SubscriptionType.NODES,
        expire=datetime.datetime(2026, 12, 5, 7, 30, tzinfo=UTC),  # in UTC
    )
    later = apply(DEFAULT, {"pubsub#expire": ["2026-12-05T07:00:00Z"]}, queue_node=False, now=NOW)
    assert later.expire == datetime.datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert later.expire_ms == int(later.expire.timestamp() * 1000)
    assert apply(later, {"pubsub#expire": [""]}, queue_node=False).expire is None


@pytest.mark.parametrize(
    ("var", "values"),
    [
        ("pubsub#deliver", ["maybe"]),
        ("pubsub#deliver", ["1", "0"]),
        ("pubsub#digest_frequency", ["0"]),
        ("pubsub#digest_frequency", ["-5"]),
        ("pubsub#digest_frequency", ["soon"]),
        ("pubsub#digest_frequency", ["86400001"]),  # more than a day
        ("pubsub#show-values", ["online", "asleep"]),
        ("pubsub#subscription_type", ["everything"]),
        ("pubsub#expire", ["tomorrow"]),
        ("pubsub#expire", ["2026-12-05T07:00:00"]),  # no time zone
        ("pubsub#expire", ["2026-12-05T05:00:00Z"]),  # already over
        ("pubsub#subscription_depth", ["1"]),  # collections: not ours
        ("pubsub#frobnicate", ["1"]),
    ],
)
def test_a_bad_field_or_value_names_the_field(var: str, values: list[str]) -> None:
    with pytest.raises(InvalidOptions) as raised:
        apply(DEFAULT, {"pubsub#deliver": ["0"], var: values}, queue_node=False, now=NOW)
    assert raised.value.field == var


def test_stored_form_keeps_only_what_differs_from_the_defaults() -> None:
    assert encode(DEFAULT) == ""
    assert decode("") is DEFAULT and decode(None) is DEFAULT
    options = SubscriptionOptions(
        deliver=False,
        include_body=True,
        show_values=(ShowValue.ONLINE,),
        expire=datetime.datetime(2026, 12, 5, 7, 0, 0, 250000, tzinfo=UTC),
        queue_requests=3,
    )
    text = encode(options)
    assert text == ('{"d":"0","b":"1","s":["online"],"e":"2026-12-05T07:00:00.250Z","q":"3"}')
    assert decode(text) == options
    assert decode(text.encode()) == options
    assert decode(encode(SubscriptionOptions(show_values=()))).show_values == ()


def test_stored_text_that_cannot_be_read_takes_the_defaults() -> None:
    assert decode("not json") is DEFAULT
    assert decode("[1]") is DEFAULT
    assert decode('{"d":"perhaps","b":"1","z":"?"}') == SubscriptionOptions(include_body=True)


def test_form_values_of_each_kind() -> None:
    by_var = {spec.var: spec for spec in sub_options.FIELDS}
    options = SubscriptionOptions(expire=NOW)
    assert sub_options.render(options, by_var["pubsub#deliver"]) == ["1"]
    assert sub_options.render(options, by_var["pubsub#show-values"]) == [
        "away",
        "chat",
        "dnd",
        "online",
        "xa",
    ]
    assert sub_options.render(options, by_var["pubsub#expire"]) == ["2026-12-05T06:00:00.000Z"]
    assert sub_options.render(DEFAULT, by_var["pubsub#expire"]) == []


def test_queue_requests_is_bounded() -> None:
    most = str(MAX_QUEUE_REQUESTS)
    assert apply(DEFAULT, {"pubsub#queue_requests": [most]}, queue_node=True).queue_requests == 100
    with pytest.raises(InvalidOptions) as raised:
        apply(DEFAULT, {"pubsub#queue_requests": ["101"]}, queue_node=True)
    assert raised.value.field == "pubsub#queue_requests"


def test_digest_frequency_is_bounded_by_a_day() -> None:
    day = apply(DEFAULT, {"pubsub#digest_frequency": ["86400000"]}, queue_node=False)
    assert day.digest_frequency == MAX_DIGEST_FREQUENCY == 86_400_000
