"""Users of another XMPP server (``remote.test``, a second Prosody linked by s2s) use the
service like local users: discovery, subscriptions, events from XMPP and from Thoonk apps,
retrieval, every access model × affiliation × action of the local matrix, bad requests,
authorization requests and answers (either party remote), subscription options, node
archives (XEP-0313), job nodes (XEP-0254); node_creation = local keeps them out.

Each test goes through the service's code, so removing that code fails it (the matrix
fails with an outcast allowed in access.py; the creation test with node_creation = local
not checking the domain, or local_domains counting remote.test). The s2s link itself is
test infrastructure, no code of ours: the first test shows it works both ways, and fails
when the session's Prosody has no route to remote.test (the answer never comes back).
Runs on Prosody only: ``remote_prosody`` is linked to the session's Prosody.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.integration import test_access_matrix as matrix
from tests.integration import test_authorize as authorize
from tests.integration.bridge_fixtures import (
    ADMIN,
    EVENT,
    OWNER,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    StanzaError,
    config_form,
    find,
    form_values,
    ids_in,
    pubsub,
)
from tests.integration.bridges import started
from tests.integration.federation_fixtures import REMOTE_DOMAIN
from tests.integration.queueclients import JOB_NODE, RESULT, Worker, next_retract
from tests.integration.rosters import privileged, share_presence
from tests.integration.streams import Account, ClientFactory, disconnect, logged_in_client
from tests.integration.test_bridging import expect_item, payload_of
from tests.integration.test_mam import Archives, history
from tests.integration.test_subscription_options import options_form
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.disco import FEATURES, ROSTER_MODELS
from tools.localservers import ProsodyServer, RedisServer

INFO = f"<query xmlns='{ns.DISCO_INFO}'/>"


async def test_a_remote_user_discovers_the_service(
    bridge: Bridge, remote_pubsub_client: PubSubClientFactory
) -> None:
    """Through s2s both ways: the request reaches the component, its answer comes back."""
    await privileged(bridge)
    remote = await remote_pubsub_client()
    assert remote.jid.endswith(f"@{REMOTE_DOMAIN}")

    query = await remote.ok("get", INFO)

    identities = query.findall(ns.tag(ns.DISCO_INFO, "identity"))
    assert [(i.get("category"), i.get("type")) for i in identities] == [("pubsub", "service")]
    advertised = [f.get("var") for f in query.findall(ns.tag(ns.DISCO_INFO, "feature"))]
    assert advertised == [*FEATURES, *ROSTER_MODELS]


async def test_a_remote_subscriber_gets_events_retrieves_and_unsubscribes(
    pubsub_client: PubSubClientFactory,
    remote_pubsub_client: PubSubClientFactory,
    thoonk: AsyncThoonk,
) -> None:
    owner, remote = await pubsub_client(), await remote_pubsub_client()
    await owner.create("news")
    await owner.create("other")

    subscribed = await remote.subscribe("news")
    await remote.subscribe("other")

    subscription = find(subscribed, "subscription")
    assert (subscription.get("jid"), subscription.get("subscription")) == (remote.jid, "subscribed")
    await owner.publish("news", "from-xmpp", "<entry xmlns='urn:t'>hello</entry>")
    payload = payload_of(await expect_item(remote, "news", "from-xmpp"), "news")
    assert (payload.tag, payload.text) == ("{urn:t}entry", "hello")
    await (await thoonk.feed("news")).publish("<entry xmlns='urn:t'>app</entry>", "from-thoonk")
    payload = payload_of(await expect_item(remote, "news", "from-thoonk"), "news")
    assert (payload.tag, payload.text) == ("{urn:t}entry", "app")
    assert await remote.item_ids("news") == ["from-xmpp", "from-thoonk"]

    await remote.ok("set", pubsub(f"<unsubscribe node='news' jid='{remote.jid}'/>"))

    await owner.publish("news", "after-unsubscribe")
    await owner.publish("other", "still-subscribed")
    # One delivery queue keeps events in order: the next event is other's, news' was not sent.
    await expect_item(remote, "other", "still-subscribed")


async def test_a_remote_owner_hears_of_a_local_subscriber_and_manages_the_node(
    pubsub_client: PubSubClientFactory, remote_pubsub_client: PubSubClientFactory
) -> None:
    """A remote creator owns the node it created: owner requests and events work for it."""
    remote, local = await remote_pubsub_client(), await pubsub_client()
    await remote.create("theirs", {"pubsub#access_model": "whitelist"})
    await remote.affiliate("theirs", local.jid, "member")
    await local.subscribe("theirs")
    await remote.subscribe("theirs")

    await remote.publish("theirs", "i1")

    await expect_item(local, "theirs", "i1")
    await expect_item(remote, "theirs", "i1")
    subscriptions = await remote.ok("get", pubsub("<subscriptions node='theirs'/>", owner=True))
    jids = {s.get("jid") for s in subscriptions.iter(ns.tag(OWNER, "subscription"))}
    assert jids == {local.jid, remote.jid}


def owner_here_actor_there(
    local: PubSubClientFactory, remote: PubSubClientFactory
) -> PubSubClientFactory:
    """A factory whose first client (the matrix's owner) is local, every later one remote."""
    made = 0

    async def make() -> PubSubClient:
        nonlocal made
        made += 1
        return await (local() if made == 1 else remote())

    return make


@pytest.mark.parametrize("action", matrix.ACTIONS)
@pytest.mark.parametrize("affiliation", matrix.AFFILIATIONS)
@pytest.mark.parametrize("model", matrix.MODELS)
async def test_a_remote_user_is_treated_like_a_local_one(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    remote_pubsub_client: PubSubClientFactory,
    model: str,
    affiliation: str,
    action: str,
) -> None:
    """test_access_matrix.py's case itself (its models as they grow), the actor remote."""
    clients = owner_here_actor_there(pubsub_client, remote_pubsub_client)
    await matrix.test_access(bridge, clients, model, affiliation, action)


BAD_REQUESTS = [
    pytest.param(
        "set",
        pubsub("<subscribe node='news' jid='someone-else@localhost'/>"),
        ("modify", "bad-request", "invalid-jid"),
        id="subscribe-another-jid",
    ),
    pytest.param(
        "set",
        pubsub("<subscribe jid='{jid}'/>"),
        ("modify", "bad-request", "nodeid-required"),
        id="subscribe-without-node",
    ),
    pytest.param(
        "set",
        pubsub("<subscribe node='missing' jid='{jid}'/>"),
        ("cancel", "item-not-found", None),
        id="subscribe-missing-node",
    ),
    pytest.param(
        "set",
        pubsub(
            "<publish node='news'><item id='a'><x xmlns='urn:t'/><y xmlns='urn:t'/></item>"
            "</publish>"
        ),
        ("modify", "bad-request", "invalid-payload"),
        id="publish-two-payloads",
    ),
    pytest.param(
        "set",
        pubsub(f"<configure node='news'>{config_form({'pubsub#title': 'x'})}</configure>", True),
        ("auth", "forbidden", None),
        id="configure-not-owner",
    ),
]


@pytest.mark.parametrize(("kind", "payload", "error"), BAD_REQUESTS)
async def test_a_remote_users_bad_request_gets_the_right_error_and_changes_nothing(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    remote_pubsub_client: PubSubClientFactory,
    kind: str,
    payload: str,
    error: tuple[str, str, str | None],
) -> None:
    owner, remote = await pubsub_client(), await remote_pubsub_client()
    await owner.create("news", {"pubsub#publish_model": "open"})

    refused = await bridge.refuses(remote, kind, payload.replace("{jid}", remote.jid))

    assert refused == error


async def test_only_local_users_create_nodes_by_default(
    prosody: ProsodyServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    remote_prosody: ProsodyServer,
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
) -> None:
    """``node_creation = "local"`` (the default) means the component's parent domain."""
    settings = Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
            },
            "redis": {"url": redis_server.url},
        }
    )
    password = secrets.token_urlsafe(12)
    remote_account = remote_prosody.register(f"creator-{secrets.token_hex(4)}", password)
    remote_xmpp = await logged_in_client(remote_prosody, remote_account, password, ())
    try:
        async with started(settings) as running:
            service_jid = running.component.jid
            local = PubSubClient(await xmpp_client(*make_account(), plugins=()), service_jid)
            remote = PubSubClient(remote_xmpp, service_jid)
            before = await redis_client.keys("*")

            refused = await remote.fails("set", pubsub("<create node='remote-made'/>"))

            assert refused == ("auth", "forbidden")
            assert await redis_client.keys("*") == before
            await local.create("local-made")
            assert await local.item_ids("local-made") == []
    finally:
        await disconnect(remote_xmpp)


