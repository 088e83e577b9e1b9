"""Real XMPP servers for the whole session, test accounts, logged-in clients and components.

Tests run against Prosody. A test (or module) that should also run against ejabberd
says so with ``ON_BOTH_SERVERS`` (in bridge_fixtures): ``xmpp_server`` then takes each
server in turn, and every fixture below (and ``bridge``) uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from slixmpp import ClientXMPP, ComponentXMPP

from tests.integration.bridge_fixtures import bridge, pubsub_client  # noqa: F401
from tests.integration.federation_fixtures import REMOTE_DOMAIN, remote_pubsub_client  # noqa: F401
from tests.integration.streams import (
    CLIENT_PLUGINS,
    Account,
    ClientFactory,
    ComponentFactory,
    connect_component,
    disconnect,
    logged_in_client,
)
from tools.local_ejabberd import EjabberdServer
from tools.localservers import ProsodyServer, XmppServer

_account_numbers = itertools.count(1)


def _serve(server: ProsodyServer | EjabberdServer, name: str) -> Iterator[XmppServer]:
    """Start ``server`` for the session (failing clearly if it cannot run), stop it after."""
    try:
        server.start()
    except RuntimeError as exc:  # not installed (scripts/test.sh installs it), or failed
        server.close()
        pytest.fail(f"cannot run {name}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def prosody() -> Iterator[ProsodyServer]:
    """Prosody on free loopback ports, including config/prosody/thoonk-xmpp.cfg.lua."""
    server = ProsodyServer()
    for _ in _serve(server, "Prosody"):
        yield server


@pytest.fixture(scope="session")
def prosody_unprivileged() -> Iterator[ProsodyServer]:
    """Prosody with the same files but THOONK_XMPP_PRIVILEGED_HOSTS=none: no XEP-0356
    privilege for the component. Use through ``xmpp_server`` (indirect parametrize)."""
    server = ProsodyServer(privileged_hosts="none")
    for _ in _serve(server, "Prosody without privileges"):
        yield server


@pytest.fixture(scope="session")
def ejabberd() -> Iterator[EjabberdServer]:
    """ejabberd on free loopback ports, including config/ejabberd/thoonk-xmpp.yml.

    Started only when a test asks for it (about 1–2 s).
    """
    server = EjabberdServer()
    for _ in _serve(server, "ejabberd"):
        yield server


@pytest.fixture(scope="session")
def remote_prosody(prosody: ProsodyServer) -> Iterator[ProsodyServer]:
    """A second Prosody (``REMOTE_DOMAIN``) with s2s to and from ``prosody``, both ways.

    Started only when a test asks for it. Neither server looks the other up in DNS:
    each sends its outgoing s2s for the other's domains to the other's loopback s2s
    port (tools/prosody/mod_s2s_test_routes.lua); the routes are undone at the end.
    """
    server = ProsodyServer(domain=REMOTE_DOMAIN, admins=())
    for _ in _serve(server, "the remote Prosody"):
        server.route_s2s(dict.fromkeys((prosody.domain, prosody.component_jid), prosody.s2s_port))
        prosody.route_s2s({REMOTE_DOMAIN: server.s2s_port})
        try:
            yield server
        finally:
            prosody.route_s2s({})


@pytest.fixture
def xmpp_server(request: pytest.FixtureRequest) -> XmppServer:
    """The server under test: Prosody, unless parametrized (``ON_BOTH_SERVERS``)."""
    name = getattr(request, "param", "prosody")
    server: XmppServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def make_account(xmpp_server: XmppServer) -> Callable[[], Account]:
    """Factory: registers an account with a unique name; returns ``(bare_jid, password)``."""

    def make() -> Account:
        user = f"user{next(_account_numbers)}-{secrets.token_hex(4)}"
        # Hex: a password starting with '-' would read as an option on a command line
        # (the demo test passes accounts as arguments).
        password = secrets.token_hex(12)
        return xmpp_server.register(user, password), password

    return make


@pytest.fixture
async def xmpp_client(xmpp_server: XmppServer) -> AsyncIterator[ClientFactory]:
    """Factory: ``await xmpp_client(jid, password)`` gives a logged-in, available client
    with the disco and pubsub plugins (``plugins=`` to choose others).

    Every client it made is disconnected at teardown.
    """
    clients: list[ClientXMPP] = []

    async def connect(
        jid: str, password: str, *, plugins: tuple[str, ...] = CLIENT_PLUGINS
    ) -> ClientXMPP:
        client = await logged_in_client(xmpp_server, jid, password, plugins)
        clients.append(client)
        return client

    yield connect
    await asyncio.gather(*(disconnect(client) for client in clients))


@pytest.fixture
async def xmpp_component(xmpp_server: XmppServer) -> AsyncIterator[ComponentFactory]:
    """Factory: ``await xmpp_component(secret=..., plugins=[...])`` gives a connected
    raw slixmpp component for ``xmpp_server.component_jid`` (StreamRefused if refused).

    Every component it made is disconnected at teardown.
    """
    components: list[ComponentXMPP] = []

    async def connect(*, secret: str | None = None, plugins: tuple[str, ...] = ()) -> ComponentXMPP:
        component = ComponentXMPP(
            xmpp_server.component_jid, xmpp_server.secret if secret is None else secret
        )
        for plugin in plugins:
            component.register_plugin(plugin)
        components.append(component)
        await connect_component(component, xmpp_server)
        return component

    yield connect
    await asyncio.gather(*(disconnect(component) for component in components))
