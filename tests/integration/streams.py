"""Bring slixmpp clients and components up against the test server, and down again.

slixmpp 1.17 has no ``process()``: everything here runs on the test's asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slixmpp import JID, ClientXMPP, ComponentXMPP

from tools.localservers import XmppServer

#: Seconds to wait for a login, a handshake or a reply before failing.
TIMEOUT = 15.0

#: What the fixtures hand out: ``(bare_jid, password)`` and the factories' shapes.
Account = tuple[str, str]
ClientFactory = Callable[..., Awaitable[ClientXMPP]]
ComponentFactory = Callable[..., Awaitable[ComponentXMPP]]


class StreamRefused(Exception):
    """The server ended the stream before the session started (``condition`` says why)."""

    def __init__(self, condition: str, text: str = "") -> None:
        super().__init__(f"{condition}: {text}" if text else condition)
        self.condition = condition


#: Plugins every test client gets: disco and pubsub (with their dependencies).
CLIENT_PLUGINS = ("xep_0030", "xep_0060")


async def logged_in_client(
    server: XmppServer, jid: str, password: str, plugins: tuple[str, ...] = CLIENT_PLUGINS
) -> ClientXMPP:
    """A new client for ``jid``, with ``plugins``, logged in and available."""
    client = ClientXMPP(jid, password)
    for plugin in plugins:
        client.register_plugin(plugin)
    await login(client, server)
    return client


async def login(client: ClientXMPP, server: XmppServer) -> None:
    """Connect without TLS, authenticate, send available presence and wait for its echo.

    Event messages to a bare JID only reach available resources, so a client is
    ready for pubsub tests only once the server has its presence.
    """
    available = asyncio.get_running_loop().create_future()

    def on_presence(presence: Any) -> None:
        # RFC 6121 §4.2.2: the server sends our initial presence back to us.
        if JID(presence["from"]) == client.boundjid and not available.done():
            available.set_result(None)

    client.enable_starttls = False
    client.enable_direct_tls = False
    client.enable_plaintext = True
    # The test server has no TLS; SCRAM never sends the password itself.
    client.plugin["feature_mechanisms"].config["unencrypted_scram"] = True
    client.add_event_handler("presence_available", on_presence)
    await _start(client, "127.0.0.1", server.c2s_port, "failed_all_auth")
    client.send_presence()
    await asyncio.wait_for(available, TIMEOUT)


async def connect_component(component: ComponentXMPP, server: XmppServer) -> None:
    """Connect and hand-shake; :class:`StreamRefused` if the server says no."""
    await _start(component, "127.0.0.1", server.component_port)


async def _start(stream: Any, host: str, port: int, failure_event: str | None = None) -> None:
    """Connect ``stream`` and wait for ``session_start``, a stream error or a timeout.

    A component with a wrong secret gets ``<not-authorized/>``, which slixmpp reports
    only as a ``stream_error`` event; a timeout catches anything that says nothing.
    """
    outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(error: BaseException | None) -> None:
        if outcome.done():
            return
        if error is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(error)

    stream.add_event_handler("session_start", lambda _: settle(None))
    stream.add_event_handler(
        "stream_error", lambda error: settle(StreamRefused(error["condition"], error["text"]))
    )
    if failure_event is not None:
        stream.add_event_handler(failure_event, lambda _: settle(StreamRefused("not-authorized")))
    stream.connect(host, port)
    try:
        await asyncio.wait_for(outcome, TIMEOUT)
    except TimeoutError:
        await disconnect(stream)
        raise StreamRefused("timeout", f"no session after {TIMEOUT} s") from None
    except StreamRefused:
        await disconnect(stream)
        raise


async def disconnect(stream: Any) -> None:
    """Close a client or component stream (or stop its connection attempts)."""
    stream.cancel_connection_attempt()
    await stream.disconnect(wait=2.0)
