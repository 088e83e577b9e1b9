"""Whether the interop peers (thoonk.py 1.0.1.0 under Python 2.7, thoonk.js 0.5.5 under
Node.js) can run on this machine.

``scripts/interop-setup.sh`` installs the peer and exits with status 2 when there is no
Python 2.7 interpreter at all. Plain Debian 12 has none, so on a developer's machine that
means the interop tests are skipped, with one line saying so; under ``CI=true`` it is a
failure, because CI promises that every interop peer was checked. Any other failure of
the setup (pip cannot fetch thoonk.py, the install does not import) is always a failure.

thoonk.js is the same story with ``scripts/interop-setup-js.sh``: without Node.js and
npm (``apt install nodejs npm``; scripts/test.sh installs them) or without the thoonk.js
snapshot, its tests (``tests/interop/test_js_*.py``) are skipped in one line, and under
``CI=true`` they fail.

``tests/interop/conftest.py`` and ``scripts/test.sh`` (through ``python -m tools.interop``
and ``python -m tools.interop js``) both decide here, so they cannot disagree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "interop-setup.sh"
TARGET = ROOT / ".interop" / "py2"
JS_SETUP = ROOT / "scripts" / "interop-setup-js.sh"
#: Where interop-setup-js.sh installs thoonk.js: JS_TARGET / "thoonk".
JS_TARGET = ROOT / ".interop" / "js"
#: The setup scripts' exit status when the peer's runtime (Python 2.7, Node.js) is missing.
NO_INTERPRETER = 2


class PeerState(Enum):
    READY = "ready"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class InteropPeer:
    """The outcome of preparing the peer: ``python`` is set only when READY."""

    state: PeerState
    message: str
    python: str | None = None


def in_ci(env: Mapping[str, str]) -> bool:
    """True under CI (``CI=true``, as GitHub, GitLab and most CI services set it)."""
    return env.get("CI", "").strip().lower() in ("true", "1")


def decide(returncode: int, stdout: str, stderr: str, env: Mapping[str, str]) -> InteropPeer:
    """What the setup script's result means here, given the environment."""
    if returncode == 0:
        python = stdout.strip().splitlines()[-1]
        return InteropPeer(PeerState.READY, f"interop peer: thoonk.py under {python}", python)
    if returncode == NO_INTERPRETER and not in_ci(env):
        return InteropPeer(
            PeerState.SKIP,
            "interop tests skipped: no Python 2.7 for thoonk.py 1.0.1.0 (set PYTHON2 or "
            "`pyenv install 2.7.18` to run them; under CI=true this is a failure)",
        )
    reason = "CI=true requires every interop peer. " if returncode == NO_INTERPRETER else ""
    return InteropPeer(
        PeerState.FAIL,
        f"{reason}interop tests need Python 2.7 with thoonk==1.0.1.0 "
        f"(scripts/interop-setup.sh exited {returncode}):\n{stderr.strip()}",
    )


def decide_js(returncode: int, stdout: str, stderr: str, env: Mapping[str, str]) -> InteropPeer:
    """What interop-setup-js.sh's result means here; ``python`` is then node's path."""
    if returncode == 0:
        node = stdout.strip().splitlines()[-1]
        return InteropPeer(PeerState.READY, f"interop peer: thoonk.js under {node}", node)
    said = [line for line in stderr.splitlines() if line.startswith("interop-setup-js: ")]
    why = said[-1].removeprefix("interop-setup-js: ") if said else stderr.strip()
    if returncode == NO_INTERPRETER and not in_ci(env):
        return InteropPeer(
            PeerState.SKIP,
            f"thoonk.js interop tests skipped: {why} (under CI=true this is a failure)",
        )
    reason = "CI=true requires every interop peer. " if returncode == NO_INTERPRETER else ""
    return InteropPeer(
        PeerState.FAIL,
        f"{reason}thoonk.js interop tests need Node.js, npm and thoonk.js 0.5.5 "
        f"(scripts/interop-setup-js.sh exited {returncode}):\n{stderr.strip()}",
    )


def _run_setup(script: Path, environ: dict[str, str], timeout: float) -> tuple[int, str, str]:
    done = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environ,
    )
    return done.returncode, done.stdout, done.stderr


def prepare(env: Mapping[str, str] | None = None, timeout: float = 600) -> InteropPeer:
    """Run the thoonk.py setup script (quick once installed) and decide."""
    environ = dict(os.environ if env is None else env)
    return decide(*_run_setup(SETUP, environ, timeout), environ)


def prepare_js(env: Mapping[str, str] | None = None, timeout: float = 600) -> InteropPeer:
    """Run the thoonk.js setup script (quick once installed) and decide."""
    environ = dict(os.environ if env is None else env)
    return decide_js(*_run_setup(JS_SETUP, environ, timeout), environ)


def main(argv: list[str] | None = None) -> int:
    """For scripts/test.sh: one line on stdout; status 1 only when it is a failure.

    No argument: the thoonk.py peer; ``js``: the thoonk.js peer.
    """
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["py2"], ["js"]):
        print("usage: python -m tools.interop [py2|js]", file=sys.stderr)
        return 2
    peer = prepare_js() if args == ["js"] else prepare()
    if peer.state is PeerState.FAIL:
        print(peer.message, file=sys.stderr)
        return 1
    print(peer.message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
