"""XEP-0313 archives of nodes (XEP-0442) through the real XMPP server: a client pages a
node's history by time and by id, forwards and backwards, with counts; pages are capped
and never over the stanza limit; exactly who may retrieve items may read the archive;
bad queries are refused with nothing sent and nothing changed."""

from __future__ import annotations

import dataclasses
import datetime
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.bridge_fixtures import (
    EVENT,
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    form,
    form_values,
    pubsub,
)
from tests.integration.test_stanza_limit import big_xml
from thoonk_xmpp.thoonk import BYTES, Feed
from thoonk_xmpp.xmpp import ns

MAM = "urn:xmpp:mam:2"
FORWARD = "urn:xmpp:forward:0"
DELAY = "urn:xmpp:delay"
RSM = ns.RSM
CLIENT = "jabber:client"


@dataclass(frozen=True)
class Result:
    """One result message: its queryid, archive id, delay stamp, item id and payload."""

    queryid: str | None
    id: str
    stamp: str
    item_id: str
    payload: ET.Element | None
    to: str


@dataclass(frozen=True)
class Fin:
    """The iq result of a query: complete, and the RSM first (with index), last, count."""

    complete: str | None
    first: str | None
    index: str | None
    last: str | None
    count: str | None


class Archives:
    """A client's archive queries: sends them, collects the result messages in order."""

    def __init__(self, client: PubSubClient, node: str) -> None:
        self.client = client
        self.node = node
        self.received: list[ET.Element] = []
        client.xmpp.register_handler(
            Callback(
                "mam results",
                MatchXPath(f"{{{CLIENT}}}message/{{{MAM}}}result"),
                self._on_result,
            )
        )

    def _on_result(self, message: Any) -> None:
        self.received.append(message.xml)

    def query_xml(
        self,
        fields: dict[str, str | list[str]] | None = None,
        paging: str = "",
        queryid: str | None = "q1",
        flip: bool = False,
    ) -> str:
        attrs = f" node='{self.node}'" + (f" queryid='{queryid}'" if queryid else "")
        x = form(MAM, fields) if fields is not None else ""
        rsm = f"<set xmlns='{RSM}'>{paging}</set>" if paging else ""
        return f"<query xmlns='{MAM}'{attrs}>{x}{rsm}{'<flip-page/>' if flip else ''}</query>"

    async def query(self, **kwargs: Any) -> tuple[list[Result], Fin]:
        """Send a query; the result messages that came before its iq result, and the fin."""
        self.received.clear()
        reply = await self.client.send("set", self.query_xml(**kwargs))
        assert reply.get("type") == "result", ET.tostring(reply).decode()
        results = [self._result(message) for message in self.received]
        fin = reply.find(ns.tag(MAM, "fin"))
        assert fin is not None, ET.tostring(reply).decode()
        rsm_set = fin.find(ns.tag(RSM, "set"))
        assert rsm_set is not None
        first = rsm_set.find(ns.tag(RSM, "first"))
        return results, Fin(
            fin.get("complete"),
            None if first is None else first.text,
            None if first is None else first.get("index"),
            rsm_set.findtext(ns.tag(RSM, "last")),
            rsm_set.findtext(ns.tag(RSM, "count")),
        )

    async def ids(self, **kwargs: Any) -> tuple[list[str], Fin]:
        results, fin = await self.query(**kwargs)
        return [r.id for r in results], fin

    def _result(self, message: ET.Element) -> Result:
        result = message.find(ns.tag(MAM, "result"))
        assert result is not None
        forwarded = result.find(ns.tag(FORWARD, "forwarded"))
        assert forwarded is not None, ET.tostring(message).decode()
        delay = forwarded.find(ns.tag(DELAY, "delay"))
        assert delay is not None
        inner = forwarded.find(ns.tag(CLIENT, "message"))
        assert inner is not None, ET.tostring(message).decode()
        assert inner.get("from") == self.client.service_jid
        items = inner.find(f"{{{EVENT}}}event/{{{EVENT}}}items")
        assert items is not None and items.get("node") == self.node
        (item,) = items.findall(ns.tag(EVENT, "item"))  # one item per message (XEP-0442)
        payload = next(iter(item), None)
        return Result(
            result.get("queryid"),
            result.get("id", ""),
            delay.get("stamp", ""),
            item.get("id", ""),
            payload,
            message.get("to", ""),
        )

    async def nothing_arrived(self) -> None:
        """No result message came (a ping answered after a refusal proves it came in time)."""
        await self.client.ok("get", f"<ping xmlns='{ns.PING}'/>")
        assert self.received == []


