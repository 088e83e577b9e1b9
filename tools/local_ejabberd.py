"""A throw-away ejabberd on free loopback ports, including config/ejabberd/thoonk-xmpp.yml.

Started through Debian's ``ejabberdctl`` with a private config dir, spool, logs,
node name and Erlang cookie.  Erlang distribution runs without epmd
(``ERL_DIST_PORT``: the node listens on one free loopback port, and
``ejabberdctl`` finds it there), so nothing touches port 4369 or another
ejabberd on the machine.  As root the node runs as the ``ejabberd`` user,
which therefore owns the temp dir; any other user runs it as themselves.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import string
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

from tools.localservers import LocalServer, free_ports, require, wait_for_port

EJABBERD_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "ejabberd"

#: The system user Debian's ejabberdctl switches to when run as root.
EJABBERD_USER = "ejabberd"

#: Seconds ejabberd may take to open its ports (about 3 s on an idle 2-core machine).
START_TIMEOUT = 60.0


class EjabberdServer(LocalServer):
    """A private ejabberd; its own pubsub service (mod_pubsub) is at ``ejabberd-pubsub.<domain>``."""

    def __init__(
        self,
        *,
        domain: str = "localhost",
        component_name: str = "pubsub",
        secret: str | None = None,
        log_level: Literal["debug", "info", "warning", "error"] = "warning",
        component_number: int | None = None,
    ) -> None:
        super().__init__("thoonk-ejabberd-")
        #: Connections sharing the component domain (``domain_balancing``), when several.
        self.component_number = component_number
        self.domain = domain
        self.component_jid = f"{component_name}.{domain}"
        self.pubsub_jid = f"ejabberd-pubsub.{domain}"
        self.secret = secret or secrets.token_hex(16)
        self.log_level = log_level
        ports = free_ports(5)
        self.c2s_port, self.component_port, self.http_port, self.dist_port = ports[:4]
        #: A second component address (same secret), for the benchmark's bare components.
        self.spare_component_jid = f"bench.{domain}"
        self.spare_component_port = ports[4]
        self.node = f"thoonk-{secrets.token_hex(4)}@localhost"
        self.cookie = secrets.token_hex(16)
        self.config_path = self.dir / "ejabberd.yml"
        self.ctl_config_path = self.dir / "ejabberdctl.cfg"
        #: Seconds the last start took, until every port listened.
        self.start_seconds = 0.0

    @property
    def log_path(self) -> Path:
        return self.dir / "logs" / "ejabberd.log"

    def write_config(self) -> Path:
        """Write ejabberd.yml and ejabberdctl.cfg (and the spool and log dirs)."""
        template = string.Template((EJABBERD_CONFIG_DIR / "test-server.yml.in").read_text())
        self.config_path.write_text(
            template.substitute(
                domain=self.domain,
                log_level=self.log_level,
                component_jid=self.component_jid,
                component_port=self.component_port,
                spare_component_jid=self.spare_component_jid,
                spare_component_port=self.spare_component_port,
                secret=self.secret,
                c2s_port=self.c2s_port,
                http_port=self.http_port,
                component_file=EJABBERD_CONFIG_DIR / "thoonk-xmpp.yml",
                domain_balancing=self._domain_balancing(),
            )
        )
        self.ctl_config_path.write_text(
            f"ERLANG_NODE={self.node}\n"
            # No epmd: the node listens for ejabberdctl on this port, loopback only.
            f"ERL_DIST_PORT={self.dist_port}\n"
            "INET_DIST_INTERFACE=127.0.0.1\n"
            f'ERL_OPTIONS="-setcookie {self.cookie}"\n'
            f"EJABBERD_PID_PATH={self.dir}/ejabberd.pid\n"
            "EJABBERD_BYPASS_WARNINGS=true\n"
        )
        # Erlang's resolver settings: none (the stock file is /etc/ejabberd/inetrc).
        (self.dir / "inetrc").write_text("")
        self._write_ctl()
        for sub in ("spool", "logs"):
            (self.dir / sub).mkdir(exist_ok=True)
        self._hand_over()
        return self.config_path

    def _domain_balancing(self) -> str:
        if self.component_number is None:
            return ""
        return (
            "domain_balancing:\n"
            f'  "{self.component_jid}":\n'
            "    type: bare_source\n"
            f"    component_number: {self.component_number}\n"
        )

    def _hand_over(self) -> None:
        """As root, give the temp dir to the ejabberd user the node runs as."""
        if os.geteuid() != 0:
            return
        user = _ejabberd_user()
        for path in (self.dir, *self.dir.rglob("*")):
            os.chown(path, user.pw_uid, user.pw_gid)

    def _write_ctl(self) -> None:
        """The package's ejabberdctl, run as whoever starts it.

        Debian's script only runs as root (then through ``su`` to the ejabberd user,
        in a session of its own that stop() could not reach) or as ejabberd itself;
        this copy leaves the choice of user to :meth:`_user_switch`.
        """
        script = Path(require("ejabberdctl", "ejabberd")).read_text()
        fixed = script.replace(f"\nINSTALLUSER={EJABBERD_USER}\n", "\nINSTALLUSER=\n", 1)
        if fixed == script:
            raise RuntimeError("ejabberdctl has no INSTALLUSER line; is this Debian's ejabberd?")
        path = self.dir / "ejabberdctl"
        path.write_text(fixed)
        path.chmod(0o755)

    def ctl_argv(self, *command: str) -> list[str]:
        """Our ejabberdctl with this server's private options, then ``command``."""
        return [
            str(self.dir / "ejabberdctl"),
            "--config-dir",
            str(self.dir),
            "--config",
            str(self.config_path),
            "--ctl-config",
            str(self.ctl_config_path),
            "--logs",
            str(self.dir / "logs"),
            "--spool",
            str(self.dir / "spool"),
            *command,
        ]

    def start(self) -> None:
        self.write_config()
        began = time.monotonic()
        with open(self.dir / "console.log", "ab") as console:
            self.process = process = subprocess.Popen(
                self.ctl_argv("foreground"),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._user_switch(),
            )
        try:
            for port in (self.c2s_port, self.component_port, self.http_port):
                wait_for_port(port, START_TIMEOUT - (time.monotonic() - began), process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}; ejabberd said:\n{self.errors()}") from None
        self.start_seconds = time.monotonic() - began

    def _user_switch(self) -> dict[str, Any]:
        """Popen arguments: as root, run as the ejabberd user; otherwise as ourselves."""
        env = {**os.environ, "HOME": str(self.dir)}
        if os.geteuid() != 0:
            return {"env": env}
        user = _ejabberd_user()
        env |= {"USER": user.pw_name, "LOGNAME": user.pw_name}
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": env}

    def stop(self) -> None:
        """SIGTERM to the Erlang VM (a clean stop; ejabberdctl exits with it), then wait.

        Signalling the whole group would end ejabberdctl first and leave the VM
        shutting down unwatched; the group is the fallback before the VM wrote its pid.
        """
        process = self.process
        if process is not None and process.poll() is None:
            vm_pid = self.vm_pid()
            if vm_pid is None:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                os.kill(vm_pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.process = None

    def vm_pid(self) -> int | None:
        """The Erlang VM's pid (from the pid file ejabberd writes once started)."""
        try:
            return int((self.dir / "ejabberd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def errors(self) -> str:
        """The last lines ejabberd wrote to its console and logs."""
        lines: list[str] = []
        for path in (self.dir / "console.log", self.dir / "logs" / "error.log", self.log_path):
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()[-20:]
        return "\n".join(lines)

    def register(self, user: str, password: str) -> str:
        """Create the account ``user@domain`` through the admin API; returns its JID."""
        answer = self.api("register", {"user": user, "host": self.domain, "password": password})
        if not isinstance(answer, str):
            raise RuntimeError(f"ejabberd register {user}@{self.domain}: {answer!r}")
        return f"{user}@{self.domain}"

    def api(self, command: str, arguments: dict[str, str]) -> object:
        """Call an ejabberd command over mod_http_api on loopback; its JSON answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/{command}",
            data=json.dumps(arguments).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"ejabberd {command} failed: {exc.code} {detail}") from None


def _ejabberd_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(EJABBERD_USER)
    except KeyError:
        raise RuntimeError(
            f"no {EJABBERD_USER} user; run scripts/test.sh (it installs the Debian package ejabberd)"
        ) from None
