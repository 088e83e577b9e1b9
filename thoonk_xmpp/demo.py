"""The scripted demo: two XMPP users and a plain Thoonk app share one pubsub node.

Needs a running XMPP server with thoonk-xmpp connected as its component, and
the Redis thoonk-xmpp uses (``scripts/demo.sh`` brings all three up)::

    python -m thoonk_xmpp.demo --redis redis://127.0.0.1:PORT/0 \\
        --xmpp 127.0.0.1:C2S_PORT --service pubsub.localhost \\
        --account alice@localhost PASSWORD --account bob@localhost PASSWORD

Alice creates a node and bob subscribes to it; alice publishes over XMPP and
a Thoonk app publishes into the node's feed; the demo prints what bob's
client receives and what the Thoonk app hears.  Exit status 0 when every
step happened, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import tostring
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .thoonk import AsyncThoonk, Notice, NoticeKind, ThoonkError

#: Seconds to wait for a login, a reply or an event before calling the step failed.
TIMEOUT: Final = 15.0
EVENT_NS: Final = "http://jabber.org/protocol/pubsub#event"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"


class DemoFailed(Exception):
    """A step did not happen; the message says which."""


def say(text: str) -> None:
    print(text, flush=True)


def show(label: str, element: ET.Element) -> None:
    """Print ``element`` as XML under ``label``."""
    say(f"   {label}")
    say(f"      {tostring(element)}")


class User:
    """One logged-in demo account: a slixmpp client that queues the pubsub events it gets."""

    def __init__(self, jid: str, password: str) -> None:
        self.jid = jid
        self.xmpp = ClientXMPP(jid, password)
        self.xmpp.register_plugin("xep_0030")
        self.xmpp.register_plugin("xep_0060")
        self.events: asyncio.Queue[ET.Element] = asyncio.Queue()
        # slixmpp's own "message" event only fires for messages with a <body/>.
        self.xmpp.register_handler(
            Callback(
                "demo pubsub events",
                MatchXPath(f"{{jabber:client}}message/{{{EVENT_NS}}}event"),
                lambda message: self.events.put_nowait(message.xml),
            )
        )

    async def login(self, host: str, port: int) -> None:
        """Connect (plain TCP: the demo server is on loopback), log in, become available."""
        session: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def settle(error: str | None) -> None:
            if not session.done():
                if error is None:
                    session.set_result(None)
                else:
                    session.set_exception(DemoFailed(error))

        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.enable_plaintext = True
        self.xmpp.plugin["feature_mechanisms"].config["unencrypted_scram"] = True
        self.xmpp.add_event_handler("session_start", lambda _: settle(None))
        self.xmpp.add_event_handler(
            "failed_all_auth", lambda _: settle(f"{self.jid}: wrong password")
        )
        self.xmpp.add_event_handler(
            "connection_failed", lambda why: settle(f"cannot reach {host}:{port}: {why}")
        )
        self.xmpp.connect(host, port)
        try:
            await asyncio.wait_for(session, TIMEOUT)
        except TimeoutError:
            raise DemoFailed(f"{self.jid}: no session with {host}:{port}") from None
        available: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def echoed(presence: Any) -> None:
            if JID(presence["from"]) == self.xmpp.boundjid and not available.done():
                available.set_result(None)

        # Events to a bare JID reach only available resources: wait for our presence echo.
        self.xmpp.add_event_handler("presence_available", echoed)
        self.xmpp.send_presence()
        await asyncio.wait_for(available, TIMEOUT)

    @property
    def pubsub(self) -> Any:
        return self.xmpp.plugin["xep_0060"]

    async def next_event(self, what: str) -> ET.Element:
        try:
            return await asyncio.wait_for(self.events.get(), TIMEOUT)
        except TimeoutError:
            raise DemoFailed(f"{self.jid} received no event for {what}") from None

    async def close(self) -> None:
        self.xmpp.cancel_connection_attempt()
        await self.xmpp.disconnect(wait=2.0)


@contextlib.asynccontextmanager
async def logged_in(jid: str, password: str, host: str, port: int) -> AsyncIterator[User]:
    user = User(jid, password)
    try:
        await user.login(host, port)
        yield user
    finally:
        await user.close()


def entry(title: str) -> ET.Element:
    """A small Atom entry, the classic pubsub payload."""
    element = ET.Element(f"{{{ATOM_NS}}}entry")
    ET.SubElement(element, f"{{{ATOM_NS}}}title").text = title
    return element


def received(message: ET.Element, bob: User) -> None:
    """Print the event part of a message bob received."""
    event = message.find(f"{{{EVENT_NS}}}event")
    assert event is not None
    say(f"   {bob.jid} received from {message.get('from')} (type {message.get('type')}):")
    say(f"      {tostring(event)}")


async def session(args: argparse.Namespace) -> None:
    host, _, port_text = args.xmpp.rpartition(":")
    port = int(port_text)
    (alice_jid, alice_pw), (bob_jid, bob_pw) = args.account
    node = args.node or f"demo-{secrets.token_hex(3)}"
    service = args.service

    heard: asyncio.Queue[Notice] = asyncio.Queue()

    def hear(notice: Notice) -> None:
        if notice.feed == node and notice.kind == NoticeKind.PUBLISH:
            heard.put_nowait(notice)

    async with (
        AsyncThoonk.from_url(args.redis) as app,
        logged_in(alice_jid, alice_pw, host, port) as alice,
        logged_in(bob_jid, bob_pw, host, port) as bob,
    ):
        app.listener.add_sink(hear)
        await app.listener.start()
        say(f"== {alice.jid} and {bob.jid} are logged in to {args.xmpp}")

        say(f"== {alice.jid} creates the node {node!r} on {service}")
        await alice.pubsub.create_node(service, node, timeout=TIMEOUT)
        say(f"== {bob.jid} subscribes to {node!r}")
        await bob.pubsub.subscribe(service, node, timeout=TIMEOUT)

        say(f"== {alice.jid} publishes an Atom entry over XMPP")
        await alice.pubsub.publish(
            service, node, id="from-xmpp", payload=entry("Hello from XMPP"), timeout=TIMEOUT
        )
        received(await bob.next_event("the XMPP publish"), bob)
        try:
            notice = await asyncio.wait_for(heard.get(), TIMEOUT)
        except TimeoutError:
            raise DemoFailed("the Thoonk app heard nothing of the XMPP publish") from None
        text = (notice.item or b"").decode("utf-8", "replace")
        say(f"   a plain Thoonk app heard: publish {notice.feed} id={notice.item_id} item={text!r}")

        say(f"== a plain Thoonk app publishes JSON and text into the feed {node!r}")
        feed = await app.feed(node)
        await feed.publish('{"temperature": 21.5, "unit": "C"}', "from-thoonk-json")
        await feed.publish("plain words from a Thoonk app", "from-thoonk-text")
        received(await bob.next_event("the Thoonk JSON publish"), bob)
        received(await bob.next_event("the Thoonk text publish"), bob)

        say(f"== {bob.jid} retrieves the items of {node!r}")
        result = await bob.pubsub.get_items(service, node, timeout=TIMEOUT)
        ids = [item["id"] for item in result["pubsub"]["items"]]
        say(f"   items: {', '.join(ids)}")
        if ids != ["from-xmpp", "from-thoonk-json", "from-thoonk-text"]:
            raise DemoFailed(f"unexpected items {ids}")

        say(f"== {alice.jid} deletes {node!r}")
        await alice.pubsub.delete_node(service, node, timeout=TIMEOUT)
        received(await bob.next_event("the node deletion"), bob)
    say("== demo finished: XMPP and Thoonk saw each other's items")


def _account(values: list[str]) -> tuple[str, str]:
    return values[0], values[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m thoonk_xmpp.demo",
        description="Two XMPP users and a Thoonk app on one node of a running thoonk-xmpp.",
    )
    parser.add_argument("--redis", required=True, metavar="URL", help="the Redis thoonk-xmpp uses")
    parser.add_argument(
        "--xmpp", required=True, metavar="HOST:PORT", help="where the XMPP server takes clients"
    )
    parser.add_argument(
        "--service", required=True, metavar="JID", help="the component's JID (pubsub.localhost)"
    )
    parser.add_argument(
        "--account",
        nargs=2,
        action="append",
        metavar=("JID", "PASSWORD"),
        required=True,
        help="a demo account; give two: the publisher, then the subscriber",
    )
    parser.add_argument("--node", help="node name (default: demo-<random>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.account) != 2:
        parser.error("give exactly two --account JID PASSWORD")
    args.account = [_account(values) for values in args.account]
    if not args.xmpp.rpartition(":")[2].isdigit():
        parser.error("--xmpp must be HOST:PORT")
    try:
        asyncio.run(session(args))
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    except (DemoFailed, IqError, IqTimeout, ThoonkError, OSError) as exc:
        print(f"demo: failed: {_describe(exc)}", file=sys.stderr)
        return 1
    return 0


def _describe(error: Exception) -> str:
    if isinstance(error, IqError):
        return f"the service answered {error.condition}: {error.text or error.iq['error']}"
    if isinstance(error, IqTimeout):
        return "the service did not answer (is thoonk-xmpp connected?)"
    return str(error)


if __name__ == "__main__":
    raise SystemExit(main())