async def test_events_reach_every_remote_resource_that_is_available(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    remote_prosody: ProsodyServer,
) -> None:
    """Events go to the subscribed bare JID (notifications.py), not to the resource that
    subscribed; the remote server hands them to each of its available resources."""
    owner = await pubsub_client()
    password = secrets.token_urlsafe(12)
    jid = remote_prosody.register(f"resources-{secrets.token_hex(4)}", password)
    phone = await logged_in_client(remote_prosody, f"{jid}/phone", password, ())
    laptop = await logged_in_client(remote_prosody, f"{jid}/laptop", password, ())
    try:
        first, second = PubSubClient(phone, bridge.jid), PubSubClient(laptop, bridge.jid)
        await owner.create("shared")
        await first.subscribe("shared")

        await owner.publish("shared", "both")

        messages = await asyncio.gather(
            expect_item(first, "shared", "both"), expect_item(second, "shared", "both")
        )
        assert [m.get("to") for m in messages] == [jid, jid]
    finally:
        await asyncio.gather(disconnect(phone), disconnect(laptop))


async def test_a_remote_subscriber_sets_options_that_act_on_its_events(
    pubsub_client: PubSubClientFactory, remote_pubsub_client: PubSubClientFactory
) -> None:
    """Subscription options (service/sub_options.py) of a remote subscription: set, read
    back, and obeyed (deliver = 0 sends nothing; the next event is the other node's)."""
    owner, remote = await pubsub_client(), await remote_pubsub_client()
    await owner.create("quiet")
    await owner.create("loud")
    await remote.subscribe("loud")
    subscribed = await remote.ok(
        "set",
        pubsub(
            f"<subscribe node='quiet' jid='{remote.jid}'/>"
            f"<options>{options_form({'pubsub#deliver': '0'})}</options>"
        ),
    )
    subid = find(subscribed, "subscription").get("subid")

    read = await remote.ok("get", pubsub(f"<options node='quiet' jid='{remote.jid}'/>"))

    options = find(read, "options")
    assert options.get("subid") == subid
    assert form_values(options.find(ns.tag(ns.DATA, "x")))["pubsub#deliver"] == ["0"]
    await owner.publish("quiet", "unheard")
    await owner.publish("loud", "heard")
    await expect_item(remote, "loud", "heard")


