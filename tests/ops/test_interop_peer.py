"""The interop peer's policy: run where Python 2.7 exists, skip with one line where it
does not, and fail under CI=true (tools/interop.py, used by pytest and scripts/test.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.interop import NO_INTERPRETER, ROOT, PeerState, decide, prepare

PYTHON2_NAMES = ("python2", "python2.7", "pyenv")


def without_python2(**extra: str) -> dict[str, str]:
    """This environment as a plain Debian 12 sees it: no Python 2.7 anywhere on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHON2", "PYENV_VERSION")}
    kept = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not any((Path(folder) / name).exists() for name in PYTHON2_NAMES)
    ]
    env["PATH"] = os.pathsep.join(kept)
    return {**env, **extra}


@pytest.mark.parametrize(
    ("returncode", "ci", "state"),
    [
        (0, "", PeerState.READY),
        (0, "true", PeerState.READY),
        (NO_INTERPRETER, "", PeerState.SKIP),
        (NO_INTERPRETER, "false", PeerState.SKIP),
        (NO_INTERPRETER, "true", PeerState.FAIL),
        (NO_INTERPRETER, "TRUE", PeerState.FAIL),
        (1, "", PeerState.FAIL),
        (1, "true", PeerState.FAIL),
    ],
)
def test_decision_table(returncode: int, ci: str, state: PeerState) -> None:
    peer = decide(returncode, "pip noise\n/opt/py2/bin/python2.7\n", "why", {"CI": ci})

    assert peer.state is state
    assert peer.python == ("/opt/py2/bin/python2.7" if state is PeerState.READY else None)


def test_no_python2_is_one_clear_skip() -> None:
    peer = prepare(without_python2())

    assert peer.state is PeerState.SKIP
    assert "\n" not in peer.message
    assert "no Python 2.7" in peer.message and "CI=true" in peer.message


def test_no_python2_under_ci_fails_naming_the_cause() -> None:
    peer = prepare(without_python2(CI="true"))

    assert peer.state is PeerState.FAIL
    assert "CI=true requires every interop peer" in peer.message
    assert "no Python 2.7 interpreter found" in peer.message


def test_python2_pointing_to_nothing_is_the_same_as_none() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    peer = prepare({**env, "PYTHON2": "/nonexistent/python2.7"})

    assert peer.state is PeerState.SKIP


def run_tool(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.interop"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_test_sh_step_passes_with_one_line_without_python2() -> None:
    done = run_tool(without_python2())

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith("interop tests skipped:")


def test_test_sh_step_fails_without_python2_under_ci() -> None:
    done = run_tool(without_python2(CI="true"))

    assert done.returncode == 1
    assert "no Python 2.7 interpreter found" in done.stderr


def run_interop_suite(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """tests/interop (thoonk.py's) beside one quick unit test file, as a whole-suite run
    would see them (test_interop_js_peer.py covers the thoonk.js files)."""
    command = [
        "tests/interop",
        "tests/unit/test_keys.py",
        "--ignore-glob=*/test_js_*",
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


def test_interop_suite_is_skipped_in_one_line_without_python2() -> None:
    done = run_interop_suite(without_python2())

    assert done.returncode == 0, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if "interop tests skipped" in line]
    assert len(said) == 1, done.stdout
    count, _, message = said[0].partition(" ")
    assert message == decide(NO_INTERPRETER, "", "", {}).message
    assert int(count) > 10
    assert f" passed, {count} deselected in " in done.stdout
    assert "error" not in done.stdout.lower()


def test_interop_suite_errors_without_python2_under_ci() -> None:
    done = run_interop_suite(without_python2(CI="true"))

    assert done.returncode == 1
    assert "CI=true requires every interop peer" in done.stdout
    assert re.search(r" passed, \d+ errors in ", done.stdout), done.stdout
