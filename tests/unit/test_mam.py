"""Archive queries (XEP-0313 on nodes) read from XML into typed requests, XEP-0082 dates,
and the result messages of a page: sizes, cuts and order."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service import errors as se
from thoonk_xmpp.service.archive import ArchivePage, ArchiveQuery
from thoonk_xmpp.service.model import Item
from thoonk_xmpp.service.service import PageRequest
from thoonk_xmpp.xmpp import errors as xe
from thoonk_xmpp.xmpp import mam, parsing
from thoonk_xmpp.xmpp.requests import GetArchiveForm, GetArchiveMetadata, QueryArchive

MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def iq(kind: str, payload: str) -> ET.Element:
    return ET.fromstring(
        f"<iq xmlns='jabber:component:accept' type='{kind}' id='q1' from='a@example.org/r'"
        f" to='pubsub.example.org'>{payload}</iq>"
    )


def query(inner: str = "", attrs: str = " node='n'") -> ET.Element:
    return iq("set", f"<query xmlns='{MAM}'{attrs}>{inner}</query>")


def x(fields: str, form_type: str = MAM, kind: str = "submit") -> str:
    hidden = f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>"
    return f"<x xmlns='jabber:x:data' type='{kind}'>{hidden}{fields}</x>"


def field(var: str, *values: str) -> str:
    return f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-12-01T00:00:00Z", T0),
        ("2026-12-01T00:00:00.5Z", T0 + 500),
        ("2026-12-01T00:00:00.123456Z", T0 + 123),
        ("2026-12-01T01:00:00+01:00", T0),
        ("2026-11-30T23:00:00.250-01:00", T0 + 250),
    ],
)
def test_xep0082_dates(text: str, ms: int) -> None:
    assert mam.epoch_ms(text, "start") == ms


@pytest.mark.parametrize(
    "text",
    ["2026-12-01", "2026-12-01T00:00:00", "2026-12-01 00:00:00Z", "2026-02-30T00:00:00Z", "now"],
)
def test_bad_dates(text: str) -> None:
    with pytest.raises(xe.MalformedRequest):
        mam.epoch_ms(text, "start")


def test_a_full_query_is_read() -> None:
    fields = (
        field("start", "2026-12-01T00:00:00Z")
        + field("end", "2026-12-01T00:00:01Z")
        + field("after-id", "a")
        + field("before-id", "b")
        + field("ids", "c", "d")
    )
    rsm = f"<set xmlns='{RSM}'><max>5</max><before/></set><flip-page/>"
    request = parsing.parse(query(x(fields) + rsm, " node='n' queryid='f27'"))
    assert request == QueryArchive(
        "n",
        ArchiveQuery(T0, T0 + 1000, "a", "b", ("c", "d"), PageRequest(max=5, before="")),
        "f27",
        flip=True,
    )
    assert parsing.parse(query()) == QueryArchive("n", ArchiveQuery())
    assert parsing.parse(iq("get", f"<query xmlns='{MAM}' node='n'/>")) == GetArchiveForm("n")
    assert parsing.parse(iq("get", f"<metadata xmlns='{MAM}' node='n'/>")) == GetArchiveMetadata(
        "n"
    )


@pytest.mark.parametrize(
    ("stanza", "error"),
    [
        (query(attrs=""), se.NodeIdRequired),
        (iq("get", f"<metadata xmlns='{MAM}'/>"), se.NodeIdRequired),
        (query(x(field("with", "b@example.org"))), xe.UnknownRequest),
        (query(x(field("include-groupchat", "true"))), xe.UnknownRequest),
        (query(x(field("start", "yesterday"))), xe.MalformedRequest),
        (
            query(x(field("start", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"))),
            xe.MalformedRequest,
        ),
        (query(x(field("after-id", ""))), xe.MalformedRequest),
        (query(x(field("ids", "a", ""))), xe.MalformedRequest),
        (query(x(field("start", "2026-12-01T00:00:00Z"), form_type="urn:x")), xe.MalformedRequest),
        (query(x("", kind="form")), xe.MalformedRequest),
        (query(f"<set xmlns='{RSM}'><max>x</max></set>"), xe.MalformedRequest),
    ],
)
def test_bad_queries(stanza: ET.Element, error: type[Exception]) -> None:
    with pytest.raises(error):
        parsing.parse(stanza)


def items(*sizes: int) -> list[Item]:
    return [
        Item(f"i{n}", b"<p xmlns='urn:t'>" + b"x" * size + b"</p>", T0 + n)
        for n, size in enumerate(sizes)
    ]


def messages(page: ArchivePage, limit: int, flip: bool = False) -> mam.SentPage:
    return mam.page_messages(
        page,
        node="n",
        queryid="q",
        to="a@example.org/r",
        sender="ps.example.org",
        limit=limit,
        flip=flip,
    )


def test_a_result_message() -> None:
    (item,) = items(1)
    text = mam.result_message(item, node="n", queryid="q&", to="a@example.org/r", sender="ps")
    message = ET.fromstring(text)
    result = message.find(f"{{{MAM}}}result")
    assert result is not None and (result.get("queryid"), result.get("id")) == ("q&", "i0")
    delay = message.find(".//{urn:xmpp:delay}delay")
    assert delay is not None and delay.get("stamp") == "2026-12-01T00:00:00Z"
    payload = message.find(".//{urn:t}p")
    assert payload is not None and payload.text == "x"


def test_a_page_too_big_is_cut_at_its_far_end() -> None:
    six = items(100, 100, 100, 100, 100, 100)
    forwards = ArchivePage(six, 4, 10, True, False)
    whole = messages(forwards, 100_000)
    assert (whole.ids, whole.first_index, whole.complete) == ([i.id for i in six], 4, True)
    limit = len(whole.messages[0].encode()) + 10  # four such messages fit a page, five do not
    cut = messages(forwards, limit)
    assert (cut.ids, cut.first_index, cut.complete) == (["i0", "i1", "i2", "i3"], 4, False)
    backwards = ArchivePage(six, 4, 10, True, True)
    back = messages(backwards, limit)
    assert (back.ids, back.first_index, back.complete) == (["i2", "i3", "i4", "i5"], 6, False)
    flipped = messages(backwards, limit, flip=True)
    assert flipped.ids == back.ids
    shown = [ET.fromstring(m).find(f"{{{MAM}}}result") for m in flipped.messages]
    assert [r.get("id") for r in shown if r is not None] == ["i5", "i4", "i3", "i2"]


def test_an_item_too_big_goes_without_its_payload_and_a_giant_id_is_refused() -> None:
    page = ArchivePage(items(5000, 10), 0, 2, True, False)
    sent = messages(page, 2000)
    assert sent.ids == ["i0", "i1"] and sent.complete
    assert all(len(m.encode()) <= 2000 for m in sent.messages)
    assert ET.fromstring(sent.messages[0]).find(".//{urn:t}p") is None
    assert ET.fromstring(sent.messages[1]).find(".//{urn:t}p") is not None
    giant = ArchivePage([Item("x" * 3000, b"", T0)], 0, 1, True, False)
    with pytest.raises(xe.ResultTooBig):
        messages(giant, 2000)
