"""The demo's servers: what ``scripts/demo.sh`` runs once the packages and the venv are there.

Starts, each on free loopback ports in a temp dir: a private redis-server, a private
Prosody loading config/prosody/thoonk-xmpp.cfg.lua with two demo accounts, and the
bridge itself (``thoonk-xmpp run``, the secret passed in ``THOONK_XMPP_SECRET``). Then it
runs ``python -m thoonk_xmpp.demo`` in the foreground and stops everything when the demo
ends, fails or is interrupted (Ctrl-C or SIGTERM; exit status 130 or 143).

The servers run in sessions of their own, so a Ctrl-C in the terminal reaches only
this process and the demo session: they are stopped here, in order (bridge, Prosody,
Redis), instead of dying under the demo mid-step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from tools.localservers import ProsodyServer, RedisServer

#: Longest the bridge may take to say it serves.
BRIDGE_START_TIMEOUT = 30.0
#: The bridge's log line once its component session is up.
SERVING = "serving"


class DemoSetupFailed(Exception):
    """A server of the demo would not start; the message says which and why."""


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


class StopSignals:
    """Ctrl-C (KeyboardInterrupt) and SIGTERM (SystemExit 143) end the demo.

    Only the first one counts: later ones may not cut the teardown short. Inside
    :meth:`deferred` (starting a process and taking note of it) the exception waits for
    the end of the block, so no server is started without being stopped.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.deferring = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.deferring:
            self.pending = signum
            return
        raise self.exception(signum)

    @staticmethod
    def exception(signum: int) -> BaseException:
        return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        except Exception:
            # A process that got the signal too (started as it came) is no error of its own.
            if self.pending is not None:
                raise self.exception(self.pending) from None
            raise
        finally:
            self.deferring = False
        if self.pending is not None:
            raise self.exception(self.pending)


SIGNALS = StopSignals()


def _stop(process: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """Let it end within ``grace`` seconds, else TERM, then KILL after 10 s more."""
    for stop in (None, process.terminate, process.kill):
        if stop is not None:
            stop()
        try:
            process.wait(grace if stop is None else 10)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def bridge(
    prosody: ProsodyServer, redis_url: str, workdir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``thoonk-xmpp run`` for these servers, serving until the block ends."""
    config = workdir / "thoonk_xmpp.toml"
    config.write_text(
        "[component]\n"
        f'jid = "{prosody.component_jid}"\n'
        'host = "127.0.0.1"\n'
        f"port = {prosody.component_port}\n"
        "[redis]\n"
        f'url = "{redis_url}"\n'
        "[pubsub]\n"
        'node_creation = "local"\n'
        "[log]\n"
        'level = "info"\n'
    )
    log = workdir / "bridge.log"
    say(f"thoonk-xmpp run --config {config}  (secret in $THOONK_XMPP_SECRET)")
    process: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as output, SIGNALS.deferred():
            process = subprocess.Popen(
                [sys.executable, "-m", "thoonk_xmpp", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "THOONK_XMPP_SECRET": prosody.secret},
                start_new_session=True,
            )
        deadline = time.monotonic() + BRIDGE_START_TIMEOUT
        while SERVING not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise DemoSetupFailed(
                    "thoonk-xmpp is not serving; its log:\n" + log.read_text(errors="replace")
                )
            time.sleep(0.05)
        say(f"thoonk-xmpp serves {prosody.component_jid} (pid {process.pid})")
        yield process
    finally:
        if process is not None:
            _stop(process)


def _session(argv: list[str]) -> int:
    """Run the demo session in our process group: a Ctrl-C reaches it as well as us."""
    session: subprocess.Popen[bytes] | None = None
    grace = 0.0
    try:
        with SIGNALS.deferred():
            session = subprocess.Popen(argv)
        return session.wait()
    except KeyboardInterrupt:
        grace = 5.0  # the Ctrl-C reached the session too: it ends by itself
        raise
    finally:
        if session is not None:
            _stop(session, grace)


def run(demo_args: Sequence[str]) -> int:
    """Bring the servers up, run the demo session, tear everything down; the exit status."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="thoonk-demo-")))
        with SIGNALS.deferred():
            redis = stack.enter_context(RedisServer())
        say(f"redis-server at {redis.url} (pid {redis.process.pid if redis.process else '?'})")

        say("starting Prosody (config/prosody/thoonk-xmpp.cfg.lua included)")
        with SIGNALS.deferred():
            prosody = stack.enter_context(ProsodyServer())
        accounts: list[str] = []
        for user in ("alice", "bob"):
            # Hex: a password starting with '-' would read as an option on the demo's command line.
            password = secrets.token_hex(12)
            accounts += ["--account", prosody.register(user, password), password]
        pid = prosody.process.pid if prosody.process else "?"
        say(
            f"Prosody at 127.0.0.1:{prosody.c2s_port} "
            f"(components on port {prosody.component_port}, pid {pid})"
        )

        process = stack.enter_context(bridge(prosody, redis.url, workdir))
        say("python -m thoonk_xmpp.demo")
        status = _session(
            [
                sys.executable,
                "-m",
                "thoonk_xmpp.demo",
                "--redis",
                redis.url,
                "--xmpp",
                f"127.0.0.1:{prosody.c2s_port}",
                "--service",
                prosody.component_jid,
                *accounts,
                *demo_args,
            ]
        )
        if status != 0 and process.poll() is None:
            print("demo: the bridge's log:", file=sys.stderr)
            print((workdir / "bridge.log").read_text(errors="replace"), file=sys.stderr)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    SIGNALS.install()
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print("demo: interrupted; servers stopped", file=sys.stderr)
        return 130
    except SystemExit as exit_:
        if exit_.code == 128 + signal.SIGTERM:
            print("demo: terminated; servers stopped", file=sys.stderr)
        raise
    except (DemoSetupFailed, RuntimeError, TimeoutError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
