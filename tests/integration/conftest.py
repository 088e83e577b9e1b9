"""A real Prosody for the whole session, test accounts, logged-in clients and components."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from slixmpp import ClientXMPP, ComponentXMPP

from tests.integration.bridge_fixtures import bridge, pubsub_client  # noqa: F401
from tests.integration.streams import (
    CLIENT_PLUGINS,
    Account,
    ClientFactory,
    ComponentFactory,
    connect_component,
    disconnect,
    logged_in_client,
)
from tools.localservers import ProsodyServer

_account_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def prosody() -> Iterator[ProsodyServer]:
    """Prosody on free loopback ports, including config/prosody/thoonk-xmpp.cfg.lua."""
    server = ProsodyServer()
    try:
        server.start()
    except RuntimeError as exc:  # not installed (scripts/test.sh installs it), or failed
        server.close()
        pytest.fail(f"cannot run Prosody: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_account(prosody: ProsodyServer) -> Callable[[], Account]:
    """Factory: registers an account with a unique name; returns ``(bare_jid, password)``."""

    def make() -> Account:
        user = f"user{next(_account_numbers)}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        return prosody.register(user, password), password

    return make


@pytest.fixture
async def xmpp_client(prosody: ProsodyServer) -> AsyncIterator[ClientFactory]:
    """Factory: ``await xmpp_client(jid, password)`` gives a logged-in, available client
    with the disco and pubsub plugins (``plugins=`` to choose others).

    Every client it made is disconnected at teardown.
    """
    clients: list[ClientXMPP] = []

    async def connect(
        jid: str, password: str, *, plugins: tuple[str, ...] = CLIENT_PLUGINS
    ) -> ClientXMPP:
        client = await logged_in_client(prosody, jid, password, plugins)
        clients.append(client)
        return client

    yield connect
    await asyncio.gather(*(disconnect(client) for client in clients))


@pytest.fixture
async def xmpp_component(prosody: ProsodyServer) -> AsyncIterator[ComponentFactory]:
    """Factory: ``await xmpp_component(secret=..., plugins=[...])`` gives a connected
    raw slixmpp component for ``prosody.component_jid`` (StreamRefused if refused).

    Every component it made is disconnected at teardown.
    """
    components: list[ComponentXMPP] = []

    async def connect(*, secret: str | None = None, plugins: tuple[str, ...] = ()) -> ComponentXMPP:
        component = ComponentXMPP(
            prosody.component_jid, prosody.secret if secret is None else secret
        )
        for plugin in plugins:
            component.register_plugin(plugin)
        components.append(component)
        await connect_component(component, prosody)
        return component

    yield connect
    await asyncio.gather(*(disconnect(component) for component in components))
