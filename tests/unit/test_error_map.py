"""The one table from service errors to XMPP errors: complete, and rendered as XEP-0060 says."""

from __future__ import annotations

import inspect
import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service import errors as se
from thoonk_xmpp.xmpp import errors as xe
from thoonk_xmpp.xmpp import handlers

STANZAS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"
PUBSUB_ERRORS = "{http://jabber.org/protocol/pubsub#errors}"


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


def test_every_pubsub_error_class_has_its_own_row() -> None:
    service_classes = {
        cls for _, cls in inspect.getmembers(se, inspect.isclass) if issubclass(cls, se.PubSubError)
    }
    # Every subclass the package defines (test-local subclasses are not the package's).
    every = service_classes | {
        cls for cls in all_subclasses(se.PubSubError) if cls.__module__.startswith("thoonk_xmpp.")
    }
    missing = sorted(cls.__qualname__ for cls in every if cls not in xe.ERRORS)
    assert missing == []


def render(error: Exception) -> tuple[str | None, str, str | None, dict[str, str], str | None]:
    element = xe.error_element(error)
    assert element.tag == "{jabber:component:accept}error"
    conditions = [c for c in element if c.tag.startswith(STANZAS) and c.tag != f"{STANZAS}text"]
    assert len(conditions) == 1
    pubsub = [c for c in element if c.tag.startswith(PUBSUB_ERRORS)]
    assert len(pubsub) <= 1
    return (
        element.get("type"),
        conditions[0].tag.removeprefix(STANZAS),
        pubsub[0].tag.removeprefix(PUBSUB_ERRORS) if pubsub else None,
        dict(pubsub[0].attrib) if pubsub else {},
        element.findtext(f"{STANZAS}text"),
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (se.NodeIdRequired(), ("modify", "bad-request", "nodeid-required")),
        (se.ItemRequired(), ("modify", "bad-request", "item-required")),
        (se.PayloadRequired("n"), ("modify", "bad-request", "payload-required")),
        (se.InvalidJid("b@x", "a@x"), ("modify", "bad-request", "invalid-jid")),
        (xe.MalformedJid("a@b@c"), ("modify", "bad-request", "invalid-jid")),
        (xe.JidRequired(), ("modify", "bad-request", "jid-required")),
        (se.SubIdRequired("n"), ("modify", "bad-request", "subid-required")),
        (se.ItemForbidden("n"), ("modify", "bad-request", "item-forbidden")),
        (se.InvalidPayload("bad"), ("modify", "bad-request", "invalid-payload")),
        (xe.MalformedRequest("x"), ("modify", "bad-request", None)),
        (se.BadRequest("x"), ("modify", "bad-request", None)),
        (se.NodeNotFound("n"), ("cancel", "item-not-found", None)),
        (se.ItemNotFound("n", "i"), ("cancel", "item-not-found", None)),
        (se.NodeExists("n"), ("cancel", "conflict", None)),
        (se.Forbidden("publish", "n"), ("auth", "forbidden", None)),
        (se.ClosedNode("n"), ("cancel", "not-allowed", "closed-node")),
        (se.NotSubscribed("n", "a@x"), ("cancel", "unexpected-request", "not-subscribed")),
        (se.InvalidSubId("n", "s"), ("modify", "not-acceptable", "invalid-subid")),
        (se.SubscriptionRequired("n"), ("auth", "not-authorized", "not-subscribed")),
        (
            se.PendingSubscription("n", "a@x"),
            ("auth", "not-authorized", "pending-subscription"),
        ),
        (se.NotPending("n", "s"), ("cancel", "item-not-found", None)),
        (se.InvalidNodeConfig("pubsub#max_items", "no"), ("modify", "not-acceptable", None)),
        (
            se.InvalidNodeConfig("pubsub#access_model", "'roster' is not one of open, whitelist"),
            ("modify", "not-acceptable", "unsupported-access-model"),
        ),
        (
            se.PreconditionNotMet("pubsub#title", "x"),
            ("cancel", "conflict", "precondition-not-met"),
        ),
        (se.PayloadTooBig(10, 5), ("modify", "not-acceptable", "payload-too-big")),
        (
            se.Unsupported("subscription-options"),
            ("cancel", "feature-not-implemented", "unsupported"),
        ),
        (xe.UnknownRequest("<x/>"), ("cancel", "feature-not-implemented", None)),
        (xe.ServiceUnavailable("urn:x"), ("cancel", "service-unavailable", None)),
    ],
)
def test_error_renders_type_condition_and_pubsub_condition(
    error: Exception, expected: tuple[str, str, str | None]
) -> None:
    assert render(error)[:3] == expected


def test_unsupported_names_the_feature() -> None:
    assert render(se.Unsupported("retrieve-default-sub"))[3] == {"feature": "retrieve-default-sub"}


@pytest.mark.parametrize(
    "error",
    [
        se.InvalidNodeConfig("pubsub#max_items", "'x' is not a positive integer"),
        se.PreconditionNotMet("pubsub#access_model", "node has 'open'"),
    ],
)
def test_field_errors_name_the_field_in_the_text(
    error: se.InvalidNodeConfig | se.PreconditionNotMet,
) -> None:
    text = render(error)[4]
    assert text is not None
    assert error.field in text


def test_an_unexpected_exception_is_an_internal_error_without_details() -> None:
    assert render(RuntimeError("secret stack"))[:3] == ("wait", "internal-server-error", None)
    assert render(RuntimeError("secret stack"))[4] is None


def test_a_new_subclass_falls_back_to_its_parents_row() -> None:
    class Odd(se.ItemRequired):
        pass

    try:
        assert render(Odd())[:3] == ("modify", "bad-request", "item-required")
    finally:
        del Odd


def test_error_iq_answers_the_request() -> None:
    request = ET.fromstring(
        "<iq xmlns='jabber:component:accept' type='set' id='x1' from='a@x.org/r' to='ps.x.org'/>"
    )
    reply = handlers.error_iq(request, xe.error_element(se.NodeNotFound("n")))
    assert reply.attrib == {"type": "error", "id": "x1", "from": "ps.x.org", "to": "a@x.org/r"}
    assert reply[0].tag == "{jabber:component:accept}error"
