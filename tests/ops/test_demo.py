"""The demo (scripts/demo.sh → tools/demo.py): runs, and Ctrl-C or SIGTERM stops it and
every server it started.

Each run gets a unique tag in its environment, inherited by every process it starts
(redis-server, Prosody, the bridge, the demo session); "nothing left behind" means no
process carrying the tag is alive afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAG = "THOONK_DEMO_TEST_TAG"
#: Longest the demo may take to end after a signal (a failure bound, not a speed goal).
STOP_BOUND = 60.0


def tagged_processes(tag: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"{TAG}={tag}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def alive(pids: list[int]) -> list[str]:
    """Those of ``pids`` still running (zombies count as gone), with their command lines."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state != "Z":
            running.append(f"{pid} {command}")
    return running


class Demo:
    """``python -m tools.demo`` in a session of its own, as a terminal would run a job."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(8)
        env = {**os.environ, TAG: self.tag, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.demo"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            # Whatever started pytest, Ctrl-C must act as in a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []

    def wait_for(self, text: str) -> None:
        assert self.process.stdout is not None
        while not any(text in line for line in self.lines):
            line = self.process.stdout.readline()
            assert line, f"the demo ended before {text!r}:\n{''.join(self.lines)}"
            self.lines.append(line)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=STOP_BOUND)
        return self.process.returncode, "".join(self.lines) + out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in tagged_processes(self.tag):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def demo() -> Iterator[Demo]:
    started = Demo()
    try:
        yield started
    finally:
        started.kill()


def pids_in(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"\(.*pid (\d+)\)", output)]


def test_demo_runs_and_leaves_nothing_behind(demo: Demo) -> None:
    status, out, err = demo.finish()

    assert status == 0, out + err
    assert "demo finished: XMPP and Thoonk saw each other's items" in out
    assert len(pids_in(out)) == 3  # redis-server, Prosody, the bridge
    assert alive(tagged_processes(demo.tag)) == []
    workdir = re.search(r"--config (\S+)/thoonk_xmpp.toml", out)
    assert workdir is not None and not Path(workdir[1]).exists()


@pytest.mark.parametrize(
    "moment", ["starting Prosody", "thoonk-xmpp run --config", "are logged in to"]
)
def test_ctrl_c_stops_the_demo_and_its_servers(demo: Demo, moment: str) -> None:
    demo.wait_for(moment)
    os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does

    status, out, err = demo.finish()
    assert status == 130, out + err
    assert "demo: interrupted" in err
    assert "Traceback" not in err
    assert alive(tagged_processes(demo.tag)) == []


def test_sigterm_stops_the_demo_and_its_servers(demo: Demo) -> None:
    demo.wait_for("python -m thoonk_xmpp.demo")
    demo.process.terminate()

    status, out, err = demo.finish()
    assert status == 128 + signal.SIGTERM, out + err
    assert "demo: terminated; servers stopped" in err
    assert alive(tagged_processes(demo.tag)) == []


def test_setup_needs_no_sudo_as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("checks running as root; this test run is not root")
    no_sudo = os.pathsep.join(
        folder
        for folder in os.environ["PATH"].split(os.pathsep)
        if folder and not (Path(folder) / "sudo").exists()
    )
    script = (
        'root="$1"; source "$root/scripts/_setup.sh"; '
        "ensure_packages redis-server:redis-server prosody:prosody; as_root id -u"
    )
    done = subprocess.run(
        ["bash", "-euc", script, "setup", str(ROOT)],
        env={**os.environ, "PATH": no_sudo},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert "sudo" not in done.stderr


def test_a_shared_venv_is_used_as_it_is(tmp_path: Path) -> None:
    """A worktree whose .venv links to another checkout's never reinstalls into it."""
    shared = Path(sys.executable).parent.parent
    (tmp_path / ".venv").symlink_to(shared)
    # Unparseable: were it installed after all, pip would stop before changing anything.
    (tmp_path / "pyproject.toml").write_text("[project\n")
    before = sorted(p.name for p in shared.iterdir())
    script = 'root="$1"; source "$2"; ensure_venv; command -v python'
    done = subprocess.run(
        ["bash", "-euc", script, "setup", str(tmp_path), str(ROOT / "scripts" / "_setup.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "using" in done.stdout and "as it is" in done.stdout
    assert "pip install" not in done.stdout
    assert done.stdout.splitlines()[-1] == str(tmp_path / ".venv" / "bin" / "python")
    assert sorted(p.name for p in shared.iterdir()) == before  # no new .installed-* stamp
