"""XEP-0059 result set management: read a ``<set/>`` request, write a ``<set/>`` reply,
and page an in-memory list (disco#items) the way the service pages items."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from thoonk_xmpp.service.errors import ItemNotFound
from thoonk_xmpp.service.service import PageRequest

from . import ns
from .errors import MalformedRequest


def _r(name: str) -> str:
    return ns.tag(ns.RSM, name)


def _count(element: ET.Element | None, name: str) -> int | None:
    if element is None:
        return None
    text = (element.text or "").strip()
    if not (text.isascii() and text.isdigit()):
        raise MalformedRequest(f"RSM <{name}/> must be a non-negative integer, got {text!r}")
    return int(text)


def parse_set(parent: ET.Element) -> PageRequest | None:
    """The paging asked by the ``<set xmlns='…rsm'/>`` child of ``parent`` (None if absent).

    An empty ``<before/>`` asks for the last page (XEP-0059 §2.5).
    """
    found = parent.find(_r("set"))
    if found is None:
        return None
    after = found.find(_r("after"))
    before = found.find(_r("before"))
    if after is not None and not after.text:
        raise MalformedRequest("RSM <after/> must name an item")
    return PageRequest(
        max=_count(found.find(_r("max")), "max"),
        after=None if after is None else after.text,
        before=None if before is None else (before.text or ""),
        index=_count(found.find(_r("index")), "index"),
    )


def set_element(ids: Sequence[str], first_index: int | None, count: int) -> ET.Element:
    """The reply ``<set/>``: first (with index) and last of the page, and the set's size."""
    reply = ET.Element(_r("set"))
    if ids:
        first = ET.SubElement(reply, _r("first"))
        first.text = ids[0]
        if first_index is not None:
            first.set("index", str(first_index))
        ET.SubElement(reply, _r("last")).text = ids[-1]
    ET.SubElement(reply, _r("count")).text = str(count)
    return reply


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its members and where it starts in the whole."""

    members: list[str]
    first_index: int | None
    count: int


def page_of(members: Sequence[str], page: PageRequest | None, what: str = "") -> Page:
    """Slice ``members`` as ``page`` asks; an unknown after/before id is item-not-found."""
    total = len(members)
    if page is None:
        return Page(list(members), 0 if members else None, total)
    position = {member: rank for rank, member in enumerate(members)}

    def rank_of(uid: str) -> int:
        if uid not in position:
            raise ItemNotFound(what, uid)
        return position[uid]

    start, stop = 0, total
    if page.after is not None:
        start = rank_of(page.after) + 1
    if page.before is not None:
        if page.before:
            stop = rank_of(page.before)
        if page.max is not None:
            start = max(start, stop - page.max)
    else:
        if page.index is not None:
            start = page.index
        if page.max is not None:
            stop = min(stop, start + page.max)
    if stop <= start:
        return Page([], None, total)
    return Page(list(members[start:stop]), start, total)