async def test_a_remote_user_reads_a_node_archive_and_an_outsider_may_not(
    pubsub_client: PubSubClientFactory, remote_pubsub_client: PubSubClientFactory
) -> None:
    """XEP-0313 on nodes (the archive code) for a remote reader: the result messages reach
    its full JID over s2s before the iq result; a whitelist node's archive is refused to a
    remote outsider like a local one (closed-node), with nothing sent."""
    owner, reader = await pubsub_client(), await remote_pubsub_client()
    ids = await history(owner, "blog", 3)
    await owner.create("private", {"pubsub#access_model": "whitelist"})
    archives = Archives(reader, "blog")

    results, fin = await archives.query()

    assert [r.item_id for r in results] == ids
    assert {r.to for r in results} == {reader.full_jid}
    assert fin.complete == "true"
    closed = Archives(reader, "private")
    refused = await reader.fails("set", closed.query_xml())
    assert refused == ("cancel", "not-allowed", "closed-node")
    await closed.nothing_arrived()


async def test_a_remote_worker_finishes_jobs_and_going_offline_gives_its_job_back(
    pubsub_client: PubSubClientFactory, remote_pubsub_client: PubSubClientFactory
) -> None:
    """Job nodes (XEP-0254) with a worker on the other server: it is handed a job, its
    result reaches the local publisher, and when it goes offline the unavailable presence
    its server sends over s2s (after its directed presence) gives its next job back to a
    local worker at once (xmpp/queue_messages.py), not after the 60 s claim timeout."""
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    remote = Worker(await remote_pubsub_client(), "jobs")
    await remote.join()
    await owner.publish("jobs", "j1", "<task xmlns='urn:t'>one</task>")
    job_id, payload = await remote.next_job()
    assert (job_id, payload.text) == ("j1", "one")
    assert (await remote.finish("j1", "<done xmlns='urn:t'/>")).get("type") == "result"
    told = await next_retract(owner)
    assert told.get("id") == "j1" and told.find(f"{{{RESULT}}}result/{{urn:t}}done") is not None
    await owner.publish("jobs", "j2")
    assert (await remote.next_job())[0] == "j2"
    local = Worker(await pubsub_client(), "jobs")
    await local.join()

    await disconnect(remote.client.xmpp)

    assert (await local.next_job())[0] == "j2"


