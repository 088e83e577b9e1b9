"""The bridge benchmark's world: Redis, the XMPP servers, accounts, our component, CPU use.

With Prosody (the default): Prosody "A" keeps Prosody's own pubsub in memory and
also routes for our component; Prosody "B" keeps its pubsub in the default file
storage, and takes the bare components (latency floor, routing ceiling).  With
ejabberd: one ejabberd routes for our component and runs its own mod_pubsub
(Mnesia); the bare components connect to its second component listener.  All
run side by side so that noise hits every target alike.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.xmpp_load import RawClient
from tools.local_ejabberd import EjabberdServer
from tools.localservers import ProsodyServer, RedisServer, XmppServer

#: The publisher; Prosody's pubsub lets only admins create nodes.
PUBLISHER = "admin"
_TICK = os.sysconf("SC_CLK_TCK")


def register_accounts(server: XmppServer, users: list[str], password: str) -> None:
    """Create the accounts, a few at a time (prosodyctl: a process each; ejabberd: HTTP)."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda user: server.register(user, password), users))


@dataclass
class Target:
    """One pubsub service under test, the clients that use it and its server processes."""

    name: str
    server: XmppServer
    service: str
    publisher: RawClient
    subscribers: list[RawClient]
    #: label → pid of every server-side process this target runs on.
    processes: dict[str, int] = field(default_factory=dict)


class ComponentProcess:
    """``python -m thoonk_xmpp run`` in its own process, with a generated settings file."""

    def __init__(self, redis: RedisServer, server: XmppServer, max_items: int) -> None:
        self.dir = server.dir / "component"
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "thoonk_xmpp.toml"
        self.log = self.dir / "component.log"
        self.config.write_text(
            "[component]\n"
            f'jid = "{server.component_jid}"\n'
            f'secret = "{server.secret}"\n'
            'host = "127.0.0.1"\n'
            f"port = {server.component_port}\n"
            "[redis]\n"
            f'url = "{redis.url}"\n'
            "[pubsub]\n"
            f'admins = ["{PUBLISHER}@{server.domain}"]\n'
            "[pubsub.default_node]\n"
            f"max_items = {max_items}\n"
            "[log]\n"
            'level = "warning"\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "thoonk_xmpp", "run", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
                start_new_session=True,
            )

    def check(self) -> None:
        """Raise with the component's log if it exited."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the component exited with status {self.process.returncode}:\n{self.tail()}"
            )

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class CpuMeter:
    """CPU seconds used by named processes between two readings, as % of one core."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._time = 0.0

    @staticmethod
    def seconds(pid: int) -> float:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def begin(self) -> None:
        self._time = time.monotonic()
        self._start = {name: self.seconds(pid) for name, pid in self.pids.items()}

    def end(self) -> dict[str, float]:
        elapsed = time.monotonic() - self._time
        return {
            name: 100 * (self.seconds(pid) - self._start[name]) / elapsed
            for name, pid in self.pids.items()
        }


def describe_cpu(use: dict[str, float]) -> str:
    return " ".join(f"{name} {percent:.0f}%" for name, percent in use.items())


@dataclass
class World:
    """The servers of one benchmark run and where each target and bare component lives."""

    redis: RedisServer
    #: The server our component connects to.
    home: XmppServer
    #: The server's own pubsub services: target name → (server, service JID).
    references: dict[str, tuple[XmppServer, str]]
    #: Where the bare components (latency floor, routing ceiling) connect: port, JID, secret,
    #: and the reference whose clients they send to.
    spare_port: int
    spare_jid: str
    spare_secret: str
    spare_target: str
    #: The reference the throughput aim and the latency aim are measured against.
    throughput_reference: str
    latency_reference: str

    @property
    def server_label(self) -> str:
        """What the XMPP server processes are called in the CPU figures."""
        return "ejabberd" if isinstance(self.home, EjabberdServer) else "prosody"


@contextlib.contextmanager
def prosody_world() -> Iterator[World]:
    """Redis, Prosody A (memory pubsub) and Prosody B (file pubsub), all stopped at the end."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        admins = (f"{PUBLISHER}@localhost",)
        memory = stack.enter_context(ProsodyServer(pubsub_storage="memory", admins=admins))
        files = stack.enter_context(ProsodyServer(pubsub_storage="internal", admins=admins))
        yield World(
            redis,
            memory,
            {
                "prosody-memory": (memory, memory.pubsub_jid),
                "prosody-file": (files, files.pubsub_jid),
            },
            files.component_port,
            files.component_jid,
            files.secret,
            "prosody-file",
            throughput_reference="prosody-file",
            latency_reference="prosody-memory",
        )


@contextlib.contextmanager
def ejabberd_world() -> Iterator[World]:
    """Redis and one ejabberd (its mod_pubsub on Mnesia), all stopped at the end."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        server = stack.enter_context(EjabberdServer())
        print(f"ejabberd started in {server.start_seconds:.1f} s", flush=True)
        yield World(
            redis,
            server,
            {"ejabberd-mnesia": (server, server.pubsub_jid)},
            server.spare_component_port,
            server.spare_component_jid,
            server.secret,
            "ejabberd-mnesia",
            throughput_reference="ejabberd-mnesia",
            latency_reference="ejabberd-mnesia",
        )


def new_password() -> str:
    return secrets.token_hex(8)
