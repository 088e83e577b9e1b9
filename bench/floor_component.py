"""The latency floor: the least any Redis-backed external pubsub component can do.

Run as its own process (``python -m bench.floor_component``), like our
component.  For each publish IQ it receives it makes one Redis round trip
(``PUBLISH`` of the payload, standing for "store and announce"), then writes
the IQ result and one event message to each of the first N subscribers, N
being the number after ``floor-`` in the node name.  No XML parsing (regexes
over the raw stream), no Redis client library (raw RESP), one IQ at a time:
nothing a real service could leave out, so the hops (client → Prosody →
component → Redis → component → Prosody → subscriber) are all that is left.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.xmpp_load import RawComponent, event_message

_IQ = re.compile(rb"<iq\b[^>]*>.*?</iq>", re.DOTALL)
_ATTR = re.compile(rb"""\b(id|from)=(['"])(.*?)\2""")
_NODE = re.compile(rb"""<publish node=(['"])floor-(\d+)-[^'"]*\1""")
_PAYLOAD = re.compile(rb"<t xmlns=['\"]urn:x-bridge-bench['\"]>.*?</t>", re.DOTALL)


def _resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


async def serve(component: RawComponent, redis_port: int, subscribers: Sequence[str]) -> None:
    """Answer publish IQs until the stream ends."""
    assert component.reader is not None and component.writer is not None
    redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", redis_port)
    buffer = b""
    sequence = 0
    while True:
        data = await component.reader.read(65536)
        if not data:
            return
        buffer += data
        end = 0
        for found in _IQ.finditer(buffer):
            end = found.end()
            stanza = found.group()
            head = stanza[: stanza.index(b">")]
            attrs = {m.group(1): m.group(3).decode() for m in _ATTR.finditer(head)}
            node = _NODE.search(stanza)
            item = _PAYLOAD.search(stanza)
            if node is None or item is None:
                continue
            redis_writer.write(_resp(b"PUBLISH", b"floor", item.group()))
            await redis_reader.readline()
            sequence += 1
            me, sender, iq_id = component.jid, attrs.get(b"from", ""), attrs.get(b"id", "")
            out = [f"<iq type='result' from='{me}' to='{sender}' id='{iq_id}'/>"]
            for k, jid in enumerate(subscribers[: int(node.group(2))]):
                out.append(
                    event_message(
                        me, jid, f"f{sequence}-{k}", "floor", f"i{sequence}", item.group().decode()
                    )
                )
            component.writer.write("".join(out).encode())
        buffer = buffer[end:]


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_component", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="Prosody's component port")
    parser.add_argument("--jid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("subscribers", nargs="*", help="JIDs to notify, in subscriber order")
    args = parser.parse_args(argv)
    component = RawComponent(args.jid, args.secret)
    await component.connect("127.0.0.1", args.port)
    print("ready", flush=True)
    try:
        await serve(component, args.redis_port, args.subscribers)
    finally:
        await component.close()


class FloorProcess:
    """``python -m bench.floor_component`` as a child process, for one measurement."""

    def __init__(self, port: int, jid: str, secret: str, redis_port: int) -> None:
        #: The component address the floor takes.
        self.jid = jid
        self.args = [
            "--port", str(port), "--jid", jid, "--secret", secret, "--redis-port", str(redis_port)
        ]  # fmt: skip
        self.process: asyncio.subprocess.Process | None = None
        self.cwd = Path(__file__).resolve().parent.parent

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, subscribers: Sequence[str], attempts: int = 5) -> None:
        """Start it and wait until its component session is up.

        Tried again a few times: the server may not have released the
        component address of a session that just ended.
        """
        for attempt in range(attempts):
            if await self._start(subscribers):
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError("the floor component could not open its session")

    async def _start(self, subscribers: Sequence[str]) -> bool:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.floor_component",
            *self.args,
            *subscribers,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.cwd,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 15)
        if line.strip() == b"ready":
            return True
        await self.stop()
        return False

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


if __name__ == "__main__":
    asyncio.run(main())
