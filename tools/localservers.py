"""Start throw-away servers on free loopback ports in temp dirs, and stop them.

Used by the test session, the benchmarks and the demo.  Never touches the
well-known ports (6379, 5222, 5269, 5347, 5280).  ejabberd's launcher is in
:mod:`tools.local_ejabberd`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

RESERVED_PORTS = frozenset({6379, 5222, 5223, 5269, 5347, 5280, 5281, 5443, 1883, 4369})
PROSODY_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "prosody"
#: Test-only Prosody modules (mod_s2s_test_routes: outgoing s2s to loopback ports).
PROSODY_TEST_PLUGINS = Path(__file__).resolve().parent / "prosody"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (never a well-known one)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def wait_for_port(
    port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def require(binary: str, package: str) -> str:
    """Path of ``binary``, or a clear error naming the apt package to install."""
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        raise RuntimeError(
            f"{binary} is not installed; run scripts/test.sh (it installs the Debian package {package})"
        )
    return path


class LocalServer:
    """A server process in its own session, with a private temp dir."""

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run ``argv`` detached from our session; its output goes to console.log."""
        with open(self.dir / "console.log", "ab") as console:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=None if env is None else {**os.environ, **env},
                start_new_session=True,
            )
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data dir."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete the temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RedisServer(LocalServer):
    """A private ``redis-server`` on a free loopback port, persisted nowhere unless asked."""

    def __init__(
        self,
        *,
        appendonly: bool = False,
        port: int | None = None,
        password: str | None = None,
        unix_socket: bool = False,
        replica_of: int | None = None,
    ) -> None:
        super().__init__("thoonk-redis-")
        self.port = port or free_port()
        self.appendonly = appendonly
        #: The port of the master this one replicates, if any.
        self.replica_of = replica_of
        #: ``requirepass``, when set.
        self.password = password
        self.unix_socket = unix_socket

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        return self.dir / "redis.sock"

    @property
    def unix_url(self) -> str:
        """The server's Unix socket (only with ``unix_socket=True``)."""
        auth = f":{self.password}@" if self.password else ""
        return f"unix://{auth}{self.socket_path}?db=0"

    def start(self) -> None:
        binary = require("redis-server", "redis-server")
        process = self._spawn(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
                *(["--requirepass", self.password] if self.password else []),
                *(
                    ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
                    if self.unix_socket
                    else []
                ),
                *(["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []),
            ]
        )
        wait_for_port(self.port, process=process)


class SentinelServer(LocalServer):
    """A private Redis Sentinel on a free loopback port watching one master (quorum 1)."""

    def __init__(self, master_port: int, name: str = "thoonk", down_after_ms: int = 500) -> None:
        super().__init__("thoonk-sentinel-")
        self.port = free_port()
        self.master_port = master_port
        self.name = name
        self.down_after_ms = down_after_ms

    def start(self) -> None:
        binary = require("redis-server", "redis-server")
        config = self.dir / "sentinel.conf"  # Sentinel rewrites its config file: one of its own
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.dir}\n"
            f"logfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.name} 2000\n"
        )
        process = self._spawn([binary, str(config), "--sentinel"])
        wait_for_port(self.port, process=process)


class XmppServer(Protocol):
    """What tests and benchmarks use of a test XMPP server (Prosody or ejabberd)."""

    dir: Path
    domain: str
    #: The address our component connects as, and its secret.
    component_jid: str
    secret: str
    #: The server's own pubsub service, for side-by-side benchmarks.
    pubsub_jid: str
    c2s_port: int
    component_port: int

    def register(self, user: str, password: str) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def errors(self) -> str: ...


PubsubStorage = Literal["memory", "internal"]


