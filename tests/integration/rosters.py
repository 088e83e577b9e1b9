"""Rosters and presence subscriptions between test accounts, made the way clients make
them (RFC 6121: a ``jabber:iq:roster`` set, the subscribe/subscribed handshake), and
waiting for conditions the bridge learns through the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from xml.sax.saxutils import escape, quoteattr

from tests.integration.bridge_fixtures import Bridge, PubSubClient

ROSTER = "jabber:iq:roster"


async def until(holds: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Wait until ``holds()`` is true (checked every 20 ms), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def privileged(bridge: Bridge) -> None:
    """Wait until the server's XEP-0356 advertisement was recorded."""
    await until(bridge.service.rosters.offered, "the server's privileges are known")


async def add_contact(owner: PubSubClient, contact: str, groups: Iterable[str] = ()) -> None:
    """``owner`` puts ``contact`` in its roster, in ``groups`` (no presence subscription)."""
    inner = "".join(f"<group>{escape(group)}</group>" for group in groups)
    query = f"<query xmlns='{ROSTER}'><item jid={quoteattr(contact)}>{inner}</item></query>"
    reply = await owner.send("set", query, to=owner.jid)
    assert reply.get("type") == "result", reply


async def share_presence(bridge: Bridge, owner: PubSubClient, contact: PubSubClient) -> None:
    """``contact`` asks for ``owner``'s presence and ``owner`` agrees (RFC 6121 §3.1: the
    owner's client approves requests by itself, slixmpp's ``auto_authorize``); returns
    once the owner's roster, read as the bridge reads it, says so."""
    assert owner.xmpp.roster.auto_authorize
    contact.xmpp.send_presence(pto=owner.jid, ptype="subscribe")

    async def subscribed() -> bool:
        item = (await bridge.component.privileges.roster(owner.jid)).get(contact.jid)
        return item is not None and item.sees_presence

    await until(subscribed, f"{contact.jid} sees {owner.jid}'s presence")
