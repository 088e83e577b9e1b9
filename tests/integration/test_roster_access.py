"""Access models presence and roster (XEP-0060 §4.5, §6.1.3.2-3, §6.5.9) over the real
Prosody with mod_privilege (config/prosody/thoonk-xmpp.cfg.lua), rosters made by the
accounts themselves; and what a server granting nothing gets (models not offered,
feature-not-implemented)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest

from tests.integration.bridge_fixtures import (
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    config_form,
    ids_in,
    pubsub,
)
from tests.integration.rosters import add_contact, privileged, share_presence, until
from thoonk_xmpp.service.privilege import Grants
from thoonk_xmpp.xmpp import ns

PRESENCE_REQUIRED = ("auth", "not-authorized", "presence-subscription-required")
NOT_IN_GROUP = ("auth", "not-authorized", "not-in-roster-group")
ACCESS = "pubsub#access_model"
GROUPS = "pubsub#roster_groups_allowed"
INFO = f"<query xmlns='{ns.DISCO_INFO}'/>"
MODELS = (f"{ns.PUBSUB}#access-presence", f"{ns.PUBSUB}#access-roster")


def features(query: object) -> set[str]:
    return {f.get("var", "") for f in query.iter(ns.tag(ns.DISCO_INFO, "feature"))}  # type: ignore[attr-defined]


def field_options(form: ET.Element, var: str) -> list[str]:
    """The options a form's field offers."""
    for field in form.iter(ns.tag(ns.DATA, "field")):
        if field.get("var") == var:
            options = field.findall(f"{ns.tag(ns.DATA, 'option')}/{ns.tag(ns.DATA, 'value')}")
            return [value.text or "" for value in options]
    raise AssertionError(f"no field {var}")


async def access_model_options(client: PubSubClient) -> list[str]:
    """The access models the default configuration form offers."""
    return field_options(await client.ok("get", pubsub("<default/>", owner=True)), ACCESS)


