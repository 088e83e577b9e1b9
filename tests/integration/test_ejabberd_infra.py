"""The test ejabberd itself: it runs the operator's file unchanged, with its privileges."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from slixmpp import ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.streams import TIMEOUT, connect_component, disconnect
from tools.local_ejabberd import EJABBERD_CONFIG_DIR, EjabberdServer

PRIVILEGE = "urn:xmpp:privilege:1"


def test_the_component_listener_comes_from_the_operators_file(ejabberd: EjabberdServer) -> None:
    config = ejabberd.config_path.read_text()

    # The test config only names the component's port as the macro the operator's file uses.
    assert f"THOONK_XMPP_PORT: {ejabberd.component_port}\n" in config
    assert f"port: {ejabberd.component_port}\n" not in config
    assert f'"{EJABBERD_CONFIG_DIR / "thoonk-xmpp.yml"}":' in config


class WithoutPassword(EjabberdServer):
    """An ejabberd that includes the operator's file without giving the component a password."""

    def write_config(self) -> Path:
        path = super().write_config()
        config = path.read_text()
        path.write_text(re.sub(r"\n  THOONK_XMPP_HOSTS:\n(?:    .*\n)+", "\n", config))
        return path


def test_without_a_password_the_operators_file_stops_ejabberd_from_starting() -> None:
    server = WithoutPassword()
    try:
        with pytest.raises(RuntimeError) as refused:
            server.start()
    finally:
        server.close()

    # The listener's hosts map is left as the macro's name, which is no map.
    assert re.search(
        r"Invalid value of option listen->\d+->hosts: Expected map", str(refused.value)
    )


async def test_the_component_is_granted_its_xep0356_privileges(ejabberd: EjabberdServer) -> None:
    granted: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()

    def on_privilege(message: Any) -> None:
        if not granted.done():
            granted.set_result(message.xml)

    component = ComponentXMPP(ejabberd.component_jid, ejabberd.secret)
    component.register_handler(
        Callback(
            "privileges",
            MatchXPath(f"{{jabber:component:accept}}message/{{{PRIVILEGE}}}privilege"),
            on_privilege,
        )
    )
    await connect_component(component, ejabberd)
    try:
        message = await asyncio.wait_for(granted, TIMEOUT)
    finally:
        await disconnect(component)

    assert message.get("from") == ejabberd.domain
    perms = {
        (perm.get("access"), perm.get("type")) for perm in message.iter(f"{{{PRIVILEGE}}}perm")
    }
    assert perms == {("roster", "get"), ("presence", "roster"), ("message", "outgoing")}


async def test_a_second_connection_for_the_component_is_accepted(
    ejabberd: EjabberdServer,
) -> None:
    # Unlike Prosody (conflict): several instances may serve one domain (domain_balancing).
    first = ComponentXMPP(ejabberd.component_jid, ejabberd.secret)
    second = ComponentXMPP(ejabberd.component_jid, ejabberd.secret)
    try:
        await connect_component(first, ejabberd)
        await connect_component(second, ejabberd)
        assert first.sessionstarted and second.sessionstarted
    finally:
        await asyncio.gather(disconnect(first), disconnect(second))


def test_registering_an_existing_account_is_a_clear_error(ejabberd: EjabberdServer) -> None:
    ejabberd.register("taken", "pw-one")

    with pytest.raises(RuntimeError, match="register"):
        ejabberd.register("taken", "pw-two")
