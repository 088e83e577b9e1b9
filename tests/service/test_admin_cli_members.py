"""``thoonk-xmpp affiliations …``, ``subscriptions …`` and ``jobs stats`` against real Redis."""

from __future__ import annotations

import redis.asyncio as aioredis

from thoonk_xmpp.service.model import Affiliation, Subscription
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer

from .admincli import AdminCli
from .conftest import ALICE, BOB, OWNER
from .eventharness import ADMIN


async def test_affiliations_get_and_set(cli: AdminCli, service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    await service.create_node(OWNER, "m")
    set_ = await cli.ok("affiliations", "set", "n", "Alice@Example.org", "publisher", "--json")
    assert set_.json() == {"node": "n", "jid": ALICE.bare, "affiliation": "publisher"}
    await cli.ok("affiliations", "set", "m", ALICE.bare, "outcast")
    await service.create_node(OWNER, "gone")
    await cli.ok("affiliations", "set", "gone", ALICE.bare, "member")
    await service.delete_node(ADMIN, "gone")  # its affiliations stay until a bridge drops them
    assert await service.node_affiliations(ADMIN, "n") == {
        ALICE.bare: Affiliation.PUBLISHER,
        OWNER.bare: Affiliation.OWNER,
    }
    got = await cli.ok("affiliations", "get", "n", "--json")
    assert got.json() == {
        "node": "n",
        "affiliations": {ALICE.bare: "publisher", OWNER.bare: "owner"},
    }
    text = await cli.ok("affiliations", "get", "n")
    assert text.out == f"{ALICE.bare}\tpublisher\n{OWNER.bare}\towner\n"
    by_jid = await cli.ok("affiliations", "get", "--jid", ALICE.bare, "--json")
    assert by_jid.json() == {"jid": ALICE.bare, "affiliations": {"m": "outcast", "n": "publisher"}}
    await cli.ok("affiliations", "set", "n", ALICE.bare, "none")
    assert ALICE.bare not in await service.node_affiliations(ADMIN, "n")


async def test_bad_affiliation_input_is_named_and_changes_nothing(
    cli: AdminCli, redis_client: aioredis.Redis, service: PubSubService
) -> None:
    await service.create_node(OWNER, "n")
    refused = (
        ("'boss' is not one of owner, publisher", ("n", ALICE.bare, "boss")),
        ("'a b@example.org' is not a valid JID", ("n", "a b@example.org", "member")),
        ("'@example.org' is not a valid JID", ("n", "@example.org", "member")),
        ("is not a bare JID", ("n", "alice@example.org/phone", "member")),
    )
    for named, args in refused:
        await cli.refused(redis_client, 2, named, "affiliations", "set", *args)
    await cli.refused(redis_client, 2, "one of the arguments NODE --jid", "affiliations", "get")
    await cli.refused(
        redis_client, 2, "not allowed with", "affiliations", "get", "n", "--jid", "a@b"
    )


async def test_subscriptions_list_and_remove(
    cli: AdminCli, redis_client: aioredis.Redis, service: PubSubService
) -> None:
    await service.create_node(OWNER, "n")
    await service.create_node(OWNER, "m")
    phone, laptop = f"{ALICE.bare}/phone", f"{ALICE.bare}/laptop"
    on_phone = await service.subscribe(ALICE, "n", phone)
    on_laptop = await service.subscribe(ALICE, "n", laptop)
    bob_m = await service.subscribe(BOB, "m", BOB.bare)
    alice_m = await service.subscribe(ALICE, "m", ALICE.bare)
    # A deleted node's subscriptions stay until a running bridge has told its subscribers.
    await service.create_node(OWNER, "gone")
    await service.subscribe(ALICE, "gone", phone)
    await service.delete_node(ADMIN, "gone")

    def row(sub: Subscription) -> dict[str, str]:
        return {"node": sub.node, "jid": sub.jid, "subid": sub.subid, "subscription": "subscribed"}

    listed = await cli.ok("subscriptions", "list", "n", "--json")
    assert listed.json() == [row(on_laptop), row(on_phone)]
    everything = await cli.ok("subscriptions", "list", "--json")
    assert everything.json() == [row(s) for s in (alice_m, bob_m, on_laptop, on_phone)]
    text = await cli.ok("subscriptions", "list", "m")
    assert text.out == f"m\t{ALICE.bare}\t{alice_m.subid}\nm\t{BOB.bare}\t{bob_m.subid}\n"
    by_bare = await cli.ok("subscriptions", "list", "--jid", ALICE.bare, "--json")
    assert by_bare.json() == [row(s) for s in (alice_m, on_laptop, on_phone)]
    by_full = await cli.ok("subscriptions", "list", "--jid", phone, "--json")
    assert by_full.json() == [row(on_phone)]

    await cli.refused(
        redis_client,
        1,
        f"'{BOB.bare}' is not subscribed to 'n'",
        "subscriptions",
        "remove",
        "n",
        BOB.bare,
    )
    await cli.refused(
        redis_client,
        1,
        "no subscription 'nope' on 'n'",
        "subscriptions",
        "remove",
        "n",
        phone,
        "--subid",
        "nope",
    )
    await cli.refused(
        redis_client, 2, "'a b@c' is not a valid JID", "subscriptions", "remove", "n", "a b@c"
    )
    await cli.refused(
        redis_client, 2, "not allowed with", "subscriptions", "list", "n", "--jid", phone
    )

    removed = await cli.ok("subscriptions", "remove", "m", BOB.bare, "--json")
    assert removed.json() == row(bob_m)
    await cli.ok("subscriptions", "remove", "n", phone, "--subid", on_phone.subid)
    assert await service.node_subscriptions(ADMIN, "n") == [on_laptop]
    assert await service.node_subscriptions(ADMIN, "m") == [alice_m]


async def test_jobs_stats(
    cli: AdminCli, redis_client: aioredis.Redis, thoonk: AsyncThoonk, redis_server: RedisServer
) -> None:
    job = await thoonk.job("work")
    ids = [await job.put(f"t{n}".encode()) for n in range(5)]
    first = await job.get(block=False)
    await job.finish(first.id, b"done")
    second = await job.get(block=False)
    await job.cancel(second.id)  # back in line, one failure
    again = await job.get(block=False)
    await job.cancel(again.id)
    third = await job.get(block=False)
    await job.stall(third.id)
    await job.get(block=False)  # stays claimed
    queue = await thoonk.queue("inbox")
    await queue.put_many([b"a", b"b", b"c"])
    await (await thoonk.feed("news")).publish(b"x")
    assert len(ids) == 5

    stats = await cli.ok("jobs", "stats", "--json")
    work = {
        "feed": "work",
        "type": "job",
        "queued": 2,
        "claimed": 1,
        "stalled": 1,
        "finished": 1,
        "cancelled": 2,
    }
    inbox = {"feed": "inbox", "type": "queue", "length": 3}
    assert stats.json() == [inbox, work]
    one = await cli.ok("jobs", "stats", "work")
    assert one.out == "work\tjob\tqueued=2 claimed=1 stalled=1 finished=1 cancelled=2\n"
    # --redis alone is enough: jobs are Thoonk's, no settings needed.
    outcome = await cli("jobs", "stats", "inbox", "--redis", redis_server.url, config=False)
    assert outcome.status == 0 and outcome.out == "inbox\tqueue\tlength=3\n"

    await cli.refused(
        redis_client, 1, "feed 'news' is a feed, not a job or queue feed", "jobs", "stats", "news"
    )
    await cli.refused(redis_client, 1, "feed 'ghost' does not exist", "jobs", "stats", "ghost")
