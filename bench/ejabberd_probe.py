"""Runs ``bench/ejabberd_probe.erl`` on the bench's ejabberd node during a measurement.

A hidden Erlang node (no epmd: ``-erl_epmd_port`` names the port the bench's
ejabberd listens on for distribution, see ``tools/local_ejabberd.py``) loads the
module into the VM and samples its processes; the report names the busiest ones.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.local_ejabberd import EjabberdServer
from tools.localservers import XmppServer

SOURCE = Path(__file__).with_name("ejabberd_probe.erl")


class Probe:
    """Compiled once (``erlc`` into a temp dir), then :meth:`sample` as often as needed."""

    def __init__(self, server: XmppServer) -> None:
        if not isinstance(server, EjabberdServer):
            raise TypeError("the probe samples an ejabberd")
        if shutil.which("erlc") is None:
            raise RuntimeError("--probe needs erlc (Debian: erlang-base, installed with ejabberd)")
        self.server = server
        self._dir = tempfile.TemporaryDirectory(prefix="ejabberd-probe-")
        subprocess.run(["erlc", "-o", self._dir.name, str(SOURCE)], check=True)

    async def sample(self, delay: float, milliseconds: int) -> str:
        """After ``delay`` seconds, ``milliseconds`` of sampling; the report's lines."""
        await asyncio.sleep(delay)
        server = self.server
        process = await asyncio.create_subprocess_exec(
            "erl", "-noshell", "-hidden", "-sname", f"probe{secrets.token_hex(3)}@localhost",
            "-setcookie", server.cookie, "-erl_epmd_port", str(server.dist_port),
            "-start_epmd", "false", "-dist_listen", "false", "-pa", self._dir.name,
            "-run", "ejabberd_probe", "run", server.node, str(milliseconds),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=self._dir.name,
        )  # fmt: skip
        out, _ = await process.communicate()
        return out.decode(errors="replace").rstrip()

    def close(self) -> None:
        self._dir.cleanup()