@ON_BOTH_SERVERS
async def test_the_privilege_is_granted_and_the_models_offered(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    await privileged(bridge)
    grants = await bridge.service.privileges.grants(bridge.server.domain)
    assert grants.reads_rosters
    client = await pubsub_client()
    assert set(MODELS) <= features(await client.ok("get", INFO))
    assert {"presence", "roster"} <= set(await access_model_options(client))


@ON_BOTH_SERVERS
async def test_a_presence_subscriber_of_the_owner_gets_in(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    await privileged(bridge)
    owner, friend, stranger = [await pubsub_client() for _ in range(3)]
    await owner.create("n", {"pubsub#access_model": "presence"})
    await owner.publish("n", "i1")
    await share_presence(bridge, owner, friend)

    await friend.subscribe("n")
    assert await friend.item_ids("n") == ["i1"]
    await owner.publish("n", "i2")  # the admitted subscriber is notified
    assert ids_in(await friend.next_event(), f"{ns.PUBSUB}#event") == ["i2"]
    assert await bridge.refuses(stranger, "get", pubsub("<items node='n'/>")) == PRESENCE_REQUIRED
    refusal = await bridge.refuses(
        stranger, "set", pubsub(f"<subscribe node='n' jid='{stranger.jid}'/>")
    )
    assert refusal == PRESENCE_REQUIRED


UNPRIVILEGED = pytest.mark.parametrize("xmpp_server", ["prosody_unprivileged"], indirect=True)


def not_implemented(feature: str) -> tuple[str, str, str, str]:
    return ("cancel", "feature-not-implemented", "unsupported", feature)


@UNPRIVILEGED
@pytest.mark.parametrize("model", ("presence", "roster"))
async def test_without_privilege_the_models_are_neither_offered_nor_made(
    bridge: Bridge, pubsub_client: PubSubClientFactory, model: str
) -> None:
    owner = await pubsub_client()
    assert not features(await owner.ok("get", INFO)) & set(MODELS)
    assert await access_model_options(owner) == ["open", "whitelist", "authorize"]
    refused = not_implemented(f"access-{model}")
    create = pubsub(f"<create node='n'/><configure>{config_form({ACCESS: model})}</configure>")
    assert await bridge.refuses(owner, "set", create) == refused
    await owner.create("n")
    configure = pubsub(f"<configure node='n'>{config_form({ACCESS: model})}</configure>", True)
    assert await bridge.refuses(owner, "set", configure) == refused


@UNPRIVILEGED
@pytest.mark.parametrize("model", ("presence", "roster"))
async def test_without_privilege_a_node_of_the_model_cannot_be_used(
    bridge: Bridge, pubsub_client: PubSubClientFactory, model: str
) -> None:
    """A node made while the server granted the privilege, used when it no longer does."""
    owner, other = [await pubsub_client() for _ in range(2)]
    await owner.create("n")
    await owner.publish("n", "i1")
    await bridge.thoonk.set_config("n", {ACCESS: model})
    refused = not_implemented(f"access-{model}")
    assert await bridge.refuses(other, "get", pubsub("<items node='n'/>")) == refused
    subscribe = pubsub(f"<subscribe node='n' jid='{other.jid}'/>")
    assert await bridge.refuses(other, "set", subscribe) == refused
    assert await owner.item_ids("n") == ["i1"]  # owners are not held back


@UNPRIVILEGED
async def test_grants_heard_on_an_earlier_connection_do_not_outlive_it(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    """The server stopped granting (here: it never did) and the component reconnects."""
    await bridge.component.disconnect()
    await bridge.service.privileges.record(bridge.server.domain, Grants(roster="get"))
    assert await bridge.service.rosters.offered()
    await bridge.component.connect()

    async def withdrawn() -> bool:
        return not await bridge.service.rosters.offered()

    await until(withdrawn, "the old grants are forgotten")
    client = await pubsub_client()
    assert not features(await client.ok("get", INFO)) & set(MODELS)


async def test_the_owners_roster_groups_are_the_choices_of_roster_groups_allowed(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    await privileged(bridge)
    owner, friend, cousin = [await pubsub_client() for _ in range(3)]
    await add_contact(owner, friend.jid, ["friends", "work"])
    await add_contact(owner, cousin.jid, ["family"])
    await owner.create("n", {ACCESS: "roster", GROUPS: ["book club"]})

    configure = await owner.ok("get", pubsub("<configure node='n'/>", owner=True))
    assert field_options(configure, GROUPS) == ["book club", "family", "friends", "work"]
    default = await owner.ok("get", pubsub("<default/>", owner=True))
    assert field_options(default, GROUPS) == ["family", "friends", "work"]


@pytest.mark.parametrize("xmpp_server", ["ejabberd"], indirect=True)
async def test_a_privilege_advertisement_forged_by_a_user_is_ignored(
    bridge: Bridge, pubsub_client: PubSubClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the server's own domain may grant: a user claiming to is dropped and logged.
    (Prosody's mod_privilege already refuses such a message; ejabberd passes it on.)"""
    caplog.set_level(logging.WARNING, logger="thoonk_xmpp.xmpp.privilege")
    await privileged(bridge)
    mallory = await pubsub_client()
    mallory.xmpp.send_raw(
        f"<message to='{bridge.server.component_jid}'>"
        "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/>"
        "<perm access='presence' type='roster'/></privilege></message>"
    )

    async def handled() -> bool:
        ignored = any("privilege advertisement" in r.getMessage() for r in caplog.records)
        return ignored or len(await bridge.service.privileges.all()) > 1

    await until(handled, "the forged advertisement is handled")
    assert set(await bridge.service.privileges.all()) == {bridge.server.domain}
    assert bridge.component.connected.is_set()
    assert set(MODELS) <= features(await mallory.ok("get", INFO))  # the link still answers
