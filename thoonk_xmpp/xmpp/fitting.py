"""Answers that fit the XMPP server's stanza limit (``[component] max_stanza_size``).

A server closes the link of a component that sends one stanza over its limit, and every
request in flight on it, other users' too, goes unanswered.  So a list result (items,
subscriptions, affiliations, disco#items) too big to send is cut to the entries that fit,
with a XEP-0059 ``<set/>`` saying where it stops and how many there are (XEP-0060 §6.5.7):
the client asks for the rest with ``<after/>``.  An entry too big on its own goes without
its content (an item without its payload), so paging never sticks on it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from slixmpp.xmlstream import tostring

from . import ns, rsm

#: Bytes kept free for what sizing entries one by one cannot see (namespace declarations).
SLACK: Final = 512

_SET: Final = ns.tag(ns.RSM, "set")


@dataclass(frozen=True, slots=True)
class Listing:
    """A list in a reply that may be cut.

    ``parent`` holds the entries (every child but a ``<set/>``), ``keys`` name them for
    XEP-0059 in the same order, the reply ``<set/>`` goes into ``set_parent``;
    ``first_index`` and ``count`` place the entries in the whole result set.
    """

    parent: ET.Element
    keys: Sequence[str]
    set_parent: ET.Element
    first_index: int | None
    count: int


def size(text: str) -> int:
    """Bytes of stanza text on the wire (UTF-8)."""
    return len(text.encode("utf-8", "replace"))


def fitted(
    stanza: ET.Element, listing: Listing | None, limit: int, render: Callable[[ET.Element], str]
) -> str | None:
    """``stanza`` as text of at most ``limit`` bytes, its listing cut if need be.

    None when it cannot be made to fit (no listing, or not even one entry fits).
    """
    text = render(stanza)
    if size(text) <= limit:
        return text
    if listing is None:
        return None
    entries = [child for child in listing.parent if child.tag != _SET]
    for child in list(listing.parent):
        listing.parent.remove(child)
    for old in listing.set_parent.findall(_SET):
        listing.set_parent.remove(old)
    longest = max(listing.keys, key=len, default="")
    widest_set = rsm.set_element([longest, longest], listing.first_index, listing.count)
    envelope = size(render(stanza)) + size(tostring(widest_set)) + SLACK
    budget = limit - envelope
    parent_ns = ns.split(listing.parent.tag)[0]
    kept: list[ET.Element] = []
    used = 0
    for entry in entries:
        entry_size = size(tostring(entry, xmlns=parent_ns))
        if entry_size > budget:
            entry = _bare(entry)
            entry_size = size(tostring(entry, xmlns=parent_ns))
        if used + entry_size > budget:
            break
        kept.append(entry)
        used += entry_size
    if not kept:
        return None
    listing.parent.extend(kept)
    keys = list(listing.keys[: len(kept)])
    listing.set_parent.append(rsm.set_element(keys, listing.first_index, listing.count))
    text = render(stanza)
    return text if size(text) <= limit else None


def _bare(entry: ET.Element) -> ET.Element:
    """``entry`` without its content (an item without its payload)."""
    return ET.Element(entry.tag, dict(entry.attrib))
