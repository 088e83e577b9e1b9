"""``thoonk-xmpp nodes …``, the settings the admin commands use, and a running service
seeing what they change (its node cache is kept fresh by the notices they send)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.service.access import Action
from thoonk_xmpp.service.errors import ClosedNode, Forbidden, NodeNotFound
from thoonk_xmpp.service.model import AccessModel, Affiliation
from thoonk_xmpp.service.node_config import FIELDS
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import keys
from tools.localservers import RedisServer, free_port

from .admincli import AdminCli, write_settings
from .conftest import ALICE, BOB, OWNER
from .eventharness import ADMIN
from .test_node_states import CountedLoads, settle, until_refused_with


async def test_create_an_ordered_node(cli: AdminCli, service: PubSubService) -> None:
    made = await cli.ok("nodes", "create", "list", "--set", "node_kind=sorted_feed", "--json")
    assert made.json()["config"]["thoonkx#node_kind"] == "sorted_feed"
    await service.publish(ADMIN, "list", [("b", b"<b/>")])
    await service.publish(ADMIN, "list", [("a", b"<a/>")], {"thoonkx#position_at": ["start"]})
    assert (await cli.ok("nodes", "info", "list", "--json")).json()["items"] == 2
    await cli.ok("nodes", "create", "other", "--set", "thoonkx#node_kind=sorted_feed")
    assert (await service.get_config(ADMIN, "other")).node_kind == "sorted_feed"


async def test_create_info_list_purge_delete(cli: AdminCli, service: PubSubService) -> None:
    made = await cli.ok(
        "nodes", "create", "news", "--set", "max_items=10", "--set", "pubsub#title=News", "--json"
    )
    report = made.json()
    assert report["node"] == "news"
    assert report["creator"] == ADMIN.bare
    assert report["creation_date"].endswith("Z")
    assert (report["items"], report["subscriptions"], report["affiliations"]) == (0, 0, 1)
    assert report["config"]["pubsub#max_items"] == "10"
    assert report["config"]["pubsub#title"] == "News"
    assert report["config"]["pubsub#access_model"] == "open"
    assert len(report["config"]) == len(FIELDS)  # every node option the service honours
    config = await service.get_config(ADMIN, "news")
    assert (config.max_items, config.title) == (10, "News")
    assert await service.node_affiliations(ADMIN, "news") == {ADMIN.bare: Affiliation.OWNER}

    await service.publish(ADMIN, "news", [("1", b"<a/>"), ("2", b"<b/>")])
    await service.subscribe(ALICE, "news", ALICE.bare)
    info = await cli.ok("nodes", "info", "news", "--json")
    assert {k: info.json()[k] for k in ("items", "subscriptions", "affiliations")} == {
        "items": 2,
        "subscriptions": 1,
        "affiliations": 1,
    }
    text = (await cli.ok("nodes", "info", "news")).out.splitlines()
    assert text[:6] == [
        "node: news",
        f"creator: {ADMIN.bare}",
        f"created: {report['creation_date']}",
        "items: 2",
        "subscriptions: 1",
        "affiliations: 1",
    ]
    assert "config:" in text and "  pubsub#max_items: 10" in text

    await service.create_node(OWNER, "alpha")
    assert (await cli.ok("nodes", "list")).out == "alpha\nnews\n"
    assert (await cli.ok("nodes", "list", "--json")).json() == ["alpha", "news"]

    assert (await cli.ok("nodes", "purge", "news", "--json")).json() == {
        "node": "news",
        "purged": True,
    }
    assert (await service.get_items(ADMIN, "news")).items == []
    assert (await cli.ok("nodes", "delete", "news")).out == "deleted news\n"
    with pytest.raises(NodeNotFound):
        await service.get_config(ADMIN, "news")
    assert (await cli.ok("nodes", "list", "--json")).json() == ["alpha"]


async def test_create_parses_options_as_xmpp_configure_does(
    cli: AdminCli, redis_client: aioredis.Redis, service: PubSubService
) -> None:
    await cli.ok(
        "nodes", "create", "w", "--set", "access_model=whitelist", "--set", "max_items=max"
    )
    config = await service.get_config(ADMIN, "w")
    assert (config.access_model, config.max_items) == (AccessModel.WHITELIST, None)
    # Refused values are named, and nothing is written.
    for option, named in (
        ("colour=blue", "pubsub#colour: unknown or unsupported field"),
        ("max_items=many", "pubsub#max_items: 'many' is not a positive integer"),
        ("access_model=secret", "pubsub#access_model: 'secret' is not one of open, whitelist"),
        ("deliver_payloads=maybe", "pubsub#deliver_payloads: 'maybe' is not a boolean"),
    ):
        await cli.refused(redis_client, 1, named, "nodes", "create", "x", "--set", option)
    await cli.refused(
        redis_client,
        1,
        "pubsub#title: takes a single value",
        *("nodes", "create", "x", "--set", "title=a", "--set", "title=b"),
    )
    await cli.refused(
        redis_client, 2, "'title' is not OPTION=VALUE", "nodes", "create", "x", "--set", "title"
    )
    await cli.refused(redis_client, 1, "node 'w' already exists", "nodes", "create", "w")


async def test_unknown_nodes_are_named_and_nothing_changes(
    cli: AdminCli, redis_client: aioredis.Redis, service: PubSubService
) -> None:
    await service.create_node(OWNER, "real")
    await service.subscribe(ALICE, "real", ALICE.bare)
    await service.thoonk.create_feed("work", {"type": "pyqueue"})
    for command in (
        ("nodes", "info", "ghost"),
        ("nodes", "delete", "ghost"),
        ("nodes", "purge", "ghost"),
        ("affiliations", "get", "ghost"),
        ("affiliations", "set", "ghost", ALICE.bare, "member"),
        ("subscriptions", "list", "ghost"),
        ("subscriptions", "remove", "ghost", ALICE.bare),
    ):
        outcome = await cli.refused(redis_client, 1, "node 'ghost' does not exist", *command)
        assert outcome.err == "thoonk-xmpp: error: node 'ghost' does not exist\n"
    # A thoonk.py pickle queue is a Thoonk feed but not a node.
    await cli.refused(redis_client, 1, "node 'work' does not exist", "nodes", "purge", "work")


async def test_settings_problems_are_usage_errors(
    cli: AdminCli, redis_client: aioredis.Redis, tmp_path: Path, redis_server: RedisServer
) -> None:
    missing = str(tmp_path / "nowhere.toml")
    outcome = await cli("nodes", "list", "--config", missing, config=False)
    assert outcome.status == 2 and "cannot read" in outcome.err and missing in outcome.err
    no_admins = write_settings(tmp_path / "none.toml", redis_server.url, admins=())
    outcome = await cli("nodes", "create", "n", "--config", str(no_admins), config=False)
    assert outcome.status == 2 and "no [pubsub] admins" in outcome.err
    await cli.refused(
        redis_client,
        2,
        "'bob@example.org' is not one of the [pubsub] admins",
        *("nodes", "create", "n", "--admin", BOB.bare),
    )
    dead = f"redis://127.0.0.1:{free_port()}/0"
    outcome = await cli("nodes", "list", "--redis", dead)
    assert outcome.status == 1 and "cannot reach Redis" in outcome.err


async def test_admin_and_redis_options(
    cli: AdminCli, tmp_path: Path, redis_client: aioredis.Redis, redis_server: RedisServer
) -> None:
    # --redis overrides the settings file's URL; --admin picks which admin acts.
    dead = f"redis://127.0.0.1:{free_port()}/0"
    config = write_settings(tmp_path / "two.toml", dead, ("a@x.org", "b@x.org"))
    url = redis_server.url
    argv = ("nodes", "create", "n", "--json", "--config", str(config), "--redis", url)
    outcome = await cli(*argv, "--admin", "b@x.org", config=False)
    assert outcome.status == 0, outcome.err
    assert outcome.json()["creator"] == "b@x.org"
    outcome = await cli(
        "nodes", "info", "n", "--json", "--config", str(config), "--redis", url, config=False
    )
    assert outcome.status == 0 and outcome.json()["creator"] == "b@x.org"
    assert await redis_client.sismember(keys.FEEDS, "n")


async def test_a_running_service_sees_cli_changes(cli: AdminCli, service: PubSubService) -> None:
    """``service`` listens (like a running bridge); its node cache holds what it read."""
    await service.create_node(OWNER, "n")
    await settle(service.thoonk)
    with pytest.raises(Forbidden):
        await service.check(BOB, "n", Action.PUBLISH)
    loads = CountedLoads(service.store)
    await service.check(BOB, "n", Action.SUBSCRIBE)
    assert loads.reads == []  # served from the cache

    await cli.ok("affiliations", "set", "n", BOB.bare, "publisher")
    await until_refused_with(None, service, BOB, "n", Action.PUBLISH)
    assert loads.reads == ["n"]

    with pytest.raises(NodeNotFound):
        await service.check(ALICE, "fresh", Action.SUBSCRIBE)
    await cli.ok("nodes", "create", "fresh", "--set", "access_model=whitelist")
    await until_refused_with(ClosedNode, service, ALICE, "fresh", Action.SUBSCRIBE)

    await cli.ok("nodes", "delete", "n")
    await until_refused_with(NodeNotFound, service, BOB, "n", Action.PUBLISH)


async def test_a_job_node_is_reported_with_its_pending_jobs(
    cli: AdminCli, service: PubSubService
) -> None:
    made = await cli.ok("nodes", "create", "work", "--set", "node_kind=job", "--json")
    assert made.json()["config"]["thoonkx#claim_timeout"] == "60"
    job = await service.thoonk.job("work")
    await job.put(b"one")
    await job.put(b"two")
    await job.get()  # one held, one waiting: both pending
    report = (await cli.ok("nodes", "info", "work", "--json")).json()
    assert report["items"] == 2
    assert report["config"]["thoonkx#node_kind"] == "job"
    assert "work" in (await cli.ok("nodes", "list", "--json")).json()