class ProsodyServer(LocalServer):
    """A private Prosody on free loopback ports, loading config/prosody/thoonk-xmpp.cfg.lua.

    ``pubsub_storage`` picks the storage of Prosody's own pubsub service at
    ``prosody-pubsub.<domain>`` (for benchmarks): ``"memory"`` or the default
    file storage, ``"internal"``.
    """

    def __init__(
        self,
        *,
        domain: str = "localhost",
        component_name: str = "pubsub",
        secret: str | None = None,
        pubsub_storage: PubsubStorage = "memory",
        admins: Sequence[str] = ("admin@localhost",),
        log_level: Literal["debug", "info", "warn"] = "info",
        privileged_hosts: str | None = None,
    ) -> None:
        super().__init__("thoonk-prosody-")
        #: THOONK_XMPP_PRIVILEGED_HOSTS for the component file (None: its default, the
        #: domain; "none": no XEP-0356 privilege granted).
        self.privileged_hosts = privileged_hosts
        self.domain = domain
        self.component_jid = f"{component_name}.{domain}"
        self.pubsub_jid = f"prosody-pubsub.{domain}"
        self.secret = secret or secrets.token_hex(16)
        self.pubsub_storage = pubsub_storage
        self.admins = tuple(admins)
        self.log_level = log_level
        self.c2s_port, self.s2s_port, self.component_port, self.http_port = free_ports(4)
        self.config_path = self.dir / "prosody.cfg.lua"

    @property
    def log_path(self) -> Path:
        return self.dir / "prosody.log"

    def _env(self) -> dict[str, str]:
        """What the included component file reads."""
        env = {"THOONK_XMPP_JID": self.component_jid, "THOONK_XMPP_SECRET": self.secret}
        if self.privileged_hosts is not None:
            env["THOONK_XMPP_PRIVILEGED_HOSTS"] = self.privileged_hosts
        return env

    def write_config(self) -> Path:
        """Write prosody.cfg.lua (and the data and certs dirs) into the temp dir."""
        template = string.Template((PROSODY_CONFIG_DIR / "test-server.cfg.lua.in").read_text())
        text = template.substitute(
            dir=self.dir,
            log_level=self.log_level,
            c2s_port=self.c2s_port,
            s2s_port=self.s2s_port,
            component_port=self.component_port,
            http_port=self.http_port,
            admins="; ".join(_lua_string(jid) for jid in self.admins),
            domain=self.domain,
            pubsub_storage=self.pubsub_storage,
            component_file=PROSODY_CONFIG_DIR / "thoonk-xmpp.cfg.lua",
            plugin_dir=PROSODY_TEST_PLUGINS,
            module_dir=PROSODY_CONFIG_DIR,
        )
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "certs").mkdir(exist_ok=True)
        self.config_path.write_text(text)
        return self.config_path

    def start(self) -> None:
        binary = require("prosody", "prosody")
        self.write_config()
        process = self._spawn([binary, "--config", str(self.config_path), "-F"], self._env())
        try:
            for port in (self.c2s_port, self.component_port):
                wait_for_port(port, process=process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}; Prosody said:\n{self.errors()}") from None

    def route_s2s(self, routes: Mapping[str, int]) -> None:
        """Send outgoing s2s for each domain to ``127.0.0.1:port`` (replacing earlier routes).

        Read by mod_s2s_test_routes at each new outgoing connection; ``{}`` undoes it.
        """
        lines = "".join(f"{domain} {port}\n" for domain, port in routes.items())
        path = self.dir / "s2s-routes"
        path.with_suffix(".new").write_text(lines)
        path.with_suffix(".new").replace(path)  # never read half-written

    def errors(self) -> str:
        """The last lines Prosody wrote to its console and error log."""
        lines: list[str] = []
        for name in ("console.log", "prosody.err"):
            path = self.dir / name
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()[-20:]
        return "\n".join(lines)

    def register(self, user: str, password: str) -> str:
        """Create the account ``user@domain`` (offline, through prosodyctl); returns its JID."""
        binary = require("prosodyctl", "prosody")
        if not self.config_path.exists():
            self.write_config()
        done = subprocess.run(
            [binary, "--config", str(self.config_path), "register", user, self.domain, password],
            env={**os.environ, **self._env()},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"prosodyctl register {user}@{self.domain} failed: {output}")
        return f"{user}@{self.domain}"


def _lua_string(text: str) -> str:
    """``text`` as a Lua string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