async def test_a_job_bounced_by_the_remote_server_goes_to_another_worker(
    bridge: Bridge, pubsub_client: PubSubClientFactory, remote_prosody: ProsodyServer
) -> None:
    """A subscription of an account the remote server does not have: that server bounces
    the job's message over s2s (service-unavailable from the ghost's JID), which gives the
    job back and ends the subscription (the queue nodes' bounce handling), as for a local
    ghost."""
    owner = await pubsub_client()
    # (servers bounce normal messages to accounts that do not exist; headlines they drop)
    await owner.create("work", {**JOB_NODE, "pubsub#notification_type": "normal"})
    ghost = f"ghost-{secrets.token_hex(4)}@{REMOTE_DOMAIN}"
    await bridge.service.subscribe(Actor(ADMIN), "work", ghost, {"pubsub#queue_requests": ["1"]})
    await owner.publish("work", "j1")
    worker = Worker(await pubsub_client(), "work")

    await worker.join()

    assert (await worker.next_job())[0] == "j1"
    assert [s.jid for s in await bridge.service.store.subscriptions("work")] == [worker.client.jid]


@pytest.mark.parametrize("remote_side", ["subscriber", "owner"])
@pytest.mark.parametrize("allow", ["true", "false"])
async def test_authorize_requests_and_answers_cross_servers(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    remote_pubsub_client: PubSubClientFactory,
    remote_side: str,
    allow: str,
) -> None:
    """The authorize model (service/ and xmpp/ authorization code) with one party remote:
    the request's form reaches the owner, the owner's answering message reaches the
    service, the outcome reaches the subscriber, each over s2s; a forged answer from the
    other server is refused like a local one and changes nothing."""
    local, remote = await pubsub_client(), await remote_pubsub_client()
    owner, stranger = (local, remote) if remote_side == "subscriber" else (remote, local)
    _, subid = await authorize.pending_request(owner, stranger)
    refused = authorize.errors_of(stranger)
    before = await bridge.state()
    authorize.answer(stranger, authorize.approval("n", stranger.jid, subid))  # not an owner
    assert StanzaError.of(await refused.next()) == ("auth", "forbidden")
    assert await bridge.state() == before

    authorize.answer(owner, authorize.approval("n", stranger.jid, subid, allow))

    told = authorize.told_to(await stranger.next_event())
    state = "subscribed" if allow == "true" else "none"
    assert told == {"node": "n", "jid": stranger.jid, "subscription": state, "subid": subid}
    if allow == "true":
        assert await stranger.item_ids("n") == ["i1"]
        await owner.publish("n", "i2")
        assert ids_in(await stranger.next_event(), EVENT) == ["i2"]
    else:
        assert await authorize.listed(owner, "n") == []


async def test_a_remote_contact_is_let_into_a_presence_node(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    remote_pubsub_client: PubSubClientFactory,
) -> None:
    """Access model presence: the local owner's roster (read through mod_privilege) counts a
    remote user subscribed to the owner's presence over s2s, as it counts a local one."""
    await privileged(bridge)
    owner, friend = await pubsub_client(), await remote_pubsub_client()
    stranger = await remote_pubsub_client()
    await owner.create("n", matrix.CREATION["presence"])
    await owner.publish("n", "i1")
    await share_presence(bridge, owner, friend)

    await friend.ok("set", pubsub(f"<subscribe node='n' jid='{friend.jid}'/>"))
    assert ids_in(await friend.ok("get", pubsub("<items node='n'/>"))) == ["i1"]
    refusal = await bridge.refuses(stranger, "get", pubsub("<items node='n'/>"))
    assert refusal == ("auth", "not-authorized", "presence-subscription-required")
