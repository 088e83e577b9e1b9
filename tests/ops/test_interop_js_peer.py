"""The thoonk.js peer's policy: run where Node.js, npm and the thoonk.js snapshot exist,
skip its tests with one line where they do not, and fail under CI=true
(tools/interop.py, used by pytest and scripts/test.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tools.interop import NO_INTERPRETER, ROOT, PeerState, decide_js, prepare_js

NO_NODE = "interop-setup-js: no Node.js ('/nonexistent/node' not found; apt install nodejs npm, or set NODE)"


def without_node(**extra: str) -> dict[str, str]:
    """This environment with no Node.js to be found, and not under CI unless asked."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NODE", "NPM")}
    return {**env, "NODE": "/nonexistent/node", **extra}


@pytest.mark.parametrize(
    ("returncode", "ci", "state"),
    [
        (0, "", PeerState.READY),
        (0, "true", PeerState.READY),
        (NO_INTERPRETER, "", PeerState.SKIP),
        (NO_INTERPRETER, "true", PeerState.FAIL),
        (1, "", PeerState.FAIL),
        (1, "true", PeerState.FAIL),
    ],
)
def test_decision_table(returncode: int, ci: str, state: PeerState) -> None:
    peer = decide_js(returncode, "npm noise\n/usr/bin/node\n", NO_NODE, {"CI": ci})

    assert peer.state is state
    assert peer.python == ("/usr/bin/node" if state is PeerState.READY else None)


def test_no_node_is_one_clear_skip() -> None:
    peer = prepare_js(without_node())

    assert peer.state is PeerState.SKIP
    assert "\n" not in peer.message
    assert peer.message.startswith("thoonk.js interop tests skipped: no Node.js")
    assert "CI=true" in peer.message


def test_no_snapshot_is_a_skip_naming_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    peer = prepare_js({**env, "THOONK_JS_SOURCE": "/nonexistent/thoonk.js"})

    assert peer.state is PeerState.SKIP
    assert "no thoonk.js snapshot at /nonexistent/thoonk.js" in peer.message


def test_no_node_under_ci_fails_naming_the_cause() -> None:
    peer = prepare_js(without_node(CI="true"))

    assert peer.state is PeerState.FAIL
    assert "CI=true requires every interop peer" in peer.message
    assert "no Node.js" in peer.message


def test_this_machine_runs_or_skips_never_fails() -> None:
    peer = prepare_js({k: v for k, v in os.environ.items() if k != "CI"})

    assert peer.state is not PeerState.FAIL, peer.message
    if peer.state is PeerState.READY:
        assert peer.python is not None and os.path.basename(peer.python) == "node"


def run_tool(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.interop", "js"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_test_sh_step_passes_with_one_line_without_node() -> None:
    done = run_tool(without_node())

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith("thoonk.js interop tests skipped:")


def test_test_sh_step_fails_without_node_under_ci() -> None:
    done = run_tool(without_node(CI="true"))

    assert done.returncode == 1
    assert "no Node.js" in done.stderr


def run_js_interop_file(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One thoonk.js interop file beside one quick unit test file."""
    command = [
        "tests/interop/test_js_queues.py",
        "tests/unit/test_keys.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_js_interop_tests_are_skipped_in_one_line_without_node() -> None:
    done = run_js_interop_file(without_node())

    assert done.returncode == 0, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if "interop tests skipped" in line]
    assert len(said) == 1, done.stdout
    count, _, message = said[0].partition(" ")
    assert message.startswith("thoonk.js interop tests skipped: no Node.js")
    assert int(count) >= 5
    assert f" passed, {count} deselected in " in done.stdout
    assert "error" not in done.stdout.lower()


def test_js_interop_tests_error_without_node_under_ci() -> None:
    done = run_js_interop_file(without_node(CI="true"))

    assert done.returncode == 1
    assert "CI=true requires every interop peer" in done.stdout
    assert re.search(r" passed, \d+ errors in ", done.stdout), done.stdout
