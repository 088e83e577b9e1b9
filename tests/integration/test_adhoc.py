"""XEP-0050 ad-hoc commands over real Prosody, the component and Redis: discovery, the
service admins' commands, sessions, stages and every refusal (which changes nothing)."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator

import pytest

from tests.integration.bridge_fixtures import (
    ADMIN,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    form_values,
    pubsub,
)
from tests.integration.streams import ClientFactory
from thoonk_xmpp.xmpp import adhoc, ns
from thoonk_xmpp.xmpp.admin_commands import ADMIN as ADMIN_NS
from thoonk_xmpp.xmpp.forms import FieldType
from thoonk_xmpp.xmpp.handlers import Context

CMD = ns.COMMANDS
ADMIN_COMMANDS = [
    f"{ADMIN_NS}#list-nodes",
    f"{ADMIN_NS}#node-stats",
    f"{ADMIN_NS}#delete-node",
    f"{ADMIN_NS}#purge-node",
    f"{ADMIN_NS}#set-affiliation",
]


AdminLogin = Callable[[], Awaitable[PubSubClient]]


@pytest.fixture
def admin_login(bridge: Bridge, xmpp_client: ClientFactory) -> AdminLogin:
    """Factory: the service admin (``ADMIN``) logged in, one more resource each call."""
    user, _, _ = ADMIN.partition("@")
    password = secrets.token_urlsafe(12)
    bridge.server.register(user, password)

    async def login() -> PubSubClient:
        return PubSubClient(await xmpp_client(ADMIN, password, plugins=()), bridge.jid)

    return login


@pytest.fixture
async def admin(admin_login: AdminLogin) -> PubSubClient:
    return await admin_login()


def command(node: str, action: str | None = None, sessionid: str | None = None, x: str = "") -> str:
    attrs = f" node='{node}'"
    attrs += f" action='{action}'" if action else ""
    attrs += f" sessionid='{sessionid}'" if sessionid else ""
    return f"<command xmlns='{CMD}'{attrs}>{x}</command>"


def submit(fields: dict[str, str | list[str]]) -> str:
    parts = []
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        parts.append(
            f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
        )
    return f"<x xmlns='{ns.DATA}' type='submit'>{''.join(parts)}</x>"


def error_of(reply: ET.Element) -> tuple[str, str, str | None]:
    """(type, stanza condition, XEP-0050 condition) of an error reply."""
    assert reply.get("type") == "error", ET.tostring(reply).decode()
    error = reply.find("{jabber:client}error")
    assert error is not None
    condition = next(
        c.tag
        for c in error
        if c.tag.startswith(f"{{{ns.STANZAS}}}") and not c.tag.endswith("}text")
    )
    specific = [c.tag for c in error if c.tag.startswith(f"{{{CMD}}}")]
    return (
        error.get("type", ""),
        ns.split(condition)[1],
        ns.split(specific[0])[1] if specific else None,
    )


async def started(client: PubSubClient, node: str) -> tuple[str, ET.Element]:
    """Execute ``node``; it must answer executing with a form. (sessionid, the form)."""
    answer = await client.ok("set", command(node))
    assert answer.get("status") == "executing", ET.tostring(answer).decode()
    x = answer.find(ns.tag(ns.DATA, "x"))
    assert x is not None
    return answer.get("sessionid", ""), x


async def completed(
    client: PubSubClient, node: str, fields: dict[str, str | list[str]]
) -> ET.Element:
    sessionid, _ = await started(client, node)
    answer = await client.ok("set", command(node, "complete", sessionid, submit(fields)))
    assert answer.get("status") == "completed", ET.tostring(answer).decode()
    assert answer.get("sessionid") == sessionid
    return answer


def result_of(answer: ET.Element) -> dict[str, list[str]]:
    return form_values(answer.find(ns.tag(ns.DATA, "x")))


async def listed(client: PubSubClient) -> list[tuple[str | None, str | None]]:
    query = await client.ok("get", f"<query xmlns='{ns.DISCO_ITEMS}' node='{CMD}'/>")
    return [(i.get("node"), i.get("name")) for i in query.findall(ns.tag(ns.DISCO_ITEMS, "item"))]


# --- discovery --------------------------------------------------------------------------------


async def test_an_admin_sees_the_admin_commands_and_others_see_none(
    admin: PubSubClient, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    assert [node for node, _ in await listed(admin)] == ADMIN_COMMANDS
    assert all(name for _, name in await listed(admin))
    assert await listed(alice) == []


async def test_disco_info_describes_a_command_to_those_who_may_run_it(
    admin: PubSubClient, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    node = f"{ADMIN_NS}#purge-node"
    ask = f"<query xmlns='{ns.DISCO_INFO}' node='{node}'/>"

    info = await admin.ok("get", ask)
    identity = info.find(ns.tag(ns.DISCO_INFO, "identity"))
    features = {f.get("var") for f in info.findall(ns.tag(ns.DISCO_INFO, "feature"))}

    assert identity is not None
    assert (identity.get("category"), identity.get("type")) == ("automation", "command-node")
    assert features == {CMD, ns.DATA}
    assert (await alice.fails("get", ask)).condition == "item-not-found"


async def test_the_service_advertises_commands(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    info = await alice.ok("get", f"<query xmlns='{ns.DISCO_INFO}'/>")
    assert CMD in {f.get("var") for f in info.findall(ns.tag(ns.DISCO_INFO, "feature"))}


# --- the admin commands -----------------------------------------------------------------------


async def test_list_nodes(admin: PubSubClient, pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    await alice.create("b-node")
    await alice.create("a-node")

    answer = await admin.ok("set", command(f"{ADMIN_NS}#list-nodes"))

    assert answer.get("status") == "completed"
    assert answer.get("sessionid")
    assert result_of(answer)["nodes"] == ["a-node", "b-node"]
    assert answer.findtext(ns.tag(CMD, "note")) == "2 nodes"


async def test_node_statistics(admin: PubSubClient, pubsub_client: PubSubClientFactory) -> None:
    alice, bob = await pubsub_client(), await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "1")
    await alice.publish("news", "2")
    await bob.subscribe("news")
    await bob.ok("set", pubsub(f"<subscribe node='news' jid='{bob.full_jid}'/>"))
    await alice.affiliate("news", bob.jid, "publisher")

    sessionid, x = await started(admin, f"{ADMIN_NS}#node-stats")
    fields = {f.get("var"): f for f in x.findall(ns.tag(ns.DATA, "field"))}
    assert fields["node"].find(ns.tag(ns.DATA, "required")) is not None
    answer = await admin.ok(
        "set", command(f"{ADMIN_NS}#node-stats", "execute", sessionid, submit({"node": "news"}))
    )

    assert answer.get("status") == "completed"
    values = result_of(answer)
    assert values["FORM_TYPE"] == [ADMIN_NS]
    assert {k: v for k, v in values.items() if k != "FORM_TYPE"} == {
        "node": ["news"],
        "items": ["2"],
        "subscribers": ["1"],
        "subscriptions": ["2"],
        "affiliations": ["2"],
    }


async def test_delete_node(
    bridge: Bridge, admin: PubSubClient, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("doomed")
    await alice.subscribe("doomed")

    await completed(
        admin, f"{ADMIN_NS}#delete-node", {"node": "doomed", "redirect": "xmpp:x@localhost"}
    )

    event = await alice.next_event()
    delete = event.find(f".//{{{ns.PUBSUB}#event}}delete")
    assert delete is not None and delete.get("node") == "doomed"
    assert not await bridge.thoonk.feed_exists("doomed")


async def test_purge_node(
    bridge: Bridge, admin: PubSubClient, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("full")
    await alice.publish("full", "1")

    answer = await completed(admin, f"{ADMIN_NS}#purge-node", {"node": "full"})

    assert answer.findtext(ns.tag(CMD, "note")) == "purged 'full'"
    assert await bridge.stored("full") == {}


async def test_set_affiliation(admin: PubSubClient, pubsub_client: PubSubClientFactory) -> None:
    alice, bob = await pubsub_client(), await pubsub_client()
    await alice.create("n", {"pubsub#access_model": "whitelist"})

    await completed(
        admin,
        f"{ADMIN_NS}#set-affiliation",
        {"node": "n", "jid": bob.jid, "affiliation": "member"},
    )

    affiliations = await alice.ok("get", pubsub("<affiliations node='n'/>", owner=True))
    found = {
        a.get("jid"): a.get("affiliation")
        for a in affiliations.iter(ns.tag(ns.PUBSUB_OWNER, "affiliation"))
    }
    assert found == {alice.jid: "owner", bob.jid: "member"}
    await bob.subscribe("n")  # a member may subscribe to a whitelist node


# --- refusals: each answers clearly and changes nothing ---------------------------------------


async def test_a_non_admin_is_forbidden_every_admin_command(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("mine")

    for node in ADMIN_COMMANDS:
        before = await bridge.state()
        reply = await alice.send("set", command(node))
        assert error_of(reply) == ("cancel", "forbidden", None)
        assert await bridge.state() == before


@pytest.mark.parametrize(
    ("node", "fields", "expected"),
    [
        ("purge-node", {"node": "nowhere"}, ("cancel", "item-not-found", None)),
        ("delete-node", {"node": "nowhere"}, ("cancel", "item-not-found", None)),
        ("node-stats", {"node": "nowhere"}, ("cancel", "item-not-found", None)),
        ("purge-node", {}, ("modify", "bad-request", "bad-payload")),
        (
            "set-affiliation",
            {"node": "kept", "jid": "a@b@c", "affiliation": "member"},
            ("modify", "bad-request", "bad-payload"),
        ),
        (
            "set-affiliation",
            {"node": "kept", "jid": "bob@localhost/phone", "affiliation": "member"},
            ("modify", "bad-request", "bad-payload"),
        ),
        (
            "set-affiliation",
            {"node": "kept", "jid": "bob@localhost", "affiliation": "emperor"},
            ("modify", "bad-request", "bad-payload"),
        ),
        (
            "set-affiliation",
            {"node": "nowhere", "jid": "bob@localhost", "affiliation": "member"},
            ("cancel", "item-not-found", None),
        ),
        (
            "set-affiliation",
            {"node": "kept", "jid": ["bob@localhost", "eve@localhost"], "affiliation": "member"},
            ("modify", "bad-request", "bad-payload"),
        ),
    ],
)
async def test_bad_input_is_refused_and_the_session_can_go_on(
    bridge: Bridge,
    admin: PubSubClient,
    pubsub_client: PubSubClientFactory,
    node: str,
    fields: dict[str, str | list[str]],
    expected: tuple[str, str, str | None],
) -> None:
    alice = await pubsub_client()
    await alice.create("kept")
    await alice.publish("kept", "1")
    sessionid, _ = await started(admin, f"{ADMIN_NS}#{node}")

    before = await bridge.state()
    reply = await admin.send(
        "set", command(f"{ADMIN_NS}#{node}", "complete", sessionid, submit(fields))
    )
    assert error_of(reply) == expected
    assert await bridge.state() == before

    # the session is still there: a corrected form completes it
    good = {"node": "kept", "jid": "bob@localhost", "affiliation": "member"}
    answer = await admin.ok(
        "set", command(f"{ADMIN_NS}#{node}", "complete", sessionid, submit(good))
    )
    assert answer.get("status") == "completed"


async def test_session_errors(bridge: Bridge, admin: PubSubClient, admin_login: AdminLogin) -> None:
    node = f"{ADMIN_NS}#purge-node"
    sessionid, _ = await started(admin, node)
    other_resource = await admin_login()
    cases = [
        (
            admin,
            command(node, "complete", "never-issued", submit({"node": "x"})),
            ("cancel", "not-allowed", "session-expired"),
        ),
        (admin, command(node, "jump", sessionid), ("modify", "bad-request", "malformed-action")),
        (admin, command(node, "next", sessionid), ("modify", "bad-request", "bad-action")),
        (admin, command(node, "prev", sessionid), ("modify", "bad-request", "bad-action")),
        (admin, command(node, "complete"), ("modify", "bad-request", "bad-action")),
        (admin, command(node, "complete", sessionid), ("modify", "bad-request", "bad-payload")),
        (
            admin,
            command(f"{ADMIN_NS}#node-stats", "complete", sessionid, submit({"node": "x"})),
            ("modify", "bad-request", "bad-sessionid"),
        ),
        (
            other_resource,
            command(node, "complete", sessionid, submit({"node": "x"})),
            ("modify", "bad-request", "bad-sessionid"),
        ),
        (admin, command("urn:nothing#here"), ("cancel", "item-not-found", None)),
        (admin, f"<command xmlns='{CMD}'/>", ("modify", "bad-request", None)),
    ]
    for client, payload, expected in cases:
        before = await bridge.state()
        assert error_of(await client.send("set", payload)) == expected, payload
        assert await bridge.state() == before

    canceled = await admin.ok("set", command(node, "cancel", sessionid))
    assert canceled.get("status") == "canceled"
    after_cancel = await admin.send(
        "set", command(node, "complete", sessionid, submit({"node": "x"}))
    )
    assert error_of(after_cancel) == ("cancel", "not-allowed", "session-expired")


# --- the framework: a two-stage command declared here ----------------------------------------


TWO_STAGES = "urn:test:adhoc#two-stages"


@pytest.fixture
def two_stage_command() -> Iterator[list[adhoc.Answers]]:
    """Declares a two-stage command anyone may run; yields the answers it was run with."""
    runs: list[adhoc.Answers] = []

    async def anyone(ctx: Context) -> bool:
        return True

    async def colours(ctx: Context) -> list[str]:
        return ["red", "green", ctx.actor.bare]

    @adhoc.command(
        TWO_STAGES,
        "Two stages",
        may_run=anyone,
        stages=(
            adhoc.Stage((adhoc.CommandField("name", FieldType.TEXT_SINGLE, "Name"),)),
            adhoc.Stage(
                (adhoc.CommandField("colour", FieldType.LIST_SINGLE, "Colour", options=colours),)
            ),
        ),
    )
    async def run(ctx: Context, answers: adhoc.Answers) -> adhoc.Outcome:
        runs.append(dict(answers))
        return adhoc.Outcome("done")

    try:
        yield runs
    finally:
        del adhoc.COMMANDS[TWO_STAGES]


def actions_of(answer: ET.Element) -> tuple[str | None, list[str]]:
    actions = answer.find(ns.tag(CMD, "actions"))
    assert actions is not None
    return actions.get("execute"), [ns.split(a.tag)[1] for a in actions]


async def test_next_prev_and_complete_through_two_stages(
    two_stage_command: list[adhoc.Answers], pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    assert (TWO_STAGES, "Two stages") in await listed(alice)

    first = await alice.ok("set", command(TWO_STAGES))
    sessionid = first.get("sessionid", "")
    assert actions_of(first) == ("next", ["next"])

    second = await alice.ok("set", command(TWO_STAGES, "next", sessionid, submit({"name": "n1"})))
    assert actions_of(second) == ("complete", ["complete", "prev"])
    options = [v.text for v in second.iter(ns.tag(ns.DATA, "value"))]
    assert options == ["red", "green", alice.jid]  # found for the asker

    back = await alice.ok("set", command(TWO_STAGES, "prev", sessionid))
    assert result_of(back)["name"] == ["n1"]  # what was answered is shown again
    await alice.ok("set", command(TWO_STAGES, "execute", sessionid, submit({"name": "n2"})))
    refused = await alice.send(
        "set", command(TWO_STAGES, "complete", sessionid, submit({"colour": "blue"}))
    )
    assert error_of(refused) == ("modify", "bad-request", "bad-payload")
    assert two_stage_command == []

    done = await alice.ok(
        "set", command(TWO_STAGES, "complete", sessionid, submit({"colour": "green"}))
    )

    assert done.get("status") == "completed"
    assert two_stage_command == [{"name": ["n2"], "colour": ["green"]}]
