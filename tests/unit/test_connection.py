"""Our hiredis packer must put the same bytes on the wire as redis-py's own."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from thoonk_xmpp.thoonk.connection import HiredisPackingConnection

COMMANDS = [
    ("EVALSHA", "0123abcd", 2, b"feeds", b"feed.ids:n", "n", b"id\x00x", 1.5),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", b"thoonk"),
    ("PUBLISH", "feed.publish:caf\u00e9", "\u00e9t\u00e9"),
    ("BLMOVE", b"k", b"k", "RIGHT", "RIGHT", "0.500"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_same_bytes_as_redis_py(command: tuple[object, ...]) -> None:
    ours = b"".join(HiredisPackingConnection().pack_command(*command))
    theirs = b"".join(Connection().pack_command(*command))
    assert ours == theirs
