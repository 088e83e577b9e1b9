"""The bridge benchmark's world: Redis, two Prosodys, accounts, our component process, CPU use.

Prosody "A" keeps Prosody's own pubsub in memory and also routes for our
component; Prosody "B" keeps its pubsub in the default file storage.  Both
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
from tools.localservers import ProsodyServer, RedisServer

#: The publisher; Prosody's pubsub lets only admins create nodes.
PUBLISHER = "admin"
_TICK = os.sysconf("SC_CLK_TCK")


def register_accounts(server: ProsodyServer, users: list[str], password: str) -> None:
    """Create the accounts through prosodyctl, a few at a time (each is a process)."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda user: server.register(user, password), users))


@dataclass
class Target:
    """One pubsub service under test, the clients that use it and its server processes."""

    name: str
    server: ProsodyServer
    service: str
    publisher: RawClient
    subscribers: list[RawClient]
    #: label → pid of every server-side process this target runs on.
    processes: dict[str, int] = field(default_factory=dict)


class ComponentProcess:
    """``python -m thoonk_xmpp run`` in its own process, with a generated settings file."""

    def __init__(self, redis: RedisServer, prosody: ProsodyServer, max_items: int) -> None:
        self.dir = prosody.dir / "component"
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "thoonk_xmpp.toml"
        self.log = self.dir / "component.log"
        self.config.write_text(
            "[component]\n"
            f'jid = "{prosody.component_jid}"\n'
            f'secret = "{prosody.secret}"\n'
            'host = "127.0.0.1"\n'
            f"port = {prosody.component_port}\n"
            "[redis]\n"
            f'url = "{redis.url}"\n'
            "[pubsub]\n"
            f'admins = ["{PUBLISHER}@{prosody.domain}"]\n'
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


@contextlib.contextmanager
def servers(max_items: int) -> Iterator[tuple[RedisServer, ProsodyServer, ProsodyServer]]:
    """Redis, Prosody A (memory pubsub) and Prosody B (file pubsub), all stopped at the end."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        admins = (f"{PUBLISHER}@localhost",)
        memory = stack.enter_context(ProsodyServer(pubsub_storage="memory", admins=admins))
        files = stack.enter_context(ProsodyServer(pubsub_storage="internal", admins=admins))
        yield redis, memory, files


def new_password() -> str:
    return secrets.token_hex(8)