async def history(client: PubSubClient, node: str, count: int) -> list[str]:
    await client.create(node, {"pubsub#max_items": "max"})
    ids = [f"i{n}" for n in range(count)]
    for item_id in ids:
        await client.publish(node, item_id, f"<entry xmlns='urn:t'>{item_id}</entry>")
    return ids


def later(stamp: str, ms: int) -> str:
    """A XEP-0082 stamp ``ms`` milliseconds after ``stamp``."""
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    moment += datetime.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@ON_BOTH_SERVERS
async def test_a_client_reads_and_pages_a_node_history_by_time(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner, reader = await pubsub_client(), await pubsub_client()
    ids = await history(owner, "blog", 6)
    archives = Archives(reader, "blog")

    results, fin = await archives.query()

    assert [r.id for r in results] == ids
    assert [r.item_id for r in results] == ids
    assert {r.queryid for r in results} == {"q1"}
    assert {r.to for r in results} == {reader.full_jid}
    assert results[2].payload is not None and results[2].payload.text == "i2"
    assert fin == Fin("true", "i0", "0", "i5", "6")
    stamps = [r.stamp for r in results]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6
    # the time range [i1, i4]: one millisecond past the neighbours excludes them
    window = {"start": later(stamps[0], 1), "end": later(stamps[5], -1)}
    got, fin = await archives.ids(fields=window)
    assert got == ids[1:5] and fin == Fin("true", "i1", "0", "i4", "4")
    got, fin = await archives.ids(fields={"start": stamps[2], "end": stamps[3]})
    assert got == ["i2", "i3"]
    # pages of two within the window, forwards ...
    got, fin = await archives.ids(fields=window, paging="<max>2</max>")
    assert got == ["i1", "i2"] and fin == Fin("false", "i1", "0", "i2", "4")
    got, fin = await archives.ids(fields=window, paging="<max>2</max><after>i2</after>")
    assert got == ["i3", "i4"] and fin == Fin("true", "i3", "2", "i4", "4")
    # ... and backwards from the newest
    got, fin = await archives.ids(fields=window, paging="<max>3</max><before/>")
    assert got == ["i2", "i3", "i4"] and fin == Fin("false", "i2", "1", "i4", "4")
    got, fin = await archives.ids(fields=window, paging="<max>3</max><before>i2</before>")
    assert got == ["i1"] and fin == Fin("true", "i1", "0", "i1", "4")


async def test_paging_by_id_counts_and_flipped_pages(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    ids = await history(owner, "log", 8)
    archives = Archives(owner, "log")

    got, fin = await archives.ids(fields={"after-id": "i1", "before-id": "i6"})
    assert got == ["i2", "i3", "i4", "i5"] and fin.count == "4"
    got, _ = await archives.ids(fields={"ids": ["i6", "i0", "i3"]})
    assert got == ["i0", "i3", "i6"]
    got, fin = await archives.ids(paging="<max>3</max><index>4</index>")
    assert got == ["i4", "i5", "i6"] and (fin.index, fin.count) == ("4", "8")
    got, fin = await archives.ids(paging="<max>0</max>")
    assert got == [] and fin == Fin("false", None, None, None, "8")
    # a flipped page: the same page, newest first
    got, fin = await archives.ids(paging="<max>3</max><before/>", flip=True)
    assert got == ["i7", "i6", "i5"] and fin == Fin("false", "i5", "5", "i7", "8")
    # a whole walk backwards, RSM <before/> with the first id of each page
    walked: list[str] = []
    before = ""
    while True:
        got, fin = await archives.ids(paging=f"<max>3</max><before>{before}</before>")
        walked = got + walked
        if fin.complete == "true":
            break
        assert fin.first is not None
        before = fin.first
    assert walked == ids
    # no queryid: none in the results either
    results, _ = await archives.query(queryid=None, fields={"ids": "i7"})
    assert [(r.id, r.queryid) for r in results] == [("i7", None)]


async def test_every_page_is_capped_and_each_message_fits_the_stanza_limit(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    bridge.service.policy = dataclasses.replace(bridge.service.policy, max_archive_page=4)
    owner = await pubsub_client()
    await history(owner, "small", 6)
    archives = Archives(owner, "small")
    got, fin = await archives.ids(paging="<max>100</max>")
    assert got == ["i0", "i1", "i2", "i3"] and (fin.complete, fin.count) == ("false", "6")
    got, fin = await archives.ids()
    assert len(got) == 4

    # Items a Thoonk app stored: one too big for any stanza, and so many big ones that a
    # page's messages together would pass four stanza limits (2 MiB).
    bridge.service.policy = dataclasses.replace(bridge.service.policy, max_archive_page=50)
    await owner.create("big")
    feed = Feed(bridge.thoonk, "big", BYTES)
    await feed.publish(big_xml(1_000_000, "h"), "huge")
    big_ids = [f"b{n}" for n in range(8)]
    for n, item_id in enumerate(big_ids):
        await feed.publish(big_xml(400_000, str(n)), item_id)
    archives = Archives(owner, "big")
    results, fin = await archives.query()
    assert results[0].id == "huge" and results[0].payload is None  # sent without it
    got = [r.id for r in results]
    assert 1 < len(got) < 9 and got == ["huge", *big_ids][: len(got)]
    assert all(r.payload is not None for r in results[1:])
    assert (fin.complete, fin.last, fin.count) == ("false", got[-1], "9")
    while fin.complete != "true":
        more, fin = await archives.ids(paging=f"<after>{got[-1]}</after>")
        assert more, "a page must hold something"
        got += more
    assert got == ["huge", *big_ids]
    # backwards, a page cut keeps its newest items
    back, fin = await archives.ids(paging="<before/>")
    assert back == big_ids[-len(back) :] and fin.complete == "false"
    assert (fin.first, fin.index) == (back[0], str(9 - len(back)))
    assert bridge.component.connected.is_set()


async def test_exactly_who_may_retrieve_items_may_read_the_archive(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner, member, outsider = await pubsub_client(), await pubsub_client(), await pubsub_client()
    await history(owner, "private", 2)
    await owner.ok(
        "set",
        f"<pubsub xmlns='{ns.PUBSUB_OWNER}'><configure node='private'>"
        + form(f"{ns.PUBSUB}#node_config", {"pubsub#access_model": "whitelist"})
        + "</configure></pubsub>",
    )
    await owner.affiliate("private", member.jid, "member")
    got, _ = await Archives(member, "private").ids()
    assert got == ["i0", "i1"]
    archives = Archives(outsider, "private")
    retrieval = await outsider.fails("get", pubsub("<items node='private'/>"))
    error = await bridge.refuses(outsider, "set", archives.query_xml())
    assert error == retrieval == ("cancel", "not-allowed", "closed-node")
    assert await bridge.refuses(outsider, "get", f"<metadata xmlns='{MAM}' node='private'/>") == (
        "cancel",
        "not-allowed",
        "closed-node",
    )
    await archives.nothing_arrived()
    await owner.affiliate("private", member.jid, "outcast")
    error = await bridge.refuses(member, "set", Archives(member, "private").query_xml())
    assert error == ("auth", "forbidden")


async def test_bad_queries_are_refused_with_nothing_sent_and_nothing_changed(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await history(owner, "n", 3)
    await owner.create("ordered", {"thoonkx#node_kind": "sorted_feed"})
    archives = Archives(owner, "n")
    stamp = "2026-12-05T06:00:00Z"
    bad_request = ("modify", "bad-request")
    cases: Sequence[tuple[str, tuple[str | None, ...]]] = [
        (archives.query_xml(fields={"start": "yesterday"}), bad_request),
        (archives.query_xml(fields={"end": "2026-12-05"}), bad_request),
        (archives.query_xml(fields={"start": "2026-13-05T06:00:00Z"}), bad_request),
        (archives.query_xml(fields={"start": stamp, "end": "2026-12-05T05:59:59Z"}), bad_request),
        (archives.query_xml(fields={"start": [stamp, stamp]}), bad_request),
        (archives.query_xml(fields={"after-id": ""}), bad_request),
        (archives.query_xml(paging="<after>i0</after><before>i2</before>"), bad_request),
        (archives.query_xml(paging="<max>-1</max>"), bad_request),
        (
            f"<query xmlns='{MAM}' node='n'>{form('urn:example', {'start': stamp})}</query>",
            bad_request,
        ),
        (f"<query xmlns='{MAM}'/>", ("modify", "bad-request", "nodeid-required")),
        (archives.query_xml(fields={"with": owner.jid}), ("cancel", "feature-not-implemented")),
        (archives.query_xml(fields={"{urn:x}y": "z"}), ("cancel", "feature-not-implemented")),
        (archives.query_xml(fields={"after-id": "nope"}), ("cancel", "item-not-found")),
        (archives.query_xml(fields={"before-id": "nope"}), ("cancel", "item-not-found")),
        (archives.query_xml(fields={"ids": ["i1", "nope"]}), ("cancel", "item-not-found")),
        (archives.query_xml(paging="<after>nope</after>"), ("cancel", "item-not-found")),
        (archives.query_xml(paging="<before>nope</before>"), ("cancel", "item-not-found")),
        (
            Archives(owner, "missing").query_xml(),
            ("cancel", "item-not-found"),
        ),
        (
            Archives(owner, "ordered").query_xml(),
            ("cancel", "feature-not-implemented", None),
        ),
    ]
    for payload, expected in cases:
        error = await bridge.refuses(owner, "set", payload)
        assert error == expected, (payload, error)
    await archives.nothing_arrived()
    assert await bridge.refuses(owner, "get", f"<query xmlns='{MAM}' node='ordered'/>") == (
        "cancel",
        "feature-not-implemented",
    )


async def test_query_form_metadata_and_disco(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("empty")
    await history(owner, "n", 3)
    await owner.create("ordered", {"thoonkx#node_kind": "sorted_feed"})
    await owner.create("jobs", {"thoonkx#node_kind": "job"})

    query = await owner.ok("get", f"<query xmlns='{MAM}' node='n'/>")
    x = query.find(ns.tag(ns.DATA, "x"))
    assert x is not None and x.get("type") == "form"
    fields = {f.get("var"): f.get("type") for f in x.findall(ns.tag(ns.DATA, "field"))}
    assert fields == {
        "FORM_TYPE": "hidden",
        "start": "text-single",
        "end": "text-single",
        "after-id": "text-single",
        "before-id": "text-single",
        "ids": "list-multi",
    }
    assert form_values(x)["FORM_TYPE"] == [MAM]

    results, _ = await Archives(owner, "n").query()
    metadata = await owner.ok("get", f"<metadata xmlns='{MAM}' node='n'/>")
    ends = [(e.tag, e.get("id"), e.get("timestamp")) for e in metadata]
    assert ends == [
        (ns.tag(MAM, "start"), "i0", results[0].stamp),
        (ns.tag(MAM, "end"), "i2", results[2].stamp),
    ]
    assert list(await owner.ok("get", f"<metadata xmlns='{MAM}' node='empty'/>")) == []

    def features(query: ET.Element) -> set[str]:
        return {f.get("var", "") for f in query.findall(ns.tag(ns.DISCO_INFO, "feature"))}

    info = f"<query xmlns='{ns.DISCO_INFO}' node='%s'/>"
    assert {MAM, f"{MAM}#extended"} <= features(await owner.ok("get", info % "n"))
    assert MAM not in features(await owner.ok("get", info % "ordered"))
    assert MAM not in features(await owner.ok("get", info % "jobs"))
    assert MAM not in features(await owner.ok("get", f"<query xmlns='{ns.DISCO_INFO}'/>"))


async def test_results_come_before_the_iq_result(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await history(owner, "n", 5)
    archives = Archives(owner, "n")
    arrivals: list[str] = []  # in the order the client's stream read them
    for name, path, what in (
        ("mam order: results", f"{{{CLIENT}}}message/{{{MAM}}}result", "result"),
        ("mam order: fin", f"{{{CLIENT}}}iq/{{{MAM}}}fin", "fin"),
    ):
        owner.xmpp.register_handler(
            Callback(name, MatchXPath(path), lambda _, what=what: arrivals.append(what))
        )
    await archives.query()
    assert arrivals == ["result"] * 5 + ["fin"]
